"""The picklist values this MSP's PSAs carry, and the tenant mappings that name them.

The MSP grew by merging shops: its ConnectWise holds English, German and
French values side by side (each client's tickets carry its own language),
HaloPSA sends lookup ids (integers) for the ticket source and type, Autotask
sends picklist ids. Every value a vendor writer uses is mapped here, except
the deliberately unmapped ones (`Channel.unknown`, `Nature.unknown`).

Meeting statuses say who cancelled (issue 12, rule 5): "Cancelled by Client"
and "Cancelled by MSP" map to `cancelled_by_client` / `cancelled_by_msp` where
the tenant file can express it, else both to `cancelled`.
"""

from __future__ import annotations

from typing import Any

from services.events.models import Channel, Nature

LOCALES = ("en", "de", "fr")

CW_CHANNELS: dict[str, dict[Channel, str]] = {
    "en": {
        Channel.email: "Email Connector",
        Channel.portal: "Portal",
        Channel.phone: "Phone",
        Channel.chat: "Chat",
        Channel.walk_in: "Walk In",
        Channel.direct_email: "Direct Email",
        Channel.direct_phone: "Direct Phone",
        Channel.monitoring: "Monitoring",
        Channel.scheduled: "Scheduled",
        Channel.internal: "Internal",
        Channel.unknown: "Teams Bot",  # a source this tenant never mapped
    },
    "de": {
        Channel.email: "E-Mail-Konnektor",
        Channel.portal: "Kundenportal",
        Channel.phone: "Telefon",
        Channel.chat: "Chat",
        Channel.walk_in: "Persönlich",
        Channel.direct_email: "Direkte E-Mail",
        Channel.direct_phone: "Direktanruf",
        Channel.monitoring: "Überwachung",
        Channel.scheduled: "Geplant",
        Channel.internal: "Intern",
        Channel.unknown: "Teams-Bot",
    },
    "fr": {
        Channel.email: "Connecteur e-mail",
        Channel.portal: "Portail client",
        Channel.phone: "Téléphone",
        Channel.chat: "Messagerie",
        Channel.walk_in: "Sur place",
        Channel.direct_email: "E-mail direct",
        Channel.direct_phone: "Appel direct",
        Channel.monitoring: "Supervision",
        Channel.scheduled: "Planifié",
        Channel.internal: "Interne",
        Channel.unknown: "Bot Teams",
    },
}
CW_TYPES: dict[str, dict[Nature, str]] = {
    "en": {
        Nature.incident: "Incident",
        Nature.problem: "Problem",
        Nature.request: "Service Request",
        Nature.change: "Change Request",
        Nature.maintenance: "Preventive Maintenance",
        Nature.review: "Technical Review",
        Nature.project: "Project",
        Nature.unknown: "How-To",  # a type this tenant never mapped
    },
    "de": {
        Nature.incident: "Störung",
        Nature.problem: "Problem",
        Nature.request: "Serviceanfrage",
        Nature.change: "Änderungsantrag",
        Nature.maintenance: "Vorbeugende Wartung",
        Nature.review: "Technische Überprüfung",
        Nature.project: "Projekt",
        Nature.unknown: "Anleitung",
    },
    "fr": {
        Nature.incident: "Panne",
        Nature.problem: "Problème",
        Nature.request: "Demande de service",
        Nature.change: "Demande de changement",
        Nature.maintenance: "Maintenance préventive",
        Nature.review: "Revue technique",
        Nature.project: "Projet",
        Nature.unknown: "Mode d'emploi",
    },
}
# Activity statuses: (id, name) per locale; the ids are the same records in every language.
CW_MEETING_STATUSES: dict[str, dict[str, str]] = {
    "en": {
        "scheduled": "Scheduled",
        "held": "Done",
        "no_show": "No Show",
        "cancelled_by_client": "Cancelled by Client",
        "cancelled_by_msp": "Cancelled by MSP",
    },
    "de": {
        "scheduled": "Geplant",
        "held": "Erledigt",
        "no_show": "Nicht erschienen",
        "cancelled_by_client": "Vom Kunden abgesagt",
        "cancelled_by_msp": "Von uns abgesagt",
    },
    "fr": {
        "scheduled": "Planifié",
        "held": "Terminé",
        "no_show": "Absent",
        "cancelled_by_client": "Annulé par le client",
        "cancelled_by_msp": "Annulé par nos soins",
    },
}
CW_MEETING_STATUS_IDS = {
    "scheduled": 1,
    "held": 2,
    "cancelled_by_client": 4,
    "cancelled_by_msp": 5,
    "no_show": 7,
}

# HaloPSA lookup ids: the ticket source and the ticket type arrive as integers.
HALO_SOURCES: dict[Channel, int] = {
    Channel.email: 1,
    Channel.portal: 2,
    Channel.phone: 3,
    Channel.chat: 4,
    Channel.monitoring: 5,
    Channel.scheduled: 7,
    Channel.direct_email: 11,  # "Tech Mailbox"
    Channel.unknown: 14,  # "WhatsApp": a source this tenant never mapped
}
HALO_TYPES: dict[Nature, int] = {
    Nature.incident: 1,
    Nature.problem: 2,
    Nature.change: 3,
    Nature.request: 4,
    Nature.project: 5,
    Nature.maintenance: 8,
    Nature.review: 9,
    Nature.unknown: 21,  # a type this tenant never mapped
}


def tenant_mappings(meeting_sides: bool) -> dict[str, dict[str, dict[str, Any]]]:
    """The `mappings:` of the tenant file: every value above (bar the unmapped ones)."""
    channels: dict[str, str] = {}
    types: dict[str, str] = {}
    statuses: dict[str, str] = {}
    for locale in LOCALES:
        channels |= {v: str(c) for c, v in CW_CHANNELS[locale].items() if c is not Channel.unknown}
        types |= {v: str(n) for n, v in CW_TYPES[locale].items() if n is not Nature.unknown}
        for status, name in CW_MEETING_STATUSES[locale].items():
            statuses[name] = (
                status if meeting_sides or not status.startswith("cancelled") else "cancelled"
            )
    return {
        "connectwise": {
            "channel": {"values": channels, "default": "unknown"},
            "nature": {"values": types, "default": "unknown"},
            "meeting_status": {"values": statuses, "default": "scheduled"},
        },
        "autotask": {"channel": {"values": {"12": "scheduled", "13": "internal"}}},
        "halopsa": {
            "channel": {
                "values": {
                    str(i): str(c) for c, i in HALO_SOURCES.items() if c is not Channel.unknown
                },
                "default": "unknown",
            },
            "nature": {
                "values": {
                    str(i): str(n) for n, i in HALO_TYPES.items() if n is not Nature.unknown
                },
                "default": "unknown",
            },
        },
    }
