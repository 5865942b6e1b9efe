"""The rules of the HaloPSA appointment sweep (services/poll/poller.py), on a fake API:
an appointment is posted deleted only when it vanished from the listing of its window,
was not read as changed, and the API answers 404 for it; one that merely left the
window as time passed, or that a listing skipped, is not. The same through real HTTP:
tests/integration/test_poll_halo_deleted.py."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from services.events.models import Source
from services.events.tenant import Tenant
from services.events.tenant_polling import HaloPolling
from services.poll.adapters.ingest import IngestUnavailable, Posted
from services.poll.adapters.store import PollStore
from services.poll.adapters.vendor import ApiError
from services.poll.bootstrap import _sweep
from services.poll.domain.deliveries import Outgoing
from services.poll.domain.requests import Request
from services.poll.domain.specs import spec_for
from services.poll.domain.window import iso_z, parse_stamp
from services.poll.metrics import PollMetrics
from services.poll.outgoing import Resolver
from services.poll.poller import CollectionPoller

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
APPOINTMENTS = spec_for(Source.halopsa, "Appointment")


def appointment(rid: int, starts: datetime, updated: datetime = NOW) -> dict[str, Any]:
    return {
        "id": rid,
        "client_id": 12,
        "agent_id": 5,
        "subject": "QBR",
        "appointment_type_name": "QBR",
        "start_date": iso_z(starts),
        "end_date": iso_z(starts + timedelta(hours=1)),
        "datecreated": iso_z(NOW - timedelta(days=1)),
        "last_update": iso_z(updated),
    }


class FakeHalo:
    """`GET /api/Appointment` by `lastupdatefromdate` or `start_date`, and by id."""

    def __init__(self) -> None:
        self.records: dict[str, dict[str, Any]] = {}
        self.skipped: set[str] = set()  # left out of the next start-time listing (paging)
        self.clock = NOW
        self.server_offset = 0.0
        self.calls: list[Request] = []

    def now(self) -> datetime:
        return self.clock

    def call(self, request: Request, what: str, *, missing_ok: bool = False) -> Any:
        self.calls.append(request)
        rid = request.path.removeprefix("api/Appointment").strip("/")
        if rid:
            if rid in self.records:
                return self.records[rid]
            if missing_ok:
                return None
            raise ApiError(Source.halopsa, what, "HTTP 404")
        params = request.params
        if "start_date" in params:
            starts_from = parse_stamp(params["start_date"])
            assert starts_from is not None
            rows = [
                r
                for rid, r in self.records.items()
                if _at(r, "start_date") >= starts_from and rid not in self.skipped
            ]
            self.skipped = set()
        else:
            since = parse_stamp(params["lastupdatefromdate"])
            assert since is not None
            rows = [r for r in self.records.values() if _at(r, "last_update") >= since]
        return {"record_count": len(rows), "appointments": rows}


def _at(record: dict[str, Any], name: str) -> datetime:
    stamp = parse_stamp(record[name])
    assert stamp is not None
    return stamp


class Recorder:
    def __init__(self) -> None:
        self.posted: list[dict[str, Any]] = []
        self.fail_next = False  # the next post reaches ingest, and the answer is lost

    def post(self, out: Outgoing) -> Posted:
        self.posted.append(json.loads(out.body))
        if self.fail_next:
            self.fail_next = False
            raise IngestUnavailable("ingest: connection reset")
        return Posted.new

    def deleted(self) -> list[tuple[str, str]]:
        return [
            (p["refs"][0]["id"], p["payload"]["status"])
            for p in self.posted
            if p["payload"].get("status") == "cancelled"
        ]


def poller(
    tenant: Tenant, api: FakeHalo, poster: Recorder, tmp_path: Path, days: float = 14
) -> CollectionPoller:
    store = PollStore(tmp_path / "state.sqlite3")
    return CollectionPoller(
        tenant,
        APPOINTMENTS,
        client=api,  # type: ignore[arg-type]
        poster=poster,  # type: ignore[arg-type]
        store=store,
        resolver=Resolver(tenant, store, api),  # type: ignore[arg-type]
        metrics=PollMetrics(),
        overlap=timedelta(minutes=10),
        backfill=timedelta(days=7),
        sweep=timedelta(days=days),
    )


def test_an_appointment_gone_from_the_api_is_posted_cancelled_once(
    tenant: Tenant, tmp_path: Path
) -> None:
    api, poster = FakeHalo(), Recorder()
    api.records = {"1": appointment(1, NOW + timedelta(days=3))}
    run = poller(tenant, api, poster, tmp_path)
    run.run_once()
    assert poster.deleted() == []  # the first run is the baseline
    del api.records["1"]
    api.clock = NOW + timedelta(hours=1)
    run.run_once()
    api.clock = NOW + timedelta(hours=2)
    run.run_once()
    assert poster.deleted() == [("1", "cancelled")]
    gone = poster.posted[-1]
    assert gone["occurred_at"].startswith("2026-03-02T13:00")  # the run that saw it gone


def test_a_deletion_posted_again_after_a_failed_run_is_the_same_event(
    tenant: Tenant, tmp_path: Path
) -> None:
    """The answer to the deletion's post is lost and the run fails: the next run posts it
    again with the same event id (and time), so ingest takes it once."""
    api, poster = FakeHalo(), Recorder()
    api.records = {"1": appointment(1, NOW + timedelta(days=3))}
    run = poller(tenant, api, poster, tmp_path)
    run.run_once()
    del api.records["1"]
    api.clock = NOW + timedelta(hours=1)
    poster.fail_next = True
    with pytest.raises(IngestUnavailable):
        run.run_once()
    api.clock = NOW + timedelta(hours=2)
    run.run_once()
    api.clock = NOW + timedelta(hours=3)
    run.run_once()
    first, again = poster.posted[-2:]
    assert poster.deleted() == [("1", "cancelled"), ("1", "cancelled")]
    assert first["event_id"] == again["event_id"]
    assert again["occurred_at"].startswith("2026-03-02T13:00")  # the run that found it gone


def test_an_appointment_a_listing_skipped_but_the_api_still_has_is_kept(
    tenant: Tenant, tmp_path: Path
) -> None:
    """A deletion during a listing shifts its pages, and a record may fall between two:
    asked for by id, it is there, so it is still watched, and deleted later it is news."""
    api, poster = FakeHalo(), Recorder()
    day_before = NOW - timedelta(days=1)  # not changed since: the next runs do not read them
    api.records = {str(i): appointment(i, NOW + timedelta(days=i), day_before) for i in (1, 2)}
    run = poller(tenant, api, poster, tmp_path)
    run.run_once()
    api.skipped = {"2"}
    api.clock = NOW + timedelta(hours=1)
    run.run_once()
    assert poster.deleted() == []
    assert Request("GET", "api/Appointment/2") in api.calls
    del api.records["2"]
    api.clock = NOW + timedelta(hours=2)
    run.run_once()
    assert poster.deleted() == [("2", "cancelled")]


def test_an_appointment_left_behind_by_the_window_or_moved_out_of_it_is_not_deleted(
    tenant: Tenant, tmp_path: Path
) -> None:
    api, poster = FakeHalo(), Recorder()
    api.records = {
        "1": appointment(1, NOW + timedelta(hours=2)),  # the window passes it by
        "2": appointment(2, NOW + timedelta(days=2)),  # moved a month back
    }
    run = poller(tenant, api, poster, tmp_path, days=7)
    run.run_once()
    api.clock = NOW + timedelta(days=8)
    api.records["2"] = appointment(2, NOW - timedelta(days=30), updated=api.clock)
    run.run_once()
    assert poster.deleted() == []
    assert not any(r.path.startswith("api/Appointment/") for r in api.calls)  # nothing to ask


def test_the_sweep_is_halos_appointments_and_can_be_turned_off() -> None:
    config = HaloPolling(base_url="https://x", client_id="c", client_secret="s")
    assert _sweep(config, APPOINTMENTS) == timedelta(days=14)
    assert _sweep(config, spec_for(Source.halopsa, "Actions")) is None
    off = config.model_copy(update={"deleted_appointments_days": 0})
    assert _sweep(off, APPOINTMENTS) is None
