"""A Datto RMM alert raised and resolved between two polls, both of its webhooks lost:
the real poller learns both from the stand-in's open and resolved lists (real HTTP),
through real ingest and the embedded broker, once each, at the alert's own times."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from services.events.tenant import Tenant
from services.vendorapi.records import ApiRecords, ReplayClock
from services.vendorapi.server import RunningStandIns
from tests.support.polling import DATTO_SITE, T0, line

from .conftest import RunningIngest
from .test_poll import EXPECTED_REFS, make_poller, topic_events
from .test_vendorapi import client

pytestmark = pytest.mark.integration

RAISED = T0 + timedelta(hours=2)
RESOLVED = T0 + timedelta(hours=2, minutes=45)


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


def datto_alert(uid: str, site: str, device: str) -> dict[str, Any]:
    return {
        "alertUid": uid,
        "resolved": False,
        "timestamp": int(T0.timestamp() * 1000),
        "alertSourceInfo": {"deviceUid": device, "siteUid": site},
    }


def test_datto_moves_a_resolved_alert_from_the_open_list_to_the_resolved_one(
    running: list[RunningStandIns],
) -> None:
    """Datto lists open and resolved alerts apart (account, site and device variants),
    `max` rows a page from page 0; a resolution in api.jsonl (the open alert removed)
    is in the resolved list from then on, with `resolvedOn` in epoch ms."""
    lines = [
        line(T0, "dattormm", "alerts", f"a-{i}", datto_alert(f"a-{i}", "s-1", "d-1"))
        for i in range(3)
    ]
    lines.append(line(T0, "dattormm", "alerts", "b-1", datto_alert("b-1", "s-2", "d-2")))
    gone = T0 + timedelta(minutes=40)
    lines += [line(gone, "dattormm", "alerts", f"a-{i}", None, deleted=True) for i in range(3)]
    clock = ReplayClock(T0 + timedelta(minutes=10), speed=0)
    test, _ = client(running, ApiRecords(lines), clock)
    token = test.post(
        "/dattormm/auth/oauth/token",
        data={"grant_type": "password", "username": "datto-key", "password": "datto-secret"},
        auth=("public-client", "public"),
    ).json()["access_token"]
    bearer = {"Authorization": f"Bearer {token}"}

    def uids(path: str, **params: Any) -> list[str]:
        answer = test.get(f"/dattormm/api/v2{path}", params=params, headers=bearer)
        assert answer.status_code == 200, answer.text
        return [a["alertUid"] for a in answer.json()["alerts"]]

    assert uids("/account/alerts/open") == ["a-0", "a-1", "a-2", "b-1"]
    assert uids("/account/alerts/resolved") == []
    clock.set(T0 + timedelta(hours=1))
    assert uids("/account/alerts/open") == ["b-1"]
    assert uids("/site/s-2/alerts/open") == ["b-1"]
    assert uids("/device/d-1/alerts/resolved") == ["a-0", "a-1", "a-2"]
    first = test.get(
        "/dattormm/api/v2/account/alerts/resolved", params={"max": 2, "page": 0}, headers=bearer
    ).json()
    assert [a["alertUid"] for a in first["alerts"]] == ["a-0", "a-1"]
    assert first["alerts"][0]["resolved"] is True
    assert first["alerts"][0]["resolvedOn"] == int(gone.timestamp() * 1000)
    rest = test.get(first["pageDetails"]["nextPageUrl"], headers=bearer).json()
    assert [a["alertUid"] for a in rest["alerts"]] == ["a-2"]
    assert rest["pageDetails"]["nextPageUrl"] is None
    assert test.get("/dattormm/api/v2/account/alerts/closed", headers=bearer).status_code == 404
    assert test.get("/dattormm/api/v2/account/alerts/resolved").status_code == 401
