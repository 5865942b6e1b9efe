"""The watermark's overlap reads a run's last records again: a version ingest already
took is not posted again (the same body is the same event); an edit is a new version
and is posted."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from services.events.models import Source
from services.events.tenant import Tenant
from services.poll.adapters.ingest import Posted
from services.poll.adapters.store import PollStore
from services.poll.domain.deliveries import Outgoing
from services.poll.domain.requests import Request
from services.poll.domain.specs import spec_for
from services.poll.metrics import PollMetrics
from services.poll.outgoing import Resolver
from services.poll.poller import CollectionPoller

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
TICKETS = spec_for(Source.connectwise, "service/tickets")


def ticket(rid: int, updated: datetime, summary: str = "Printer down") -> dict[str, Any]:
    stamp = updated.strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"id": rid, "summary": summary, "_info": {"lastUpdated": stamp}}


class FakeConnectWise:
    """`conditions=lastUpdated>=[...]`, one page: every ticket updated since."""

    def __init__(self) -> None:
        self.tickets: dict[int, dict[str, Any]] = {}
        self.clock = NOW

    def now(self) -> datetime:
        return self.clock

    server_offset = 0.0

    def call(self, request: Request, what: str) -> Any:
        since = request.params["conditions"].split("[")[1].rstrip("]")
        cut = datetime.fromisoformat(since.replace("Z", "+00:00"))
        return [
            t
            for t in self.tickets.values()
            if datetime.fromisoformat(t["_info"]["lastUpdated"].replace("Z", "+00:00")) >= cut
        ]


class Ingest:
    def __init__(self) -> None:
        self.bodies: list[bytes] = []

    def post(self, out: Outgoing) -> Posted:
        new = out.body not in self.bodies
        self.bodies.append(out.body)
        return Posted.new if new else Posted.duplicate


def test_a_version_read_again_in_the_overlap_is_posted_once(tenant: Tenant, tmp_path: Path) -> None:
    api, ingest = FakeConnectWise(), Ingest()
    store = PollStore(tmp_path / "state.sqlite3")
    run = CollectionPoller(
        tenant,
        TICKETS,
        client=api,  # type: ignore[arg-type]
        poster=ingest,  # type: ignore[arg-type]
        store=store,
        resolver=Resolver(tenant, store, api, key_url="http://k", connectwise_company="msp"),  # type: ignore[arg-type]
        metrics=PollMetrics(),
        overlap=timedelta(minutes=10),
        backfill=timedelta(days=1),
    )
    api.tickets[1] = ticket(1, NOW - timedelta(minutes=2))  # inside the next run's overlap
    first = run.run_once()
    assert (first.posted, first.repeated) == (1, 0)

    api.clock = NOW + timedelta(minutes=5)
    again = run.run_once()  # reads from NOW - 10 min: ticket 1 again, unchanged
    assert (again.posted, again.repeated) == (0, 1)

    api.tickets[1] = ticket(1, NOW + timedelta(minutes=6), "Printer down, 2nd floor")
    api.clock = NOW + timedelta(minutes=8)
    edited = run.run_once()
    assert (edited.posted, edited.repeated) == (1, 0)  # a new version is a new event
    summaries = [json.loads(json.loads(b)["Entity"])["summary"] for b in ingest.bodies]
    assert summaries == ["Printer down", "Printer down, 2nd floor"]
