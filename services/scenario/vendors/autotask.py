"""Autotask ticket webhooks (Create and Update callouts), as the autotask adapter reads them.

Autotask pushes only tickets (time entries and service calls are polled: see
`canonical`). Updates carry the fields this MSP marked "display always", so
every callout names the company, the type, the source and the creator.
Autotask has no maintenance or project ticket type: planned work is a service
request from the "Scheduled" source (a picklist value this tenant added). A
ticket names its device by the configuration item's id (never the RMM's device
id); the client's description names the computer.
"""

from __future__ import annotations

from typing import Any

from services.events.models import Channel, Nature, Priority, Source
from services.scenario.model import EnteredBy, Ticket
from services.scenario.vendors.common import Emission, WriterSettings, compact, iso_ms_z, iso_z
from services.scenario.world import AUTOMATION, INTAKE

SOURCE = Source.autotask

CHANNELS = {
    Channel.portal: -1,
    Channel.phone: 2,
    Channel.email: 4,
    Channel.walk_in: 6,
    Channel.monitoring: 8,
    Channel.direct_email: 11,
    Channel.scheduled: 12,
    Channel.internal: 13,
    Channel.unknown: 15,  # a source this tenant never mapped
}
TICKET_TYPES = {
    Nature.request: 1,
    Nature.incident: 2,
    Nature.problem: 3,
    Nature.change: 4,
    Nature.maintenance: 1,
    Nature.review: 1,
    Nature.project: 1,
    Nature.unknown: 7,  # a type this tenant never mapped
}
ALERT_TYPE = 5
PRIORITIES = {
    Priority.critical: 4,
    Priority.high: 1,
    Priority.medium: 2,
    Priority.low: 3,
    Priority.unknown: 5,
}
STATUS = {"new": 1, "in_progress": 8, "resolved": 5}
QUEUES = {Channel.monitoring: 29682834, Channel.scheduled: 29682835}


def encoded_nature(nature: Nature) -> Nature:
    """The nature the adapter will read back from the ticket type Autotask can hold."""
    return {1: Nature.request, 2: Nature.incident, 3: Nature.problem, 4: Nature.change}.get(
        TICKET_TYPES[nature], Nature.unknown
    )


def _creator(ticket: Ticket) -> str:
    if ticket.entered_by is EnteredBy.co_managed and ticket.co_managed_by is not None:
        return ticket.co_managed_by.psa_id
    if ticket.entered_by is EnteredBy.technician:
        return ticket.technician.autotask
    if ticket.entered_by is EnteredBy.automation:
        return AUTOMATION[SOURCE][0]
    return INTAKE[SOURCE][0]


def tickets(ticket: Ticket, settings: WriterSettings) -> list[Emission]:
    creator = _creator(ticket)
    ticket_type = (
        ALERT_TYPE
        if ticket.channel is Channel.monitoring and ticket.nature is Nature.incident
        else TICKET_TYPES[ticket.nature]
    )
    day = ticket.created_at.strftime("%Y%m%d")
    fields: dict[str, Any] = {
        "id": ticket.id,
        "ticketNumber": f"T{day}.{ticket.id % 10000:04d}",
        "title": ticket.summary,
        # What the client wrote; the portal's form asks for the computer's name.
        "description": ticket.summary
        + (f"\nComputer: {ticket.device.hostname}" if ticket.device is not None else ""),
        "source": CHANNELS[ticket.channel],
        "ticketType": ticket_type,
        "priority": PRIORITIES[ticket.priority],
        "status": STATUS["new"],
        "queueID": QUEUES.get(ticket.channel, 29682833),
        "companyID": ticket.client.psa_company_id,
    }
    if ticket.contact is not None:
        fields["contactID"] = ticket.contact.psa_id
    fields |= {
        "creatorType": 1,
        "creatorResourceID": int(creator),
        "assignedResourceID": int(ticket.technician.autotask),
    }
    if ticket.device is not None:
        fields["configurationItemID"] = ticket.device.psa_asset_id
    fields["createDate"] = iso_ms_z(ticket.created_at)
    if ticket.rmm_alert_id:
        fields["rmmAlertID"] = ticket.rmm_alert_id
    out = [_callout(settings, "Create", ticket, fields, 1, ticket.created_at, creator)]
    for sequence, update in enumerate(ticket.updates, start=2):
        fields = dict(fields, status=STATUS[update.status])
        if update.status == "in_progress":
            fields["firstResponseDateTime"] = iso_ms_z(update.at)
        else:
            fields |= {
                "resolvedDateTime": iso_ms_z(update.at),
                "completedDate": iso_ms_z(update.at),
            }
        out.append(
            _callout(
                settings, "Update", ticket, fields, sequence, update.at, ticket.technician.autotask
            )
        )
    return out


def _callout(
    settings: WriterSettings,
    action: str,
    ticket: Ticket,
    fields: dict[str, Any],
    sequence: int,
    at: Any,
    person: str,
) -> Emission:
    body = {
        "Action": action,
        "Guid": settings.autotask_webhook_guid,
        "EntityType": "Ticket",
        "Id": ticket.id,
        "Fields": fields,
        "EventTime": iso_z(at),
        "SequenceNumber": sequence,
        "PersonId": int(person),
    }
    return Emission(at, SOURCE, compact(body))
