"""What every vendor writer shares: the emission, time formats, the writer's settings."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from services.events.models import Priority, Source


@dataclass(frozen=True)
class Emission:
    """One webhook body a vendor sends, at the vendor-side time of the event it reports."""

    at: datetime
    source: Source
    body: str


@dataclass(frozen=True)
class WriterSettings:
    tenant_id: str
    key_url: str  # ConnectWise Metadata.key_url (served on loopback by the evaluator)
    autotask_webhook_guid: str
    end: datetime  # nothing after the end of the scenario is sent


def iso_z(at: datetime) -> str:
    """2026-03-02T14:05:09Z (ConnectWise, Autotask)."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_ms_z(at: datetime) -> str:
    """2026-03-02T14:05:09.187Z (Autotask createDate)."""
    at = at.astimezone(UTC)
    return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"


def iso_naive(at: datetime) -> str:
    """2026-03-02T14:05:09 (HaloPSA writes UTC without a zone)."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


def iso_offset(at: datetime) -> str:
    """2026-03-02T14:05:09+00:00 (canonical events)."""
    return at.astimezone(UTC).replace(microsecond=0).isoformat()


def compact(document: Any) -> str:
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False)


def hours_between(start: datetime, end: datetime) -> float:
    return round((end - start).total_seconds() / 3600, 2)


PRIORITY_WORDS = {
    Priority.critical: "Critical",
    Priority.high: "High",
    Priority.medium: "Medium",
    Priority.low: "Low",
}


def body_rng(*parts: object) -> random.Random:
    """A generator for cosmetic body details (message ids) that depends only on the record."""
    return random.Random("\x1f".join(str(p) for p in parts))
