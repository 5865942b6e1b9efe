"""Event time in the classifier's state: epoch seconds (floats), UTC datetimes outside."""

from __future__ import annotations

from datetime import UTC, datetime


def ts(value: datetime) -> float:
    return value.timestamp()


def dt(value: float) -> datetime:
    return datetime.fromtimestamp(value, UTC)
