"""Canonical: systems that post partnerpulse's own event format.

The body is one JSON `CanonicalEvent` object, or NDJSON (one object per line,
blank lines ignored). The poster may leave out what ingest decides:
`received_at` (always set from the delivery), `client_known` (always computed
from the tenant file: an unknown `client_id` is flagged, not refused),
`tenant` (if given it must be this tenant's id) and `event_id` (default: a
deterministic id from the first ref, the action and `occurred_at`, so a re-post
keeps it).

Deliveries are signed with Standard Webhooks (`webhook-id`,
`webhook-timestamp`, `webhook-signature`; secrets `whsec_...`, any configured
one may match, 5 minutes of clock skew allowed). `webhook-id` is the delivery id.
"""

from __future__ import annotations

import binascii
import hashlib
import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from pydantic import SecretStr, ValidationError
from standardwebhooks import Webhook, WebhookVerificationError
from standardwebhooks.webhooks import EmptyWebhookSecretError

from services.events.models import CanonicalEvent, EntityKind, Source, event_id_for
from services.events.tenant import Tenant
from services.ingest.adapters.base import (
    AuthenticationError,
    Delivery,
    Normalised,
    PayloadError,
    VendorAdapter,
    loads_json,
)

SOURCE = Source.canonical
HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature")
# Stands in, while validating, for the id of an event posted without one.
_EVENT_ID_PENDING = "pending"
_PAYLOAD_KINDS = frozenset(kind.value for kind in EntityKind)


# -- authentication -------------------------------------------------------------


def authenticate(delivery: Delivery, tenant: Tenant, remote_keys: Sequence[bytes] = ()) -> None:
    webhooks = _webhooks(tenant.webhooks.canonical.secrets)
    headers = {name: value for name in HEADERS if (value := delivery.header(name)) is not None}
    failure: str | None = None
    matched = False
    # Try every secret (no early exit) so timing says nothing about which matched.
    for webhook in webhooks:
        try:
            webhook.verify(delivery.body, headers, json_parse=False)
            matched = True
        except WebhookVerificationError as exc:
            failure = str(exc)
        except UnicodeDecodeError:
            raise AuthenticationError(
                "the body is not UTF-8, so its Standard Webhooks signature cannot be checked"
            ) from None
        except ValueError:  # a signature entry without "," or not base64
            raise AuthenticationError(
                "webhook-signature is malformed: expected space-separated 'v1,<base64>' entries"
            ) from None
    if not matched:
        raise AuthenticationError(f"Standard Webhooks verification failed: {failure}")


def sign_headers(
    body: bytes, secrets: Iterable[SecretStr | str], *, msg_id: str, timestamp: datetime
) -> dict[str, str]:
    """The Standard Webhooks headers for `body`, signed with every secret (rotation)."""
    webhooks = _webhooks(secrets)
    at = timestamp.astimezone(UTC)
    data = body.decode()
    signatures = " ".join(w.sign(msg_id=msg_id, timestamp=at, data=data) for w in webhooks)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signatures,
    }


def sign(body: bytes, tenant: Tenant, signing_key: bytes | None = None) -> dict[str, str]:
    """Sender side: sign for now; the id derives from the body so a re-send keeps it."""
    msg_id = "msg_" + hashlib.sha256(body).hexdigest()[:32]
    return sign_headers(
        body, tenant.webhooks.canonical.secrets, msg_id=msg_id, timestamp=datetime.now(UTC)
    )


def _webhooks(secrets: Iterable[SecretStr | str]) -> list[Webhook]:
    webhooks = []
    for index, secret in enumerate(secrets):
        value = secret.get_secret_value() if isinstance(secret, SecretStr) else secret
        try:
            webhooks.append(Webhook(value))
        except (binascii.Error, ValueError, EmptyWebhookSecretError):
            raise AuthenticationError(
                f"webhooks.canonical.secrets[{index}] is not a Standard Webhooks secret "
                "('whsec_' followed by base64)"
            ) from None
    if not webhooks:
        raise AuthenticationError("no secret is configured for this source (webhooks.canonical)")
    return webhooks


# -- normalisation --------------------------------------------------------------


def normalise(delivery: Delivery, tenant: Tenant) -> Normalised:
    delivery_id = delivery.header("webhook-id")
    events = [
        _event(obj, where, delivery, tenant, delivery_id) for where, obj in _objects(delivery.body)
    ]
    return Normalised(events=events, delivery_id=delivery_id)


def _objects(body: bytes) -> list[tuple[str, dict[str, Any]]]:
    """(where, object) for a single JSON object or each NDJSON line.

    `where` prefixes error paths: "" for a single object, "line N: " for NDJSON.
    """
    try:
        content = body.decode()
    except UnicodeDecodeError as exc:
        raise PayloadError("body", f"not UTF-8 ({exc})") from None
    if not content.strip():
        raise PayloadError("body", "empty: expected one JSON object or NDJSON, one per line")
    try:
        return [("", _object(loads_json(content), "body"))]
    except json.JSONDecodeError:
        pass  # not one JSON document: read it as NDJSON
    objects = []
    for number, line in enumerate(content.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            parsed = loads_json(line, f"line {number}")
        except json.JSONDecodeError as exc:
            raise PayloadError(f"line {number}", f"not valid JSON ({exc})") from None
        objects.append((f"line {number}: ", _object(parsed, f"line {number}")))
    return objects


def _object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise PayloadError(
            where, f"expected a JSON object (a CanonicalEvent), got {type(value).__name__}"
        )
    return value


def _event(
    obj: dict[str, Any], where: str, delivery: Delivery, tenant: Tenant, delivery_id: str | None
) -> CanonicalEvent:
    posted_tenant = obj.get("tenant")
    if posted_tenant is not None and posted_tenant != tenant.tenant:
        raise PayloadError(
            f"{where}tenant", f"{posted_tenant!r} is not this tenant ({tenant.tenant!r})"
        )
    posted_id = obj.get("event_id")
    if posted_id is not None and (not isinstance(posted_id, str) or not posted_id.strip()):
        raise PayloadError(f"{where}event_id", "must be a non-empty string when given")

    data = {
        "event_id": _EVENT_ID_PENDING,
        "delivery_id": delivery_id,
        **obj,
        "tenant": tenant.tenant,
        "received_at": delivery.received_at,
        "client_known": True,  # recomputed below
    }
    try:
        event = CanonicalEvent.model_validate(data)
    except ValidationError as exc:
        raise _payload_error(exc, where) from None

    updates: dict[str, Any] = {"client_known": tenant.client(event.client_id) is not None}
    if posted_id is None:
        identity = f"{event.ref}\x1f{event.action}\x1f{event.occurred_at.isoformat()}"
        updates["event_id"] = event_id_for(tenant.tenant, event.source, identity)
    return event.model_copy(update=updates)


def _payload_error(exc: ValidationError, where: str) -> PayloadError:
    errors = exc.errors(include_url=False)
    first, *others = errors
    problem = first["msg"]
    if others:
        rest = "; ".join(f"{_loc(e['loc'])}: {e['msg']}" for e in others)
        problem += f" (and {len(others)} more: {rest})"
    return PayloadError(f"{where}{_loc(first['loc'])}", problem)


def _loc(loc: tuple[int | str, ...]) -> str:
    """`payload.created_at`, `refs[0].id`: the path as the poster wrote it."""
    parts = list(loc)
    # A discriminated union puts the tag in the path (payload.ticket.created_at).
    if len(parts) > 2 and parts[0] == "payload" and parts[1] in _PAYLOAD_KINDS:
        del parts[1]
    path = ""
    for part in parts:
        path += f"[{part}]" if isinstance(part, int) else f"{'.' if path else ''}{part}"
    return path or "(top level)"


ADAPTER = VendorAdapter(
    source=SOURCE, authenticate_fn=authenticate, normalise_fn=normalise, sign_fn=sign
)
