"""HaloPSA's API keeps no trace of a deleted appointment: it is gone from every list, and
asked for by id it is not found. The real poller lists the appointments starting in its
window each run (real HTTP to the stand-in), and posts one that vanished as deleted:
a review meeting cancelled, an onsite visit removed. One moved out of the window or
merely changed is not taken for deleted; nothing is posted twice."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from services.events.tenant import Tenant
from services.vendorapi.records import ReplayClock
from services.vendorapi.server import RunningStandIns
from tests.support.polling import T0, iso, line

from .conftest import RunningIngest
from .test_poll import EXPECTED_REFS, make_poller, topic_events

pytestmark = pytest.mark.integration


def appointment(rid: int, starts_in_days: float, **fields: Any) -> dict[str, Any]:
    starts = T0 + timedelta(days=starts_in_days)
    return {
        "id": rid,
        "client_id": 12,
        "agent_id": 5,
        "start_date": iso(starts),
        "end_date": iso(starts + timedelta(hours=1)),
        "datecreated": iso(T0),
        "last_update": iso(T0),
        **fields,
    }


def test_a_deleted_halo_appointment_is_posted_deleted_once(
    broker: Any,
    ingest_factory: Any,
    tenant: Tenant,
    standins: RunningStandIns,
    clock: ReplayClock,
    tmp_path: Path,
) -> None:
    api = standins.state.records
    review = appointment(71, 3, subject="QBR with Acme", appointment_type_name="QBR")
    onsite = appointment(72, 2, subject="Replace the switch", is_onsite=True)
    moved = appointment(73, 4, subject="Patch night", is_onsite=True)
    for body in (review, onsite, moved):
        api.add(line(T0, "halopsa", "Appointment", body["id"], body))
    ingest: RunningIngest = ingest_factory(broker.bootstrap)
    poller, _ = make_poller(tenant, standins, ingest, tmp_path / "poll", [])
    try:
        poller.run_cycle()  # the first run: the window's baseline, nothing deleted
        before = sum(EXPECTED_REFS.values()) + 3
        assert len(topic_events(broker.bootstrap, before)) == before

        # Between two runs: the review and the visit deleted; the third moved to a month
        # ago, out of the window (read as changed, not missed).
        gone_at = T0 + timedelta(hours=1, minutes=30)
        api.add(line(gone_at, "halopsa", "Appointment", 71, None, deleted=True))
        api.add(line(gone_at, "halopsa", "Appointment", 72, None, deleted=True))
        moved_back = appointment(73, -30, subject="Patch night", is_onsite=True)
        moved_back["last_update"] = iso(gone_at)
        api.add(line(gone_at, "halopsa", "Appointment", 73, moved_back))
        clock.set(T0 + timedelta(hours=2))
        poller.run_cycle()
        clock.set(T0 + timedelta(hours=3))
        poller.run_cycle()  # and again: nothing twice

        events = topic_events(broker.bootstrap, before + 3)
        assert len(events) == before + 3
        news = events[before:]
        by_ref = Counter(e["refs"][0]["id"] for e in news)
        assert by_ref == Counter({"71": 1, "72": 1, "73": 1})
        review_event = next(e for e in news if e["refs"][0]["id"] == "71")
        assert review_event["payload"]["kind"] == "meeting"
        assert review_event["payload"]["status"] == "cancelled"
        onsite_event = next(e for e in news if e["refs"][0]["id"] == "72")
        assert (onsite_event["payload"]["kind"], onsite_event["action"]) == ("visit", "deleted")
        assert onsite_event["occurred_at"].startswith(iso(T0 + timedelta(hours=2))[:13])
        moved_event = next(e for e in news if e["refs"][0]["id"] == "73")
        assert moved_event["action"] != "deleted"
        assert moved_event["payload"]["starts_at"].startswith(moved_back["start_date"][:10])
    finally:
        poller.stop()
