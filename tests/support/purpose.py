"""A tenant that keeps review meetings and recommendations in its PSA (tickets on a QBR
board / queue / ticket type, appointment types), for the tests of what becomes of them.

Based on tests/fixtures/tenant.yaml; Acme Dental reviews quarterly (review_cadence 90).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from services.events.tenant import Tenant, parse_tenant

TENANT_FILE = Path(__file__).parents[1] / "fixtures" / "tenant.yaml"

QBR_BOARD = "Business Reviews"  # ConnectWise board.name
ROADMAP_BOARD = "vCIO Roadmap"
QBR_QUEUE = 29683495  # Autotask queueID
RECOMMENDATION_TYPE = 7  # Autotask ticketType
HALO_QBR_TYPE = 21  # HaloPSA tickettype_id
HALO_RECOMMENDATION_TYPE = 22
HALO_REVIEW_APPOINTMENT = 7  # HaloPSA appointment_type_id
HALO_DECLINED, HALO_ACCEPTED, HALO_CANCELLED = 23, 24, 25  # HaloPSA status_id

MAPPINGS: dict[str, Any] = {
    "connectwise": {
        "ticket_purpose": {
            "values": {QBR_BOARD: "review_meeting", ROADMAP_BOARD: "recommendation"}
        },
    },
    "autotask": {
        "ticket_purpose": {
            "values": {
                QBR_QUEUE: "review_meeting",  # an integer key, as Autotask sends it
                f"type:{RECOMMENDATION_TYPE}": "recommendation",
            }
        },
    },
    "halopsa": {
        "ticket_purpose": {
            "values": {HALO_QBR_TYPE: "review_meeting", HALO_RECOMMENDATION_TYPE: "recommendation"}
        },
        "meeting_kind": {"values": {HALO_REVIEW_APPOINTMENT: "review"}},
        "ticket_meeting_status": {"values": {HALO_CANCELLED: "cancelled"}},
        "recommendation_status": {"values": {HALO_DECLINED: "declined", HALO_ACCEPTED: "accepted"}},
    },
}


def purpose_data() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(TENANT_FILE.read_text())
    data["mappings"] = copy.deepcopy(MAPPINGS)
    data["clients"][0]["review_cadence"] = 90
    return data


def purpose_tenant() -> Tenant:
    return parse_tenant(purpose_data(), "tenant.yaml (with ticket purposes)")


# -- vendor bodies of the tickets above, as the vendors send them ------------------------

ACME_AUTOTASK = 29683  # Acme Dental's Autotask companyID in the fixture tenant
ACME_HALO = 12  # and its HaloPSA client_id


def autotask_ticket_hook(
    ticket_id: int, event_time: str, *, action: str = "Update", sequence: int = 1, **fields: Any
) -> dict[str, Any]:
    """An Autotask ticket webhook of Acme's: `Fields` holds what the test names (only the
    subscribed fields come on an update)."""
    return {
        "Action": action,
        "Guid": "hook",
        "EntityType": "Ticket",
        "Id": ticket_id,
        "Fields": {"id": ticket_id, "companyID": ACME_AUTOTASK, **fields},
        "EventTime": event_time,
        "SequenceNumber": sequence,
    }


def halo_ticket_hook(ticket_id: int, **fields: Any) -> dict[str, Any]:
    """A HaloPSA "Ticket Updated" webhook of an Acme ticket with these fields."""
    return {
        "event": "Ticket Updated",
        "ticket": {"id": ticket_id, "client_id": ACME_HALO, **fields},
    }
