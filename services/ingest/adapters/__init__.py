"""Vendor adapters: one module per source, each exporting `ADAPTER`."""

from __future__ import annotations

from services.events.models import Source
from services.ingest.adapters.base import VendorAdapter

ADAPTERS: dict[Source, VendorAdapter] = {}
