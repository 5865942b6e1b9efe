"""Polled records that no webhook carries, as canonical events (source `canonical`).

Autotask time entries, service calls and appointments, HaloPSA actions (time) and
appointments, and devices found by an RMM inventory diff. The event keeps the vendor
as its `source` and the vendor's record ids in `refs` (as truth.json names work:
`autotask:time_entry:ID`, `autotask:service_call:ID`, `halopsa:appointment:ID`, ...).
Its `event_id` derives from the record and its version (last-modified stamp, else a
hash of its content) with `event_id_for`, so two overlapping polls of one version
post one event, and a new version is a new event.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from services.events.models import (
    Action,
    Location,
    MeetingKind,
    MeetingStatus,
    Source,
    event_id_for,
    unknown_client_id,
)
from services.events.tenant import Tenant
from services.events.tenant_purpose import client_named, map_phrase
from services.poll.domain.deliveries import Outgoing, is_creation
from services.poll.domain.specs import EntitySpec
from services.poll.domain.window import parse_stamp, record_id, record_time


@dataclass(frozen=True)
class Links:
    """What a record points at that another collection holds, found by the poller:
    the client's reference (company / client id), the ticket, the technician."""

    client_ref: str | None = None
    ticket_id: str | None = None
    technician_ref: str | None = None


def _text(value: Any) -> str | None:
    if value is None or (isinstance(value, int | float) and value == 0 and value is not False):
        return None
    result = str(value).strip()
    return result or None


def _iso(at: datetime | None) -> str | None:
    return at.astimezone(UTC).isoformat() if at else None


def version_of(spec: EntitySpec, record: Mapping[str, Any]) -> str:
    stamp = record_time(spec, record)
    if stamp is not None and spec.time_fields and record.get(spec.time_fields[0]) is not None:
        return stamp.isoformat()
    content = json.dumps(record, sort_keys=True, separators=(",", ":"), default=str)
    return "sha256:" + hashlib.sha256(content.encode()).hexdigest()


class _Builder:
    def __init__(self, tenant: Tenant, spec: EntitySpec, record: Mapping[str, Any]) -> None:
        self.tenant, self.spec, self.record = tenant, spec, record
        self.source = spec.source
        self.id = record_id(spec, record)

    def time(self, *names: str) -> datetime | None:
        for name in names:
            stamp = parse_stamp(self.record.get(name))
            if stamp is not None:
                return stamp
        return None

    def work_nature(self, work_type: str | None) -> str:
        """The nature of a time entry's work type (billing code, outcome) by the tenant's
        `work_type` picklist: what decides a time entry charged to no ticket."""
        return str(self.tenant.map(self.source, "work_type", work_type))

    def identity(self, ref: str | None) -> dict[str, Any] | None:
        found = self.tenant.identity(self.source, ref)
        return None if found is None else found.model_dump(mode="json", exclude_none=True)

    def event(
        self,
        *,
        entity: str,
        action: Action,
        occurred_at: datetime,
        client_ref: str | None,
        payload: dict[str, Any],
        ticket_id: str | None = None,
        identity_extra: str = "",
        version: str | None = None,
        client_id: str | None = None,
    ) -> Outgoing:
        refs = [{"source": str(self.source), "entity": entity, "id": self.id}]
        if ticket_id:
            refs.append({"source": str(self.source), "entity": "ticket", "id": ticket_id})
        version = version or version_of(self.spec, self.record)
        identity = f"{entity}:{self.id}:{action}:{version}{identity_extra}"
        client_id = client_id or self.tenant.client_for(self.source, client_ref)
        event = {
            "event_id": event_id_for(self.tenant.tenant, self.source, identity),
            "source": str(self.source),
            "action": str(action),
            "occurred_at": _iso(occurred_at),
            "client_id": client_id or unknown_client_id(self.source, client_ref),
            "source_client_ref": client_ref,
            "refs": refs,
            "payload": {k: v for k, v in payload.items() if v is not None},
        }
        body = json.dumps(event, separators=(",", ":")).encode()
        return Outgoing(Source.canonical, body, f"{self.source}:{entity}:{self.id}")

    def action(self, *created_fields: str) -> Action:
        created = self.time(*created_fields)
        return (
            Action.created
            if is_creation(created, record_time(self.spec, self.record))
            else (Action.updated)
        )


def autotask_time_entry(
    tenant: Tenant, spec: EntitySpec, r: Mapping[str, Any], links: Links
) -> Outgoing:
    b = _Builder(tenant, spec, r)
    ticket = _text(r.get("ticketID")) or links.ticket_id
    started = b.time("startDateTime", "dateWorked", "createDateTime") or datetime.now(UTC)
    charge_to = "ticket" if ticket else ("project" if _text(r.get("taskID")) else "charge_code")
    payload = {
        "kind": "time_entry",
        "entry_id": b.id,
        "technician": b.identity(_text(r.get("resourceID"))),
        "charge_to": charge_to,
        "ticket_id": ticket,
        "work_type": _text(r.get("billingCodeID")),
        "nature": b.work_nature(_text(r.get("billingCodeID"))),
        "started_at": _iso(started),
        "ended_at": _iso(b.time("endDateTime")),
        "hours": max(0.0, min(float(r.get("hoursWorked") or 0), 24 * 31)),
        "notes": _text(r.get("summaryNotes")),
    }
    return b.event(
        entity="time_entry",
        action=b.action("createDateTime"),
        occurred_at=b.time("createDateTime") or started,
        client_ref=links.client_ref,
        payload=payload,
        ticket_id=ticket,
    )


def autotask_service_call(
    tenant: Tenant, spec: EntitySpec, r: Mapping[str, Any], links: Links
) -> Outgoing:
    """A service call is an onsite visit; its ticket and technician come from
    ServiceCallTickets and ServiceCallTicketResources (`links`)."""
    b = _Builder(tenant, spec, r)
    starts = b.time("startDateTime") or b.time("createDateTime") or datetime.now(UTC)
    done = r.get("isComplete") in (True, 1, "1", "true", "True")
    payload = {
        "kind": "visit",
        "visit_id": b.id,
        "technician": b.identity(links.technician_ref),
        "location": "onsite",
        "ticket_id": links.ticket_id,
        "starts_at": _iso(starts),
        "ends_at": _iso(b.time("endDateTime")),
        "booked_at": _iso(b.time("createDateTime")),
        "status": _text(r.get("status")),
        "done": done,
    }
    return b.event(
        entity="service_call",
        action=b.action("createDateTime"),
        occurred_at=record_time(spec, r) or starts,
        client_ref=_text(r.get("companyID")) or links.client_ref,
        payload=payload,
        ticket_id=links.ticket_id,
        identity_extra=f":{links.ticket_id}:{links.technician_ref}",
    )


def autotask_appointment(
    tenant: Tenant, spec: EntitySpec, r: Mapping[str, Any], links: Links
) -> Outgoing:
    """An appointment is a meeting (Autotask: "scheduled time that is not a service
    call"). The entity has only a title, a description, times and resources: its kind and
    status are the tenant's `meeting_kind` / `meeting_status` keys its title holds ("QBR -
    Acme" is a review, "CANCELLED: QBR" cancelled), and, having no company, its client is
    the one whose name the title or description holds."""
    b = _Builder(tenant, spec, r)
    starts = b.time("startDateTime") or datetime.now(UTC)
    title = _text(r.get("title"))
    kind = map_phrase(tenant, b.source, "meeting_kind", title) or MeetingKind.meeting
    status = map_phrase(tenant, b.source, "meeting_status", title) or MeetingStatus.scheduled
    client_ref = _text(r.get("companyID")) or links.client_ref
    named = None if client_ref else client_named(tenant, title, _text(r.get("description")))
    payload = {
        "kind": "meeting",
        "meeting_id": b.id,
        "meeting_kind": str(kind),
        "title": title,
        "status": str(status),
        "changed_at": None if status == MeetingStatus.scheduled else _iso(record_time(spec, r)),
        "starts_at": _iso(starts),
        "ends_at": _iso(b.time("endDateTime")),
        "booked_at": _iso(b.time("createDateTime")),
        "organiser": b.identity(_text(r.get("resourceID"))),
    }
    return b.event(
        entity="appointment",
        action=b.action("createDateTime"),
        occurred_at=record_time(spec, r) or starts,
        client_ref=client_ref,
        client_id=named,
        payload=payload,
    )


def halo_action(
    tenant: Tenant, spec: EntitySpec, r: Mapping[str, Any], links: Links
) -> Outgoing | None:
    """An action with time taken is a time entry; one without is a note (nothing to post)."""
    hours = float(r.get("timetaken") or 0)
    if hours <= 0:
        return None
    b = _Builder(tenant, spec, r)
    ticket = _text(r.get("ticket_id")) or links.ticket_id
    started = b.time("actionarrivaldate", "datetime", "actiondatecreated") or datetime.now(UTC)
    payload = {
        "kind": "time_entry",
        "entry_id": b.id,
        "technician": b.identity(_text(r.get("who_agentid")) or _text(r.get("agent_id"))),
        "charge_to": "ticket" if ticket else "charge_code",
        "ticket_id": ticket,
        "work_type": _text(r.get("outcome")),
        "nature": b.work_nature(_text(r.get("outcome"))),
        "started_at": _iso(started),
        "ended_at": _iso(b.time("actioncompletiondate")),
        "hours": min(hours, 24 * 31),
        "notes": _text(r.get("note")),
    }
    return b.event(
        entity="time_entry",
        action=b.action("actiondatecreated", "datetime"),
        occurred_at=b.time("actiondatecreated", "datetime") or started,
        client_ref=_text(r.get("client_id")) or links.client_ref,
        payload=payload,
        ticket_id=ticket,
    )


def halo_appointment(
    tenant: Tenant, spec: EntitySpec, r: Mapping[str, Any], links: Links
) -> Outgoing:
    """An appointment whose type (`appointment_type_id`, else `appointment_type_name`) the
    tenant's `meeting_kind` maps to review or call is a meeting; any other (onsite work,
    remote sessions) is a visit."""
    b = _Builder(tenant, spec, r)
    starts = b.time("start_date") or datetime.now(UTC)
    ticket = _text(r.get("ticket_id")) or links.ticket_id
    kind = _halo_kind(tenant, r)
    location = tenant.map(b.source, "location", _text(r.get("appointment_location_name")))
    if location is Location.unknown and (
        r.get("is_onsite") in (True, 1) or str(r.get("appointment_type") or "").lower() == "onsite"
    ):
        location = Location.onsite
    technician = b.identity(_text(r.get("agent_id")))
    done = r.get("complete_status") not in (None, 0, False) or r.get("is_complete") in (True, 1)
    completed = b.time("complete_date")
    done = done or (completed is not None and completed.year > 1900)  # Halo's unset: 1900
    payload: dict[str, Any]
    if kind in (MeetingKind.review, MeetingKind.call):
        status = _halo_meeting_status(tenant, r, done)
        payload = {
            "kind": "meeting",
            "meeting_id": b.id,
            "meeting_kind": str(kind),
            "title": _text(r.get("subject")),
            "status": str(status),
            "changed_at": None if status == MeetingStatus.scheduled else _iso(record_time(spec, r)),
            "starts_at": _iso(starts),
            "ends_at": _iso(b.time("end_date")),
            "booked_at": _iso(b.time("datecreated", "date_created")),
            "organiser": technician,
            "location": str(location),
        }
    else:
        payload = {
            "kind": "visit",
            "visit_id": b.id,
            "technician": technician,
            "location": str(location),
            "ticket_id": ticket,
            "starts_at": _iso(starts),
            "ends_at": _iso(b.time("end_date")),
            "booked_at": _iso(b.time("datecreated", "date_created")),
            "status": _text(r.get("status")),
            "done": done,
        }
    # A deleted visit is gone (no work done); a deleted meeting is a cancelled one.
    deleted = r.get("deleted") is True and payload["kind"] == "visit"
    return b.event(
        entity="appointment",
        action=Action.deleted if deleted else b.action("datecreated", "date_created"),
        occurred_at=record_time(spec, r) or starts,
        client_ref=_text(r.get("client_id")) or links.client_ref,
        payload=payload,
        ticket_id=ticket,
    )


def _halo_kind(tenant: Tenant, r: Mapping[str, Any]) -> MeetingKind:
    names = (
        r.get("appointment_type_id"),
        r.get("appointment_type_name"),
        r.get("appointment_type"),
    )
    kinds = [tenant.map(Source.halopsa, "meeting_kind", _text(n)) for n in names if _text(n)]
    return next((k for k in kinds if k is not MeetingKind.meeting), MeetingKind.meeting)


def _halo_meeting_status(tenant: Tenant, r: Mapping[str, Any], done: bool) -> MeetingStatus:
    """Deleted is cancelled; a status the tenant maps (appointment_status, else a status
    name) is that; a completed appointment is held; else it is scheduled."""
    if r.get("deleted") is True:
        return MeetingStatus.cancelled
    for raw in (r.get("appointment_status"), r.get("status")):
        status: MeetingStatus = tenant.map(Source.halopsa, "meeting_status", _text(raw))
        if status is not MeetingStatus.scheduled:
            return status
    return MeetingStatus.held if done else MeetingStatus.scheduled


# -- devices found by inventory diff ---------------------------------------------------

_DEVICE_FIELDS = {
    # source: (client ref, name, created, serial, type, last user)
    Source.ninjaone: (
        "organizationId",
        "systemName",
        "created",
        "serialNumber",
        "nodeClass",
        "lastLoggedInUser",
    ),
    Source.dattormm: (
        "siteUid",
        "hostname",
        "creationDate",
        "serialNumber",
        "deviceClass",
        "lastLoggedInUser",
    ),
    Source.tacticalrmm: (
        "client_name",
        "hostname",
        "created_time",
        "serial_number",
        "monitoring_type",
        "logged_in_username",
    ),
}


def device_change(
    tenant: Tenant, spec: EntitySpec, r: Mapping[str, Any], *, removed: bool, seen_at: datetime
) -> Outgoing:
    """A device new to the inventory (unannounced change evidence), or one gone."""
    b = _Builder(tenant, spec, r)
    client_f, name_f, created_f, serial_f, type_f, user_f = _DEVICE_FIELDS[spec.source]
    client_ref = _text(r.get(client_f)) or _text(r.get("client"))
    change = "removed_agent" if removed else "new_device"
    created = None if removed else b.time(created_f)
    payload = {
        "kind": "device_change",
        "change": change,
        "device_id": b.id,
        "device_name": _text(r.get(name_f)) or _text(r.get("dnsName")),
        "site": _text(r.get("siteName")) or _text(r.get("site_name")),
        "serial": _text(r.get(serial_f)),
        "device_type": _text(r.get(type_f)),
        "last_user": _text(r.get(user_f)),
        "detail": "found by the poller's inventory diff",
    }
    return b.event(
        entity="device",
        action=Action.deleted if removed else Action.detected,
        occurred_at=created or seen_at,
        client_ref=client_ref,
        payload=payload,
        version=change,  # once per device and change, whatever its later content
    )
