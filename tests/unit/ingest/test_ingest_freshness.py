"""Freshness (replay) and future-time checks over every vendor's own time stamp."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from services.events.models import Source
from services.events.tenant import Freshness, Tenant
from services.ingest import freshness
from services.ingest.adapters import ADAPTERS
from services.ingest.adapters.base import Delivery

PRIMARY = {
    Source.connectwise: "ticket_added.json",
    Source.autotask: "ticket_create.json",
    Source.halopsa: "new_ticket_logged.json",
    Source.ninjaone: "condition_triggered.json",
    Source.dattormm: "alert_raised.json",
    Source.tacticalrmm: "check_failure.json",
    Source.canonical: "batch.ndjson",
}
DEFAULTS = Freshness()  # 168 hours back, 6 hours ahead


def judged(tenant: Tenant, payloads: Path, source: Source, received_at: datetime) -> str | None:
    body = (payloads / source.value / PRIMARY[source]).read_bytes()
    delivery = Delivery(source=source, body=body, headers={}, received_at=received_at)
    normalised = ADAPTERS[source].normalise(delivery, tenant)
    sent_at = freshness.sent_time(source, normalised.sent_at, normalised.events)
    refusal = freshness.check(DEFAULTS, source, received_at, sent_at, normalised.events)
    return None if refusal is None else refusal.reason


def vendor_time(tenant: Tenant, payloads: Path, source: Source) -> datetime:
    """The time each vendor's fixture carries, as its adapter reads it."""
    body = (payloads / source.value / PRIMARY[source]).read_bytes()
    delivery = Delivery(source=source, body=body, headers={}, received_at=datetime.now(UTC))
    normalised = ADAPTERS[source].normalise(delivery, tenant)
    sent = freshness.sent_time(source, normalised.sent_at, normalised.events)
    return sent or max(e.occurred_at for e in normalised.events)


def test_the_defaults_are_seven_days_back_and_six_hours_ahead() -> None:
    assert DEFAULTS.max_event_age_hours == 168
    assert DEFAULTS.max_event_ahead_hours == 6


@pytest.mark.parametrize("source", [s for s in Source if s is not Source.canonical])
def test_a_vendor_delivery_older_than_the_tolerance_is_refused_as_stale(
    tenant: Tenant, payloads: Path, source: Source
) -> None:
    sent = vendor_time(tenant, payloads, source)
    assert judged(tenant, payloads, source, sent + timedelta(hours=1)) is None
    assert judged(tenant, payloads, source, sent + timedelta(days=6, hours=23)) is None
    assert judged(tenant, payloads, source, sent + timedelta(days=7, hours=1)) == freshness.STALE


def test_canonical_events_are_not_judged_on_age(tenant: Tenant, payloads: Path) -> None:
    """Their Standard Webhooks timestamp (5 minutes) already is; backfills stay possible."""
    sent = vendor_time(tenant, payloads, Source.canonical)
    assert judged(tenant, payloads, Source.canonical, sent + timedelta(days=400)) is None


@pytest.mark.parametrize("source", list(Source))
def test_an_event_more_than_six_hours_ahead_of_its_receive_time_is_refused(
    tenant: Tenant, payloads: Path, source: Source
) -> None:
    sent = vendor_time(tenant, payloads, source)
    assert judged(tenant, payloads, source, sent - timedelta(hours=5)) is None
    assert judged(tenant, payloads, source, sent - timedelta(hours=7)) == freshness.FUTURE


def test_null_tolerances_turn_the_checks_off() -> None:
    off = Freshness(max_event_age_hours=None, max_event_ahead_hours=None)
    now = datetime.now(UTC)
    assert freshness.check(off, Source.autotask, now, now - timedelta(days=900), []) is None
    assert freshness.check(off, Source.autotask, now, now + timedelta(days=900), []) is None
