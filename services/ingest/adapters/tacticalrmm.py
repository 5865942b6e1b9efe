"""Tactical RMM: alert webhooks ("URL actions") with templated headers and body.

An alert template runs one webhook on failure and another on resolve; each
body is JSON in which Tactical replaces `{{model.field}}` with `str(value)`
(`{{alert.alert_time}}` renders as `2026-03-02 14:05:09.123456+00:00`, an
empty value as `None`), then parses it and sends it again with `json.dumps`.
The body this adapter parses is documented in docs/webhook-templates.md; its
literal `"event"` is `"trigger"` in the failure webhook and `"resolved"` in
the resolve webhook. The client is Tactical's client name; authentication is
a custom header holding the tenant's secret.
"""

from __future__ import annotations

import hashlib

from services.events.models import Action, RmmAlert, Source
from services.events.tenant import Tenant
from services.ingest.adapters.base import (
    Delivery,
    Normalised,
    PayloadError,
    VendorAdapter,
    alert_refs,
    make_event,
    parse_time,
    require_object,
    template_field,
)
from services.ingest.adapters.signatures import header_secret_functions

SOURCE = Source.tacticalrmm

_EVENT_ACTIONS = {"trigger": Action.triggered, "resolved": Action.resolved}
# What Tactical renders for a variable with no value (str(None)).
_UNSET = frozenset({"None"})


def normalise(delivery: Delivery, tenant: Tenant) -> Normalised:
    decoded = delivery.json()
    if isinstance(decoded, str):
        # Tactical sends its template as a JSON string when the rendered text
        # was not valid JSON, typically a value with a double quote in it.
        raise PayloadError(
            "body",
            "Tactical RMM sent a JSON string instead of an object: the rendered template "
            "was not valid JSON (a substituted value, often {{alert.message}}, broke it)",
        )
    body = require_object(decoded, "body")

    def field(key: str, *, required: bool = False) -> str | None:
        return template_field(body, key, unset=_UNSET, required=required)

    event = (field("event", required=True) or "").lower()
    action = _EVENT_ACTIONS.get(event)
    if action is None:
        raise PayloadError("event", f"expected 'trigger' or 'resolved', got {event!r}")
    if action is Action.resolved and field("resolved_on"):
        occurred_at = parse_time(field("resolved_on"), "resolved_on")
    else:
        occurred_at = parse_time(field("alert_time", required=True), "alert_time")

    alert_type = field("alert_type")
    message = field("message")
    hostname = field("hostname")
    device_id = field("agent_id") or hostname
    alert_id = field("alert_id")
    if alert_id:
        identity = f"alert:{alert_id}:{event}"
    else:
        # Without {{alert.id}} the body itself is the identity (a retry repeats
        # it); trigger and resolve still join on what both render identically.
        identity = f"body:{hashlib.sha256(delivery.body).hexdigest()}"
        alert_id = "derived:" + _digest(device_id, alert_type, message)

    refs = alert_refs(SOURCE, alert_id, device_id)
    payload = RmmAlert(
        alert_id=alert_id,
        status="triggered" if action is Action.triggered else "resolved",
        severity=tenant.map(SOURCE, "severity", field("severity")),
        category=alert_type,
        message=message,
        device_id=device_id,
        device_name=hostname,
        site=field("site"),
    )
    return Normalised(
        events=[
            make_event(
                tenant=tenant,
                source=SOURCE,
                action=action,
                identity=identity,
                occurred_at=occurred_at,
                received_at=delivery.received_at,
                source_client_ref=field("client"),
                refs=refs,
                payload=payload,
                delivery_id=None,  # Tactical sends no delivery id
            )
        ],
        delivery_id=None,
    )


def _digest(*parts: str | None) -> str:
    joined = "\x1f".join(part or "" for part in parts)
    return hashlib.sha256(joined.encode()).hexdigest()[:32]


authenticate, sign = header_secret_functions(SOURCE, lambda tenant: tenant.webhooks.tacticalrmm)

ADAPTER = VendorAdapter(
    source=SOURCE, authenticate_fn=authenticate, normalise_fn=normalise, sign_fn=sign
)
