"""Business reviews kept as PSA tickets: Autotask clients' QBRs are tickets in a "QBR"
queue, HaloPSA clients' tickets of a "Quarterly Business Review" type.

The tenant file maps that queue and that type to `review_meeting` (`ticket_purpose`), and
the statuses below to meeting statuses (`ticket_meeting_status`): who cancelled is part
of the status, as on ConnectWise activities. They go out as the vendor's ticket webhooks,
so the API holds them as tickets too (apis.api_from_emission) and the poller's ticket
reconciliation brings back a lost one.
"""

from __future__ import annotations

from typing import Any

from services.events.models import Source
from services.scenario.model import Meeting, MeetingChange
from services.scenario.vendors.common import Emission, WriterSettings, compact, iso_ms_z, iso_naive

AUTOTASK_QBR_QUEUE = 29682840
HALO_QBR_TYPE = 30
# The ticket's status, by meeting status and side (the same ids in both PSAs' samples).
STATUSES = {
    "scheduled": 1,
    "held": 5,
    "no_show": 40,
    "cancelled_by_client": 41,
    "cancelled_by_msp": 42,
}
_HALO_STATUSES = dict(STATUSES, held=9)


def _status(change: MeetingChange | None) -> str:
    key = "scheduled" if change is None else str(change.status)
    if key == "cancelled":
        key = "cancelled_by_client" if change and change.by_client else "cancelled_by_msp"
    return key


def review_mappings(meeting_sides: bool) -> dict[str, dict[str, Any]]:
    """The tenant file's picklists for these tickets, per source."""

    def statuses(ids: dict[str, int]) -> dict[str, Any]:
        values = {
            str(i): s if meeting_sides or not s.startswith("cancelled") else "cancelled"
            for s, i in ids.items()
        }
        return {"values": values, "default": "scheduled"}

    return {
        "autotask": {
            "ticket_purpose": {"values": {str(AUTOTASK_QBR_QUEUE): "review_meeting"}},
            "ticket_meeting_status": statuses(STATUSES),
        },
        "halopsa": {
            "ticket_purpose": {"values": {str(HALO_QBR_TYPE): "review_meeting"}},
            "ticket_meeting_status": statuses(_HALO_STATUSES),
        },
    }


def qbr_ticket(record: Meeting, settings: WriterSettings) -> list[Emission]:
    versions = [(record.booked_at, None), *((c.at, c) for c in record.changes)]
    if record.source is Source.autotask:
        return [_autotask(record, settings, n, at, c) for n, (at, c) in enumerate(versions, 1)]
    return [_halo(record, n, at, c) for n, (at, c) in enumerate(versions)]


def _autotask(
    record: Meeting, settings: WriterSettings, sequence: int, at: Any, change: MeetingChange | None
) -> Emission:
    organiser = int(record.organiser.autotask)
    fields = {
        "id": int(record.id),
        "title": record.title,
        "ticketType": 1,
        "priority": 2,
        "status": STATUSES[_status(change)],
        "queueID": AUTOTASK_QBR_QUEUE,
        "companyID": record.client.psa_company_id,
        "creatorType": 1,
        "creatorResourceID": organiser,
        "assignedResourceID": organiser,
        "createDate": iso_ms_z(record.booked_at),
        "dueDateTime": iso_ms_z(record.starts_at),
    }
    body = {
        "Action": "Update" if change else "Create",
        "Guid": settings.autotask_webhook_guid,
        "EntityType": "Ticket",
        "Id": int(record.id),
        "Fields": fields,
        "EventTime": iso_ms_z(at),
        "SequenceNumber": sequence,
        "PersonId": organiser,
    }
    return Emission(at, Source.autotask, compact(body))


def _halo(record: Meeting, number: int, at: Any, change: MeetingChange | None) -> Emission:
    agent = int(record.organiser.halopsa)
    status = _status(change)
    ticket = {
        "id": int(record.id),
        "summary": record.title,
        "tickettype_id": HALO_QBR_TYPE,
        "status_id": _HALO_STATUSES[status],
        "client_id": record.client.psa_company_id,
        "client_name": record.client.name,
        "agent_id": agent,
        "datecreated": iso_naive(record.booked_at),
        "deadlinedate": iso_naive(record.starts_at),
        "dateclosed": None if change is None else iso_naive(at),
        "lastactiondate": iso_naive(at),
    }
    body = {
        "event": "Ticket Updated" if change else "New Ticket Logged",
        "ticket": ticket,
        "action": {
            "id": int(record.id) * 100 + number,
            "ticket_id": int(record.id),
            "outcome": "Closed" if change else "Logged",
            "who": record.organiser.name,
            "who_type": 1,
            "who_agentid": agent,
            "datetime": iso_naive(at),
        },
    }
    return Emission(at, Source.halopsa, compact(body))
