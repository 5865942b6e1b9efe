"""Canonical events for classifier tests, built the way the adapters build them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from services.events.models import (
    Action,
    CanonicalEvent,
    Identity,
    IdentityRole,
    Source,
    SourceRef,
    event_id_for,
)

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
TENANT = "northwind-msp"


def at(days: float = 0, hours: float = 0) -> datetime:
    return T0 + timedelta(days=days, hours=hours)


def person(ref: str, role: IdentityRole) -> Identity:
    return Identity(id=ref, role=role, name=ref)


TECH = person("stech", IdentityRole.technician)
DESK = person("Email Connector", IdentityRole.service_desk)
RMM = person("RMM Integration", IdentityRole.automation)


def event(
    payload: dict[str, Any],
    *,
    client: str = "acme",
    entity: str,
    record_id: str,
    occurred: datetime,
    source: Source = Source.connectwise,
    action: Action = Action.created,
    refs: list[tuple[str, str]] = (),  # type: ignore[assignment]
    version: str = "",
    known: bool = True,
) -> CanonicalEvent:
    identity = f"{entity}:{record_id}:{action}:{occurred.isoformat()}{version}"
    return CanonicalEvent.model_validate(
        {
            "event_id": event_id_for(TENANT, source, identity),
            "tenant": TENANT,
            "source": source,
            "action": action,
            "occurred_at": occurred,
            "received_at": occurred,
            "client_id": client,
            "client_known": known,
            "refs": [
                SourceRef(source=source, entity=entity, id=record_id),
                *(SourceRef(source=source, entity=e, id=i) for e, i in refs),
            ],
            "payload": payload,
        }
    )


def ticket(
    ticket_id: str,
    created: datetime,
    *,
    client: str = "acme",
    nature: str = "incident",
    channel: str = "email",
    priority: str = "medium",
    entered_by: Identity | None = DESK,
    addressed_to: Identity | None = None,
    devices: list[str | dict[str, str]] = (),  # type: ignore[assignment]  # hostnames
    device_ids: list[str] = (),  # type: ignore[assignment]  # the PSA's own asset ids
    site: str | None = None,
    issue_started: datetime | None = None,
    action: Action = Action.created,
    occurred: datetime | None = None,
    source: Source = Source.connectwise,
    follows: str | None = None,
    **extra: Any,
) -> CanonicalEvent:
    payload: dict[str, Any] = {
        "kind": "ticket",
        "ticket_id": ticket_id,
        "number": ticket_id,
        "nature": nature,
        "channel": channel,
        "priority": priority,
        "entered_by": entered_by.model_dump() if entered_by else None,
        "addressed_to": addressed_to.model_dump() if addressed_to else None,
        "created_at": created,
        "device_ids": list(device_ids),
        "devices": [d if isinstance(d, dict) else {"hostname": d} for d in devices],
        "site": site,
        "issue_started_at": issue_started,
        **extra,
    }
    return event(
        payload,
        client=client,
        entity="ticket",
        record_id=ticket_id,
        occurred=occurred or created,
        action=action,
        source=source,
        refs=[("ticket", follows)] if follows else [],
    )


def time_entry(
    entry_id: str,
    started: datetime,
    hours: float,
    *,
    ticket_id: str | None = None,
    client: str = "acme",
    nature: str = "unknown",
    charge_to: str | None = None,
    known: bool = True,
) -> CanonicalEvent:
    payload = {
        "kind": "time_entry",
        "entry_id": entry_id,
        "technician": TECH.model_dump(),
        "charge_to": charge_to or ("ticket" if ticket_id else "charge_code"),
        "ticket_id": ticket_id,
        "nature": nature,
        "started_at": started,
        "hours": hours,
    }
    return event(
        payload,
        client=client,
        entity="time",
        record_id=entry_id,
        occurred=started,
        refs=[("ticket", ticket_id)] if ticket_id else [],
        known=known,
    )


def visit(
    visit_id: str,
    starts: datetime,
    *,
    booked: datetime,
    ticket_id: str | None = None,
    client: str = "acme",
    location: str = "onsite",
    hours: float = 2,
    known: bool = True,
) -> CanonicalEvent:
    payload = {
        "kind": "visit",
        "visit_id": visit_id,
        "technician": TECH.model_dump(),
        "location": location,
        "ticket_id": ticket_id,
        "starts_at": starts,
        "ends_at": starts + timedelta(hours=hours),
        "booked_at": booked,
    }
    return event(
        payload,
        client=client,
        entity="schedule",
        record_id=visit_id,
        occurred=booked,
        refs=[("ticket", ticket_id)] if ticket_id else [],
        known=known,
    )


def alert(
    alert_id: str,
    when: datetime,
    *,
    device: str = "dev-1",
    client: str = "acme",
    site: str | None = None,
    status: str = "triggered",
    severity: str = "major",
    message: str | None = None,
    category: str | None = None,
    device_id: str | None = None,
    serial: str | None = None,
) -> CanonicalEvent:
    """An RMM alert on `device` (its hostname); its RMM device id is `device_id`."""
    payload = {
        "kind": "rmm_alert",
        "alert_id": alert_id,
        "status": status,
        "severity": severity,
        "category": category,
        "message": message if message is not None else f"disk failing on {device}",
        "device_id": device_id or device,
        "device_name": device.upper(),
        "serial": serial,
        "site": site,
    }
    return event(
        payload,
        client=client,
        entity="alert",
        record_id=alert_id,
        occurred=when,
        action=Action.triggered if status == "triggered" else Action.resolved,
        source=Source.ninjaone,
    )


def meeting(
    meeting_id: str,
    starts: datetime,
    *,
    status: str = "scheduled",
    changed: datetime | None = None,
    cancelled_by: str | None = None,
    client: str = "acme",
    occurred: datetime | None = None,
) -> CanonicalEvent:
    payload = {
        "kind": "meeting",
        "meeting_id": meeting_id,
        "meeting_kind": "review",
        "title": "Quarterly review",
        "status": status,
        "cancelled_by": cancelled_by,
        "changed_at": changed,
        "starts_at": starts,
    }
    when = occurred or changed or starts
    return event(
        payload,
        client=client,
        entity="schedule",
        record_id=meeting_id,
        occurred=when,
        action=Action.updated,
        version=status,
    )


def device_change(
    change_id: str,
    when: datetime,
    *,
    change: str = "new_device",
    tool: str | None = None,
    client: str = "acme",
    device_type: str | None = None,
    last_user: str | None = None,
    device_name: str | None = None,
) -> CanonicalEvent:
    payload = {
        "kind": "device_change",
        "change": change,
        "device_id": f"dev-{change_id}",
        "device_name": device_name or f"PC-{change_id}",
        "tool": tool,
        "device_type": device_type,
        "last_user": last_user,
    }
    return event(
        payload,
        client=client,
        entity="device",
        record_id=change_id,
        occurred=when,
        action=Action.detected,
        source=Source.ninjaone,
    )


def recommendation(
    rec_id: str,
    presented: datetime,
    *,
    status: str = "open",
    due: datetime | None = None,
    answered: datetime | None = None,
    client: str = "acme",
    occurred: datetime | None = None,
) -> CanonicalEvent:
    payload = {
        "kind": "recommendation",
        "recommendation_id": rec_id,
        "title": f"Replace firewall {rec_id}",
        "category": "lifecycle",
        "status": status,
        "presented_at": presented,
        "due_at": due,
        "answered_at": answered,
    }
    return event(
        payload,
        client=client,
        entity="recommendation",
        record_id=rec_id,
        occurred=occurred or answered or presented,
        action=Action.updated,
        version=status,
        source=Source.canonical,
    )
