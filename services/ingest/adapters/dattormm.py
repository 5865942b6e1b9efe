"""Datto RMM: alert webhooks whose JSON body is a template the MSP writes.

Datto substitutes `[variable]` placeholders into a body the MSP defines, one
body for "alert raised" and one for "alert resolved". The body this adapter
parses is documented in docs/webhook-templates.md: every key is the name of
the Datto variable it carries, plus a literal `"status"` of `"raised"` or
`"resolved"`. The client is the site (`site_uid`); authentication is a custom
header holding the tenant's secret.

The header-secret and template helpers at the end of this module are shared by
the NinjaOne and Tactical RMM adapters (see the module docstrings there).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import datetime
from typing import Any

from services.events.models import Action, RmmAlert, Source, SourceRef
from services.events.tenant import HeaderSecret, Tenant
from services.ingest.adapters.base import (
    Delivery,
    Normalised,
    PayloadError,
    VendorAdapter,
    decode_json,
    make_event,
    parse_time,
    require_object,
    text,
)
from services.ingest.adapters.signatures import verify_shared_secret

SOURCE = Source.dattormm

# The literal `status` each of the two templates carries.
_STATUS_ACTIONS = {"raised": Action.triggered, "resolved": Action.resolved}


def normalise(delivery: Delivery, tenant: Tenant) -> Normalised:
    body = require_object(decode_json(delivery.body), "body")

    def field(key: str, *, required: bool = False) -> str | None:
        # A placeholder left as-is ("[device_ip]") means Datto had no value for it.
        return template_field(body, key, unset={f"[{key}]"}, required=required)

    status = (field("status", required=True) or "").lower()
    action = _STATUS_ACTIONS.get(status)
    if action is None:
        raise PayloadError("status", f"expected 'raised' or 'resolved', got {status!r}")
    alert_uid = str(field("alert_uid", required=True))
    occurred_at = required_time(field("timestamp", required=True), "timestamp")
    device_uid = field("device_uid")

    refs = [SourceRef(source=SOURCE, entity="alert", id=alert_uid)]
    if device_uid:
        refs.append(SourceRef(source=SOURCE, entity="device", id=device_uid))
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
    return Normalised(events=[event], delivery_id=None)


# -- shared by the header-secret RMM adapters (NinjaOne, Datto RMM, Tactical RMM) ----
# Generic: candidates for signatures.py (header secret) and base.py (template field).

AuthenticateFn = Callable[[Delivery, Tenant, Sequence[bytes]], None]
SignFn = Callable[[bytes, Tenant, bytes | None], dict[str, str]]


def header_secret_functions(
    source: Source, config_of: Callable[[Tenant], HeaderSecret]
) -> tuple[AuthenticateFn, SignFn]:
    """The receiver's check and the sender's headers for a secret sent as-is in a header.

    The receiver accepts any configured secret (rotation); the sender sends the
    newest, listed last.
    """

    def authenticate(delivery: Delivery, tenant: Tenant, remote_keys: Sequence[bytes] = ()) -> None:
        config = config_of(tenant)
        verify_shared_secret(delivery.header(config.header), config.secrets, header=config.header)

    def sign(body: bytes, tenant: Tenant, signing_key: bytes | None = None) -> dict[str, str]:
        config = config_of(tenant)
        if not config.secrets:
            raise ValueError(f"webhooks.{source}.secrets is empty: no secret to send")
        return {config.header: config.secrets[-1].get_secret_value()}

    return authenticate, sign


def template_field(
    body: Mapping[str, Any], key: str, *, unset: Collection[str] = (), required: bool = False
) -> str | None:
    """A value a vendor template substituted: None when missing, empty or one of `unset`.

    `unset` holds what the vendor writes when it has no value (Datto leaves
    the `[placeholder]`, Tactical RMM renders Python's `None`).
    """
    value = text(body.get(key))
    if value is not None and value in unset:
        value = None
    if value is None and required:
        raise PayloadError(key, "required field is missing, empty or was not substituted")
    return value


def required_time(value: Any, where: str) -> datetime:
    """`parse_time` for a timestamp that must be there, typed as such."""
    parsed = parse_time(value, where)
    if parsed is None:  # parse_time already raised; this narrows the type
        raise PayloadError(where, "required timestamp is missing")
    return parsed


authenticate, sign = header_secret_functions(SOURCE, lambda tenant: tenant.webhooks.dattormm)

ADAPTER = VendorAdapter(
    source=SOURCE, authenticate_fn=authenticate, normalise_fn=normalise, sign_fn=sign
)
