"""Datto RMM: alert webhooks whose JSON body is a template the MSP writes.

Datto substitutes `[variable]` placeholders into a body the MSP defines, one
body for "alert raised" and one for "alert resolved". The body this adapter
parses is documented in docs/webhook-templates.md: every key is the name of
the Datto variable it carries, plus a literal `"status"` of `"raised"` or
`"resolved"`. The client is the site (`site_uid`); authentication is a custom
header holding the tenant's secret.
"""

from __future__ import annotations

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

SOURCE = Source.dattormm

# The literal `status` each of the two templates carries.
_STATUS_ACTIONS = {"raised": Action.triggered, "resolved": Action.resolved}


def normalise(delivery: Delivery, tenant: Tenant) -> Normalised:
    body = require_object(delivery.json(), "body")

    def field(key: str, *, required: bool = False) -> str | None:
        # A placeholder left as-is ("[device_ip]") means Datto had no value for it.
        return template_field(body, key, unset={f"[{key}]"}, required=required)

    status = (field("status", required=True) or "").lower()
    action = _STATUS_ACTIONS.get(status)
    if action is None:
        raise PayloadError("status", f"expected 'raised' or 'resolved', got {status!r}")
    alert_uid = str(field("alert_uid", required=True))
    occurred_at = parse_time(field("timestamp", required=True), "timestamp")
    device_uid = field("device_uid")

    refs = alert_refs(SOURCE, alert_uid, device_uid)
    payload = RmmAlert(
        alert_id=alert_uid,
        status="triggered" if action is Action.triggered else "resolved",
        severity=tenant.map(SOURCE, "severity", field("alert_priority")),
        category=field("alert_category") or field("alert_type"),
        message=field("alert_message_en"),
        device_id=device_uid,
        device_name=field("device_hostname"),
        site=field("site_name"),
    )
    event = make_event(
        tenant=tenant,
        source=SOURCE,
        action=action,
        identity=f"alert:{alert_uid}:{status}",
        occurred_at=occurred_at,
        received_at=delivery.received_at,
        source_client_ref=field("site_uid"),
        refs=refs,
        payload=payload,
        delivery_id=None,  # Datto sends no delivery id; the event id dedupes retries
    )
    return Normalised(events=[event], delivery_id=None, sent_at=occurred_at)


authenticate, sign = header_secret_functions(SOURCE, lambda tenant: tenant.webhooks.dattormm)

ADAPTER = VendorAdapter(
    source=SOURCE, authenticate_fn=authenticate, normalise_fn=normalise, sign_fn=sign
)
