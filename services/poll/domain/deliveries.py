"""A polled record as the delivery its vendor's webhook would have made.

Posting the vendor's own body to that source's webhook route gives the record the
same normalisation, and, where the adapter derives the event id from the record's
version (ConnectWise `_info.lastUpdated`, NinjaOne activity id, Datto alert uid and
status, Tactical alert id and event), the same event id as the webhook: a record seen
both ways is stored once. Records with no webhook go as canonical events
(`canonical.py`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from services.events.models import Source
from services.poll.domain.specs import EntitySpec
from services.poll.domain.window import get_path, iso_z, parse_stamp, record_id, record_time

POLL_GUID = "partnerpulse-poll"
# Created rather than updated: the last change is the creation (within this margin).
_SAME_MOMENT = timedelta(seconds=1)
CONNECTWISE_TYPES = {
    "service/tickets": "ticket",
    "time/entries": "time",
    "schedule/entries": "schedule",
    "sales/activities": "activity",
}


@dataclass(frozen=True)
class Outgoing:
    """One delivery for ingest: the route's source and the exact body."""

    route: Source
    body: bytes
    ref: str  # source:entity:id, for logs (never a secret)


def _dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), default=str).encode()


def is_creation(created: datetime | None, modified: datetime | None) -> bool:
    return modified is None or (created is not None and abs(modified - created) <= _SAME_MOMENT)


def autotask_ticket(spec: EntitySpec, record: Mapping[str, Any]) -> Outgoing:
    rid = record_id(spec, record)
    modified = record_time(spec, record)
    created = parse_stamp(record.get("createDate"))
    body = {
        "Action": "Create" if is_creation(created, modified) else "Update",
        "Guid": POLL_GUID,
        "EntityType": "Ticket",
        "Id": int(rid) if rid.isdigit() else rid,
        "Fields": dict(record),
        "EventTime": iso_z(modified) if modified else None,
        "SequenceNumber": None,
        "PersonId": None,
    }
    return Outgoing(Source.autotask, _dumps(body), f"autotask:ticket:{rid}")


def connectwise_callback(
    spec: EntitySpec, record: Mapping[str, Any], *, company_id: str, key_url: str
) -> Outgoing:
    rid = record_id(spec, record)
    kind = CONNECTWISE_TYPES[spec.entity]
    modified = record_time(spec, record)
    created = parse_stamp(get_path(record, "_info.dateEntered") or record.get("dateEntered"))
    body = {
        "MessageId": f"{POLL_GUID}:{kind}:{rid}:{get_path(record, '_info.lastUpdated')}",
        "FromUrl": "partnerpulse-poll",
        "CompanyId": company_id,
        "Action": "added" if is_creation(created, modified) else "updated",
        "Type": kind,
        "ID": int(rid) if rid.isdigit() else rid,
        "Entity": json.dumps(record, separators=(",", ":")),
        "Metadata": {"key_url": key_url},
    }
    return Outgoing(Source.connectwise, _dumps(body), f"connectwise:{kind}:{rid}")


def halo_ticket(spec: EntitySpec, record: Mapping[str, Any]) -> Outgoing:
    rid = record_id(spec, record)
    created = parse_stamp(record.get("datecreated"))
    if record.get("deleted") is True:
        event = "Ticket Deleted"
    elif is_creation(created, record_time(spec, record)):
        event = "New Ticket Logged"
    else:
        event = "Ticket Updated"
    body = {"event": event, "ticket": dict(record)}
    return Outgoing(Source.halopsa, _dumps(body), f"halopsa:ticket:{rid}")


def ninja_activity(spec: EntitySpec, record: Mapping[str, Any]) -> Outgoing:
    return Outgoing(Source.ninjaone, _dumps(record), f"ninjaone:activity:{record_id(spec, record)}")


def datto_alert(
    spec: EntitySpec, record: Mapping[str, Any], *, resolved_at: datetime | None
) -> Outgoing:
    """The body of the alert-raised (or, with `resolved_at`, alert-resolved) webhook
    template, filled from the API's alert object."""
    uid = record_id(spec, record)
    source_info = record.get("alertSourceInfo") or {}
    context = record.get("alertContext") or {}
    raised = parse_stamp(record.get("timestamp"))
    when = resolved_at or raised
    body = {
        "status": "resolved" if resolved_at else "raised",
        "alert_uid": uid,
        "alert_type": context.get("@class") or context.get("type"),
        "alert_category": context.get("category"),
        "alert_priority": record.get("priority"),
        "alert_message_en": record.get("diagnostics") or record.get("message"),
        "device_uid": source_info.get("deviceUid"),
        "device_hostname": source_info.get("deviceName"),
        "site_uid": source_info.get("siteUid"),
        "site_name": source_info.get("siteName"),
        "timestamp": iso_z(when) if when else None,
    }
    return Outgoing(Source.dattormm, _dumps(body), f"dattormm:alert:{uid}")


def tactical_alert(spec: EntitySpec, record: Mapping[str, Any], *, resolved: bool) -> Outgoing:
    rid = record_id(spec, record)
    body = {
        "event": "resolved" if resolved else "trigger",
        "alert_id": rid,
        "alert_time": record.get("alert_time"),
        "resolved_on": record.get("resolved_on") if resolved else None,
        "alert_type": record.get("alert_type"),
        "message": record.get("message"),
        "hostname": record.get("hostname"),
        "agent_id": record.get("agent_id"),
        "severity": record.get("severity"),
        "client": record.get("client_name") or record.get("client"),
        "site": record.get("site_name") or record.get("site"),
    }
    return Outgoing(Source.tacticalrmm, _dumps(body), f"tacticalrmm:alert:{rid}")


def autotask_failed_callout(spec: EntitySpec, record: Mapping[str, Any]) -> Outgoing | None:
    """A callout Autotask could not deliver (`WebhookEventErrorLogs.payload`), re-posted
    byte for byte: the same body is the same event id, whether or not it got through."""
    payload = record.get("payload")
    if not isinstance(payload, str) or not payload.strip():
        return None
    return Outgoing(
        Source.autotask, payload.encode(), f"autotask:webhook_error:{record_id(spec, record)}"
    )
