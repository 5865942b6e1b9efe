"""A Datto RMM alert raised and resolved between two polls, both of its webhooks lost:
the real poller learns both from the stand-in's open and resolved lists (real HTTP),
through real ingest and the embedded broker, once each, at the alert's own times."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from services.events.tenant import Tenant
from services.vendorapi.records import ApiRecords, ReplayClock
from services.vendorapi.server import RunningStandIns, start_standins
from tests.support.polling import DATTO_SITE, T0, line, records

from .conftest import RunningIngest
from .test_poll import EXPECTED_REFS, make_poller, topic_events

pytestmark = pytest.mark.integration

RAISED = T0 + timedelta(hours=2)
RESOLVED = T0 + timedelta(hours=2, minutes=45)


@pytest.fixture
def clock() -> ReplayClock:
    return ReplayClock(T0 + timedelta(hours=1), speed=0)


@pytest.fixture
def standins(clock: ReplayClock) -> Iterator[RunningStandIns]:
    running = start_standins(ApiRecords(records()), clock, None)
    yield running
    running.stop()


def test_a_resolution_whose_webhook_was_lost_is_learnt_from_the_resolved_list(
    broker: Any,
    ingest_factory: Any,
    tenant: Tenant,
    standins: RunningStandIns,
    clock: ReplayClock,
    tmp_path: Path,
) -> None:
    ingest: RunningIngest = ingest_factory(broker.bootstrap)
    poller, _ = make_poller(tenant, standins, ingest, tmp_path / "poll", [])
    try:
        poller.run_cycle()
        before = sum(EXPECTED_REFS.values())  # the first cycle's events
        assert len(topic_events(broker.bootstrap, before)) == before

        alert = {
            "alertUid": "lost-1",
            "priority": "High",
            "diagnostics": "SRV1: Service Print Spooler is stopped",
            "resolved": False,
            "timestamp": int(RAISED.timestamp() * 1000),
            "alertContext": {"@class": "Service Monitor", "category": "Service"},
            "alertSourceInfo": {"deviceUid": "d-1", "deviceName": "SRV1", "siteUid": DATTO_SITE},
        }
        records_ = standins.state.records
        records_.add(line(RAISED, "dattormm", "alerts", "lost-1", alert))
        records_.add(line(RESOLVED, "dattormm", "alerts", "lost-1", None, deleted=True))
        clock.set(T0 + timedelta(hours=4))  # the next poll: the alert is no longer open
        poller.run_cycle()
        clock.set(T0 + timedelta(hours=5))
        poller.run_cycle()  # and again: nothing twice

        events = topic_events(broker.bootstrap, before + 2)
        assert len({e["event_id"] for e in events}) == len(events)
        lost = [e for e in events[before:] if e["source"] == "dattormm"]
        assert [(e["action"], e["occurred_at"][:19]) for e in lost] == [
            ("triggered", RAISED.isoformat()[:19]),
            ("resolved", RESOLVED.isoformat()[:19]),  # its own time, not the poll's
        ]
    finally:
        poller.stop()
