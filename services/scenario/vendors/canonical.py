"""Canonical events posted by the MSP's own systems (`/v1/webhooks/canonical`).

Three such systems exist in the simulated MSP:

- the vCIO tool posts recommendations (presented, then answered);
- the MSP's calendar posts meetings of clients whose PSA is not ConnectWise
  (booked, then held, missed, cancelled or moved, and by whom);
- a poller fetches what Autotask and HaloPSA do not push (time entries,
  service calls / appointments) every 15 minutes and posts them as NDJSON,
  keeping the PSA as `source` and the PSA's record ids in `refs`.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

from services.events.models import IdentityRole, MeetingStatus, Source
from services.scenario.model import (
    VISIT_ENTITY,
    Meeting,
    Person,
    Recommendation,
    TimeEntry,
    Visit,
)
from services.scenario.vendors.common import Emission, compact, iso_offset

POLL_MINUTES = 15


def _event(
    source: Source,
    action: str,
    occurred_at: datetime,
    client_id: str,
    client_ref: str,
    refs: list[tuple[Source, str, str]],
    payload: dict[str, Any],
) -> dict[str, Any]:
    return {
        "source": str(source),
        "action": action,
        "occurred_at": iso_offset(occurred_at),
        "client_id": client_id,
        "source_client_ref": client_ref,
        "refs": [{"source": str(s), "entity": e, "id": i} for s, e, i in refs],
        "payload": payload,
    }


def _own_system(
    client_id: str,
    refs: list[tuple[Source, str, str]],
    action: str,
    at: datetime,
    payload: dict[str, Any],
) -> Emission:
    """An event the MSP's own systems post: they name the client by its canonical id."""
    event = _event(Source.canonical, action, at, client_id, client_id, refs, payload)
    return Emission(at, Source.canonical, compact(event))


def _technician(person: Person, source: Source) -> dict[str, str]:
    return {"id": person.id_in(source), "role": str(IdentityRole.technician), "name": person.name}


def recommendation(record: Recommendation) -> list[Emission]:
    payload: dict[str, Any] = {
        "kind": "recommendation",
        "recommendation_id": record.id,
        "title": record.title,
        "category": record.category,
        "status": "open",
        "presented_at": iso_offset(record.presented_at),
        "due_at": iso_offset(record.due_at) if record.due_at else None,
    }
    refs = [(Source.canonical, "recommendation", record.id)]

    def post(action: str, at: datetime, body: dict[str, Any]) -> Emission:
        return _own_system(record.client.id, refs, action, at, body)

    out = [post("created", record.presented_at, payload)]
    if record.answer is not None and record.answered_at is not None:
        answered = payload | {
            "status": str(record.answer),
            "answered_at": iso_offset(record.answered_at),
        }
        out.append(post("updated", record.answered_at, answered))
    return out


def meeting(record: Meeting) -> list[Emission]:
    end = record.starts_at + timedelta(minutes=record.minutes)
    payload: dict[str, Any] = {
        "kind": "meeting",
        "meeting_id": record.id,
        "meeting_kind": str(record.kind),
        "title": record.title,
        "status": "scheduled",
        "starts_at": iso_offset(record.starts_at),
        "ends_at": iso_offset(end),
        "booked_at": iso_offset(record.booked_at),
        "organiser": _technician(record.organiser, Source.canonical),
        "location": "remote",
    }
    refs = [(Source.canonical, "meeting", record.id)]

    def post(action: str, at: datetime, body: dict[str, Any]) -> Emission:
        return _own_system(record.client.id, refs, action, at, body)

    out = [post("created", record.booked_at, payload)]
    for change in record.changes:
        payload = payload | {"status": str(change.status), "changed_at": iso_offset(change.at)}
        if change.status in (MeetingStatus.cancelled, MeetingStatus.rescheduled):
            side = IdentityRole.client_contact if change.by_client else IdentityRole.technician
            payload["cancelled_by"] = str(side)
        else:
            payload.pop("cancelled_by", None)
        if change.new_start is not None:
            new_end = change.new_start + timedelta(minutes=record.minutes)
            payload |= {"starts_at": iso_offset(change.new_start), "ends_at": iso_offset(new_end)}
        out.append(post("updated", change.at, payload))
    return out


def polled_time_entry(entry: TimeEntry) -> tuple[datetime, str, dict[str, Any]]:
    """(poll time, client, event) of a time entry read from Autotask or HaloPSA."""
    source = entry.source
    refs = [(source, "time_entry", str(entry.id))]
    ticket_id = None
    if entry.ticket is not None:
        ticket_id = str(entry.ticket.id)
        refs.append((source, "ticket", ticket_id))
    payload = {
        "kind": "time_entry",
        "entry_id": str(entry.id),
        "technician": _technician(entry.technician, source),
        "charge_to": "ticket" if ticket_id else "charge_code",
        "ticket_id": ticket_id,
        "work_type": entry.work_type,
        "nature": str(entry.nature),
        "started_at": iso_offset(entry.started_at),
        "ended_at": iso_offset(entry.started_at + timedelta(hours=entry.hours)),
        "hours": round(entry.hours, 2),
        "location": str(entry.location),
        "notes": entry.notes,
    }
    event = _event(
        source,
        "created",
        entry.entered_at,
        entry.client.id,
        str(entry.client.psa_company_id),
        refs,
        payload,
    )
    return _poll_time(entry.entered_at), entry.client.id, event


def polled_visit(record: Visit) -> list[tuple[datetime, str, dict[str, Any]]]:
    source = record.source
    entity = VISIT_ENTITY[source]
    refs = [(source, entity, str(record.id))]
    ticket_id = None
    if record.ticket is not None:
        ticket_id = str(record.ticket.id)
        refs.append((source, "ticket", ticket_id))
    payload = {
        "kind": "visit",
        "visit_id": str(record.id),
        "technician": _technician(record.technician, source),
        "location": str(record.location),
        "ticket_id": ticket_id,
        "nature": str(record.ticket.nature) if record.ticket else "unknown",
        "starts_at": iso_offset(record.starts_at),
        "ends_at": iso_offset(record.ends_at),
        "booked_at": iso_offset(record.booked_at),
        "status": "Scheduled",
        "done": False,
    }
    client, ref = record.client.id, str(record.client.psa_company_id)
    done_at = record.ends_at + timedelta(minutes=15)
    done = payload | {"status": "Complete", "done": True}
    return [
        (
            _poll_time(record.booked_at),
            client,
            _event(source, "created", record.booked_at, client, ref, refs, payload),
        ),
        (
            _poll_time(done_at),
            client,
            _event(source, "updated", done_at, client, ref, refs, done),
        ),
    ]


def _poll_time(at: datetime) -> datetime:
    """The poller runs every POLL_MINUTES: a record is posted at the next run."""
    at = at.astimezone(UTC)
    minutes = (at.minute // POLL_MINUTES + 1) * POLL_MINUTES
    return at.replace(minute=0, second=0, microsecond=0) + timedelta(minutes=minutes)


def poller_batches(
    polled: list[tuple[datetime, str, dict[str, Any]]], end: datetime
) -> list[Emission]:
    """One NDJSON delivery per poll run and client, events in their time order."""
    runs: dict[tuple[datetime, str], list[dict[str, Any]]] = defaultdict(list)
    for at, client, event in sorted(polled, key=lambda p: (p[0], p[2]["occurred_at"])):
        if datetime.fromisoformat(event["occurred_at"]) <= end:
            runs[(at, client)].append(event)
    return [
        Emission(at, Source.canonical, "".join(compact(e) + "\n" for e in events))
        for (at, _), events in sorted(runs.items())
    ]
