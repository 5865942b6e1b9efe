"""Datto RMM lists open alerts and, separately, resolved ones
(`GET /api/v2/account/alerts/resolved`, `resolved`/`resolvedOn`): the poller reads both,
so a resolution whose webhook was lost is learnt at the time it happened, even for an
alert raised and resolved between two runs, and is posted once."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from services.events.models import Source
from services.events.tenant import Tenant
from services.poll.adapters.ingest import Posted
from services.poll.adapters.store import PollStore
from services.poll.domain.deliveries import Outgoing
from services.poll.domain.requests import Request, read_page, snapshot_requests
from services.poll.domain.specs import spec_for
from services.poll.metrics import PollMetrics
from services.poll.poller import CollectionPoller
from services.vendorapi.records import ApiRecords

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
ALERTS = spec_for(Source.dattormm, "alerts")


def ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def alert(uid: str, raised: datetime, resolved: datetime | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "alertUid": uid,
        "priority": "High",
        "diagnostics": "Disk C: below 10%",
        "resolved": resolved is not None,
        "timestamp": ms(raised),
        "alertContext": {"@class": "Disk Usage Monitor", "category": "Disk"},
        "alertSourceInfo": {"deviceUid": "d-1", "deviceName": "WS1", "siteUid": "s-1"},
    }
    if resolved is not None:
        body["resolvedOn"] = ms(resolved)
    return body


class FakeDatto:
    """The two Datto alert lists, `max` rows a page from page 0 with nextPageUrl."""

    def __init__(self) -> None:
        self.open: list[dict[str, Any]] = []
        self.resolved: list[dict[str, Any]] = []
        self.calls: list[Request] = []
        self.clock = NOW

    def now(self) -> datetime:
        return self.clock

    def call(self, request: Request, what: str) -> Any:
        self.calls.append(request)
        url = urlsplit(request.path)
        params = {k: v[0] for k, v in parse_qs(url.query).items()} | request.params
        rows = self.open if url.path.endswith("/open") else self.resolved
        size, page = int(params["max"]), int(params["page"])
        more = (page + 1) * size < len(rows)
        next_url = f"https://x/api/v2/account{url.path[url.path.index('/alerts') :]}"
        return {
            "pageDetails": {
                "nextPageUrl": f"{next_url}?max={size}&page={page + 1}" if more else None
            },
            "alerts": rows[page * size : (page + 1) * size],
        }


class Recorder:
    def __init__(self) -> None:
        self.posted: list[dict[str, Any]] = []
        self.seen: set[tuple[str, str]] = set()

    def post(self, out: Outgoing) -> Posted:
        body = json.loads(out.body)
        self.posted.append(body)
        key = (body["alert_uid"], body["status"])  # Datto's event identity
        if key in self.seen:
            return Posted.duplicate
        self.seen.add(key)
        return Posted.new


def poller(
    tenant: Tenant, api: FakeDatto, poster: Recorder, tmp_path: Path, page_size: int = 250
) -> CollectionPoller:
    return CollectionPoller(
        tenant,
        ALERTS,
        client=api,  # type: ignore[arg-type]
        poster=poster,  # type: ignore[arg-type]
        store=PollStore(tmp_path / "state.sqlite3"),
        resolver=None,  # type: ignore[arg-type]  # snapshots resolve nothing
        metrics=PollMetrics(),
        overlap=timedelta(minutes=10),
        backfill=timedelta(days=7),
        page_size=page_size,
    )


def test_datto_alerts_are_read_from_the_open_then_the_resolved_list() -> None:
    first, second = snapshot_requests(ALERTS, None)
    assert (first.path, first.params) == ("api/v2/account/alerts/open", {"max": "250", "page": "0"})
    assert (second.path, second.params) == (
        "api/v2/account/alerts/resolved",
        {"max": "250", "page": "0"},
    )
    page = read_page(
        ALERTS,
        second,
        {"pageDetails": {"nextPageUrl": "https://x/resolved?page=1"}, "alerts": [alert("a", NOW)]},
    )
    assert page.next == Request("GET", "https://x/resolved?page=1")
    # Lists with no resolved twin stay one list.
    assert len(snapshot_requests(spec_for(Source.dattormm, "devices"), None)) == 1
    assert len(snapshot_requests(spec_for(Source.tacticalrmm, "alerts"), None)) == 1


def test_an_alert_raised_and_resolved_between_two_runs_is_both_at_their_own_times(
    tenant: Tenant, tmp_path: Path
) -> None:
    api, poster = FakeDatto(), Recorder()
    run = poller(tenant, api, poster, tmp_path)
    run.run_once()
    assert poster.posted == []

    raised, resolved = NOW + timedelta(minutes=5), NOW + timedelta(minutes=20)
    api.resolved = [alert("a-1", raised, resolved)]  # never seen open: both webhooks lost
    api.clock = NOW + timedelta(hours=1)
    run.run_once()
    assert [(b["alert_uid"], b["status"], b["timestamp"]) for b in poster.posted] == [
        ("a-1", "raised", "2026-03-02T12:05:00.000Z"),
        ("a-1", "resolved", "2026-03-02T12:20:00.000Z"),  # resolvedOn, not the poll's time
    ]
    run.run_once()  # still in the resolved list: nothing again
    assert len(poster.posted) == 2


def test_an_open_alert_later_in_the_resolved_list_is_resolved_at_resolved_on(
    tenant: Tenant, tmp_path: Path
) -> None:
    api, poster = FakeDatto(), Recorder()
    run = poller(tenant, api, poster, tmp_path)
    api.open = [alert("a-2", NOW - timedelta(minutes=30))]
    run.run_once()
    assert [b["status"] for b in poster.posted] == ["raised"]

    api.open, api.resolved = [], [alert("a-2", NOW - timedelta(minutes=30), NOW)]
    api.clock = NOW + timedelta(hours=3)
    run.run_once()
    assert [(b["status"], b["timestamp"]) for b in poster.posted[1:]] == [
        ("resolved", "2026-03-02T12:00:00.000Z")
    ]


def test_an_alert_in_both_lists_within_one_run_is_resolved_once(
    tenant: Tenant, tmp_path: Path
) -> None:
    """Resolved between the read of the open list and that of the resolved list."""
    api, poster = FakeDatto(), Recorder()
    run = poller(tenant, api, poster, tmp_path)
    run.run_once()
    api.open = [alert("a-3", NOW)]
    api.resolved = [alert("a-3", NOW, NOW + timedelta(seconds=30))]
    run.run_once()
    assert [b["status"] for b in poster.posted] == ["raised", "resolved"]


def test_every_page_of_the_resolved_list_is_read(tenant: Tenant, tmp_path: Path) -> None:
    api, poster = FakeDatto(), Recorder()
    run = poller(tenant, api, poster, tmp_path, page_size=2)
    run.run_once()
    api.resolved = [alert(f"r-{i}", NOW, NOW + timedelta(minutes=i)) for i in range(5)]
    api.calls.clear()
    run.run_once()
    pages = [(urlsplit(c.path).path, c.params.get("page") or c.path[-1]) for c in api.calls]
    assert pages == [
        ("api/v2/account/alerts/open", "0"),
        ("api/v2/account/alerts/resolved", "0"),
        ("/api/v2/account/alerts/resolved", "1"),
        ("/api/v2/account/alerts/resolved", "2"),
    ]
    assert sorted(b["alert_uid"] for b in poster.posted if b["status"] == "resolved") == [
        f"r-{i}" for i in range(5)
    ]


def test_alerts_resolved_before_the_backfill_window_are_history_not_news(
    tenant: Tenant, tmp_path: Path
) -> None:
    api, poster = FakeDatto(), Recorder()
    old = NOW - timedelta(days=30)
    api.resolved = [alert("old", old, old + timedelta(hours=1))]
    poller(tenant, api, poster, tmp_path).run_once()
    assert poster.posted == []


def test_the_stand_in_lists_an_alert_removed_from_api_jsonl_as_resolved_then() -> None:
    """A scenario writes a Datto resolution as the open alert's removal (`deleted`)."""
    records = ApiRecords(
        [
            {
                "at": "2026-03-02T10:00:00Z",
                "source": "dattormm",
                "entity": "alerts",
                "id": "a",
                "body": alert("a", NOW - timedelta(hours=2)),
            },
            {
                "at": "2026-03-02T11:00:00Z",
                "source": "dattormm",
                "entity": "alerts",
                "id": "a",
                "deleted": True,
            },
        ]
    )
    assert records.removed("dattormm", "alerts", NOW - timedelta(hours=1, minutes=30)) == []
    (gone,) = records.removed("dattormm", "alerts", NOW)
    assert (gone.id, gone.at) == ("a", NOW - timedelta(hours=1))
    assert gone.body["alertUid"] == "a"
    assert records.visible("dattormm", "alerts", NOW) == []
