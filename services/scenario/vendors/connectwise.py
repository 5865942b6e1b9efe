"""ConnectWise PSA callbacks: tickets, time entries, schedule entries (visits), activities.

One callback per record change, the record as a JSON string in `Entity`, as
services/ingest/adapters/connectwise.py reads it. A schedule entry names no
company (ConnectWise's ScheduleEntry has none): its client is the ticket it is
booked against (`objectId`), so every visit is booked against a ticket.
Meetings are activities, which do name the company.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from services.events.models import Channel, Location, Nature, Priority, Source
from services.scenario.model import (
    ClientWorld,
    EnteredBy,
    Meeting,
    MeetingChange,
    Person,
    Ticket,
    TimeEntry,
    Visit,
)
from services.scenario.vendors.common import (
    Emission,
    WriterSettings,
    body_rng,
    compact,
    hours_between,
    iso_z,
)
from services.scenario.vendors.picklists import (
    CW_CHANNELS,
    CW_MEETING_STATUS_IDS,
    CW_MEETING_STATUSES,
    CW_TYPES,
)
from services.scenario.world import AUTOMATION, INTAKE, make_uuid

SOURCE = Source.connectwise

CHANNELS = CW_CHANNELS["en"]
TYPE_IDS = {
    Nature.incident: 14,
    Nature.problem: 15,
    Nature.request: 16,
    Nature.change: 17,
    Nature.maintenance: 18,
    Nature.review: 19,
    Nature.project: 20,
    Nature.unknown: 21,
}
PRIORITIES = {
    Priority.critical: (1, "Priority 1 - Critical"),
    Priority.high: (8, "Priority 2 - High"),
    Priority.medium: (4, "Priority 3 - Medium"),
    Priority.low: (7, "Priority 4 - Low"),
    Priority.unknown: (12, "Priority 5 - Whenever"),
}
STATUS = {"new": (16, "New"), "in_progress": (17, "In Progress"), "resolved": (20, "Completed")}
WORK_TYPE_IDS = {
    "Remote Support": 1,
    "Onsite Support": 2,
    "Maintenance": 3,
    "Patching": 4,
    "Project": 5,
    "Review": 6,
    "Change": 7,
}
LOCATIONS = {Location.onsite: (1, "On-Site"), Location.remote: (2, "Remote")}


def _meeting_status(locale: str, change: MeetingChange | None) -> dict[str, Any]:
    """An activity status: who cancelled is part of the status (issue 12, rule 5)."""
    key = "scheduled" if change is None else str(change.status)
    if key == "cancelled":
        key = "cancelled_by_client" if change and change.by_client else "cancelled_by_msp"
    return {"id": CW_MEETING_STATUS_IDS[key], "name": CW_MEETING_STATUSES[locale][key]}


def _company(client: ClientWorld) -> dict[str, Any]:
    return {"id": client.psa_company_id, "identifier": client.psa_identifier, "name": client.name}


def _member(person: Person) -> dict[str, Any]:
    return {
        "id": 31 + int(person.autotask[-2:]),
        "identifier": person.connectwise,
        "name": person.name,
    }


def _callback(
    settings: WriterSettings, action: str, kind: str, record_id: int, entity: dict[str, Any]
) -> str:
    rng = body_rng(SOURCE, kind, record_id, action, entity["_info"]["lastUpdated"])
    return compact(
        {
            "MessageId": make_uuid(rng),
            "FromUrl": "api-na.myconnectwise.net",
            "CompanyId": settings.tenant_id,
            "MemberId": "partnerpulse",
            "Action": action,
            "Type": kind,
            "ID": record_id,
            "ProductInstanceId": "639c96cab2eb560001dd1324",
            "PartnerId": "61ddc2817bcddc0001c74208",
            "Entity": compact(entity),
            "Metadata": {"key_url": settings.key_url},
            "CallbackObjectRecId": 26604,
        }
    )


def _entered_by(ticket: Ticket) -> str:
    if ticket.entered_by is EnteredBy.co_managed and ticket.co_managed_by is not None:
        return ticket.co_managed_by.psa_id
    if ticket.entered_by is EnteredBy.technician:
        return ticket.technician.connectwise
    if ticket.entered_by is EnteredBy.automation:
        return AUTOMATION[SOURCE][0]
    intake = INTAKE[SOURCE]
    return {Channel.email: intake[0], Channel.portal: intake[1]}.get(ticket.channel, intake[2])


def tickets(ticket: Ticket, settings: WriterSettings) -> list[Emission]:
    entered_by = _entered_by(ticket)
    locale = ticket.client.locale
    type_id, type_name = TYPE_IDS[ticket.nature], CW_TYPES[locale][ticket.nature]
    priority_id, priority_name = PRIORITIES[ticket.priority]
    location_id, location_name = LOCATIONS.get(ticket.location, LOCATIONS[Location.remote])
    board = {
        Channel.monitoring: (3, "NOC"),
        Channel.scheduled: (4, "Managed Services"),
    }.get(ticket.channel, (1, "Service Desk"))
    entity: dict[str, Any] = {
        "id": ticket.id,
        "summary": ticket.summary,
        "recordType": "ServiceTicket",
        "board": {"id": board[0], "name": board[1]},
        "status": {"id": STATUS["new"][0], "name": STATUS["new"][1]},
        "company": _company(ticket.client),
    }
    site = ticket.device.site if ticket.device is not None else ticket.site
    if site is not None:
        entity["siteName"] = site
    if ticket.contact is not None:
        entity["contact"] = {"id": ticket.contact.psa_id, "name": ticket.contact.name}
        entity["contactName"] = ticket.contact.name
        entity["contactEmailAddress"] = ticket.contact.email
    entity |= {
        "type": {"id": type_id, "name": type_name},
        "priority": {"id": priority_id, "name": priority_name},
        "serviceLocation": {"id": location_id, "name": location_name},
        "source": {"id": 3, "name": CW_CHANNELS[locale][ticket.channel]},
        "severity": "Medium",
        "impact": "Medium",
        "owner": {"identifier": ticket.technician.connectwise, "name": ticket.technician.name},
        "resources": ticket.technician.connectwise,
        "closedFlag": False,
    }
    if ticket.device is not None:
        entity["configurations"] = [
            {
                "id": ticket.device.psa_asset_id,
                "deviceIdentifier": ticket.device.hostname,
                "name": ticket.device.hostname,
            }
        ]
    entity["_info"] = _info(ticket.created_at, ticket.created_at, entered_by, entered_by)
    out = [
        Emission(
            ticket.created_at, SOURCE, _callback(settings, "added", "ticket", ticket.id, entity)
        )
    ]
    for update in ticket.updates:
        status_id, status_name = STATUS[update.status]
        entity = dict(entity, status={"id": status_id, "name": status_name})
        if update.status == "in_progress":
            entity["dateResponded"] = iso_z(update.at)
        else:
            entity |= {
                "dateResolved": iso_z(update.at),
                "closedDate": iso_z(update.at),
                "closedFlag": True,
            }
        entity["_info"] = _info(
            update.at, ticket.created_at, ticket.technician.connectwise, entered_by
        )
        out.append(
            Emission(update.at, SOURCE, _callback(settings, "updated", "ticket", ticket.id, entity))
        )
    return out


def _info(updated: datetime, entered: datetime, updated_by: str, entered_by: str) -> dict[str, str]:
    return {
        "lastUpdated": iso_z(updated),
        "updatedBy": updated_by,
        "dateEntered": iso_z(entered),
        "enteredBy": entered_by,
    }


def time_entry(entry: TimeEntry, settings: WriterSettings) -> list[Emission]:
    end = entry.started_at + timedelta(hours=entry.hours)
    on_ticket = entry.ticket is not None
    entity = {
        "id": entry.id,
        "company": _company(entry.client),
        "chargeToId": entry.ticket.id if entry.ticket is not None else 12,
        "chargeToType": "ServiceTicket" if on_ticket else "ChargeCode",
        "member": _member(entry.technician),
        "workType": {"id": WORK_TYPE_IDS.get(entry.work_type, 9), "name": entry.work_type},
        "timeStart": iso_z(entry.started_at),
        "timeEnd": iso_z(end),
        "actualHours": round(entry.hours, 2),
        "notes": entry.notes or "",
        "enteredBy": entry.technician.connectwise,
        "dateEntered": iso_z(entry.entered_at),
        "_info": {
            "lastUpdated": iso_z(entry.entered_at),
            "updatedBy": entry.technician.connectwise,
        },
    }
    return [
        Emission(entry.entered_at, SOURCE, _callback(settings, "added", "time", entry.id, entity))
    ]


def visit(record: Visit, settings: WriterSettings) -> list[Emission]:
    location_id, location_name = LOCATIONS[record.location]
    entity: dict[str, Any] = {"id": record.id}
    if record.ticket is not None:
        entity["objectId"] = record.ticket.id
    entity |= {
        "name": f"{record.client.name} / {record.title}",
        "member": _member(record.technician),
        "where": {"id": location_id, "name": location_name},
        "dateStart": iso_z(record.starts_at),
        "dateEnd": iso_z(record.ends_at),
        "status": {"id": 2, "name": "Firm"},
        "type": {"id": 4, "identifier": "S", "name": "Service"},
        "span": {"id": 1, "identifier": "N", "name": "None"},
        "doneFlag": False,
        "acknowledgedFlag": True,
        "ownerFlag": False,
        "meetingFlag": False,
        "hours": hours_between(record.starts_at, record.ends_at),
        "_info": _info(
            record.booked_at,
            record.booked_at,
            record.technician.connectwise,
            record.technician.connectwise,
        ),
    }
    done_at = record.ends_at + timedelta(minutes=15)
    done = dict(entity, doneFlag=True, status={"id": 3, "name": "Done"})
    done["_info"] = _info(
        done_at, record.booked_at, record.technician.connectwise, record.technician.connectwise
    )
    return [
        Emission(
            record.booked_at, SOURCE, _callback(settings, "added", "schedule", record.id, entity)
        ),
        Emission(done_at, SOURCE, _callback(settings, "updated", "schedule", record.id, done)),
    ]


def meeting(record: Meeting, settings: WriterSettings) -> list[Emission]:
    """A meeting is a ConnectWise activity (it names the company; a schedule entry does not)."""
    contact = record.client.contacts[0]
    meeting_id = int(record.id)
    type_name = {"review": "Business Review", "call": "Call"}.get(record.kind, "Meeting")
    entity: dict[str, Any] = {
        "id": meeting_id,
        "name": record.title,
        "type": {"id": 3, "name": type_name},
        "company": _company(record.client),
        "contact": {"id": contact.psa_id, "name": contact.name},
        "email": contact.email,
        "status": _meeting_status(record.client.locale, None),
        "dateStart": iso_z(record.starts_at),
        "dateEnd": iso_z(record.starts_at + timedelta(minutes=record.minutes)),
        "assignedBy": _member(record.organiser),
        "assignTo": _member(record.organiser),
        "where": {"id": 2, "name": "Remote"},
        "_info": _info(
            record.booked_at,
            record.booked_at,
            record.organiser.connectwise,
            record.organiser.connectwise,
        ),
    }
    out = [
        Emission(
            record.booked_at, SOURCE, _callback(settings, "added", "activity", meeting_id, entity)
        )
    ]
    for change in record.changes:
        entity = dict(entity, status=_meeting_status(record.client.locale, change))
        entity["_info"] = _info(
            change.at, record.booked_at, record.organiser.connectwise, record.organiser.connectwise
        )
        out.append(
            Emission(
                change.at, SOURCE, _callback(settings, "updated", "activity", meeting_id, entity)
            )
        )
    return out
