"""The alerts service's loops (consumer, sender, reviews) are platform workers."""

from __future__ import annotations

from services.platform.loops import Worker

__all__ = ["Worker"]
