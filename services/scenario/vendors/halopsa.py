"""HaloPSA ticket notifications ("New Ticket Logged", "Ticket Updated"), batching off.

Halo pushes tickets only here (time and appointments are polled: see
`canonical`). `dateoccurred` is when the user says the issue began: the late
reporter's tickets carry days-old values. `source` and `tickettype_id` are Halo's
integer lookup ids (`picklists`), which the tenant file maps; assets are Halo's own
asset ids, with the host name as `inventory_number`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from services.events.models import Channel, Nature, Priority, Source
from services.scenario.model import EnteredBy, Ticket
from services.scenario.vendors.common import Emission, WriterSettings, compact, iso_naive
from services.scenario.vendors.picklists import HALO_SOURCES, HALO_TYPES
from services.scenario.world import AUTOMATION

SOURCE = Source.halopsa

CHANNELS = HALO_SOURCES  # lookup ids, as Halo sends them (issue 12, rule 9)
TICKET_TYPES = HALO_TYPES
PRIORITIES = {
    Priority.critical: 1,
    Priority.high: 2,
    Priority.medium: 3,
    Priority.low: 4,
    Priority.unknown: 6,
}
STATUS = {"new": 1, "in_progress": 2, "resolved": 9}


def _taken_by(ticket: Ticket) -> str | None:
    if ticket.entered_by is EnteredBy.co_managed and ticket.co_managed_by is not None:
        return ticket.co_managed_by.psa_id
    if ticket.entered_by is EnteredBy.technician:
        return ticket.technician.halopsa
    if ticket.entered_by is EnteredBy.automation:
        return AUTOMATION[SOURCE][0]
    return None  # logged by the email connector or the portal: Halo names no agent


def tickets(ticket: Ticket, settings: WriterSettings) -> list[Emission]:
    taken_by = _taken_by(ticket)
    record: dict[str, Any] = {
        "id": ticket.id,
        "summary": ticket.summary,
        "details": ticket.summary,
        "tickettype_id": TICKET_TYPES[ticket.nature],
        "category_1": "Onboarding" if ticket.nature is Nature.unknown else "Hardware",
        "priority_id": PRIORITIES[ticket.priority],
        "status_id": STATUS["new"],
        "client_id": ticket.client.psa_company_id,
        "client_name": ticket.client.name,
    }
    site = ticket.device.site if ticket.device is not None else ticket.site
    if site is not None:
        record |= {"site_id": 31 + ticket.client.sites.index(site), "site_name": site}
    if ticket.contact is not None:
        record |= {
            "user_id": ticket.contact.psa_id,
            "user_name": ticket.contact.name,
            "user_email": ticket.contact.email,
        }
    record |= {
        "agent_id": int(ticket.technician.halopsa),
        "team": "NOC" if ticket.channel is Channel.monitoring else "Service Desk",
        "source": CHANNELS[ticket.channel],
    }
    if taken_by is not None:
        record["takenby"] = int(taken_by)
    record |= {
        "dateoccurred": iso_naive(ticket.issue_started_at or ticket.created_at),
        "datecreated": iso_naive(ticket.created_at),
        "responsedate": None,
        "dateclosed": None,
        "timetaken": 0,
        "lastactiondate": iso_naive(ticket.created_at),
    }
    if ticket.device is not None:
        record["assets"] = [
            {"id": ticket.device.psa_asset_id, "inventory_number": ticket.device.hostname}
        ]
    action_id = ticket.id * 100
    who = {
        EnteredBy.co_managed: ticket.co_managed_by.name if ticket.co_managed_by else "",
        EnteredBy.technician: ticket.technician.name,
        EnteredBy.automation: "RMM Integration",
    }.get(ticket.entered_by, ticket.contact.name if ticket.contact else "")
    out = [
        _notification(
            "New Ticket Logged", record, action_id, "Logged", who, taken_by, ticket.created_at
        )
    ]
    for number, update in enumerate(ticket.updates, start=1):
        record = dict(record, status_id=STATUS[update.status], lastactiondate=iso_naive(update.at))
        if update.status == "in_progress":
            record["responsedate"] = iso_naive(update.at)
            outcome = "Status Changed"
        else:
            record["dateclosed"] = iso_naive(update.at)
            outcome = "Closed"
        out.append(
            _notification(
                "Ticket Updated",
                record,
                action_id + number,
                outcome,
                ticket.technician.name,
                ticket.technician.halopsa,
                update.at,
            )
        )
    return out


def _notification(
    event: str,
    ticket: dict[str, Any],
    action_id: int,
    outcome: str,
    who: str,
    agent: str | None,
    at: datetime,
) -> Emission:
    body = {
        "event": event,
        "ticket": ticket,
        "action": {
            "id": action_id,
            "ticket_id": ticket["id"],
            "outcome": outcome,
            "who": who,
            "who_type": 1 if agent else 2,
            "who_agentid": int(agent) if agent else 0,
            "datetime": iso_naive(at),
        },
    }
    return Emission(at, SOURCE, compact(body))
