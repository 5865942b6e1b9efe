"""What every vendor adapter shares: the delivery, the errors, parsing helpers.

An adapter is a pair of pure functions over one HTTP delivery:

- `authenticate(delivery, tenant, remote_keys)` raises `AuthenticationError`
  unless the signature or secret verifies over the raw bytes;
- `normalise(delivery, tenant)` returns the canonical events, or raises
  `PayloadError` naming the field and the problem.

No I/O happens here; the one remote look-up (ConnectWise's signing key) is
done by the HTTP layer and handed in as `remote_keys`.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, overload

from pydantic import ValidationError

from services.events.models import (
    Action,
    CanonicalEvent,
    Source,
    SourceRef,
    event_id_for,
    unknown_client_id,
)
from services.events.tenant import Tenant


@dataclass(frozen=True)
class Delivery:
    """One HTTP delivery as received: raw bytes and lower-cased headers."""

    source: Source
    body: bytes
    headers: Mapping[str, str]
    received_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def json(self) -> Any:
        """The body as JSON (PayloadError when it is not), parsed once: the signature
        check, the key_url look-up and `normalise` all read this one document."""
        cached = self.__dict__.get("_document", _UNPARSED)
        if cached is _UNPARSED:
            cached = decode_json(self.body)
            object.__setattr__(self, "_document", cached)
        return cached


_UNPARSED = object()


# The receiver's check and the sender's headers, as a VendorAdapter holds them.
AuthenticateFn = Callable[[Delivery, Tenant, Sequence[bytes]], None]
SignFn = Callable[[bytes, Tenant, bytes | None], dict[str, str]]


class AdapterError(Exception):
    status_code = 400
    reason = "bad_request"


class AuthenticationError(AdapterError):
    """Wrong or missing signature or secret: 401, counted, never stored."""

    status_code = 401
    reason = "authentication"


class PayloadError(AdapterError):
    """Unparsable or invalid payload: 422, raw body to the DLQ."""

    status_code = 422
    reason = "invalid_payload"

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


@dataclass(frozen=True)
class Normalised:
    """What one delivery became: its events and the vendor's delivery id."""

    events: list[CanonicalEvent]
    delivery_id: str | None = None
    # When the vendor says it sent (or last changed) what this delivery carries: the
    # time the freshness (replay) check judges. None where the body carries no such time.
    sent_at: datetime | None = None


@dataclass(frozen=True)
class VendorAdapter:
    """An adapter assembled from a vendor module's two functions."""

    source: Source
    authenticate_fn: AuthenticateFn
    normalise_fn: Callable[[Delivery, Tenant], Normalised]
    # ConnectWise only: where the signing key must be fetched from (validated
    # against the tenant's allow-list before any request is made).
    key_url_fn: Callable[[Delivery, Tenant], str] | None = None
    # The sender's side (tests, `partnerpulse send`, `evaluate`): the headers
    # that authenticate `body` for this tenant; ConnectWise takes its signing key.
    sign_fn: SignFn | None = None

    def authenticate(
        self, delivery: Delivery, tenant: Tenant, remote_keys: Sequence[bytes] = ()
    ) -> None:
        self.authenticate_fn(delivery, tenant, remote_keys)

    def normalise(self, delivery: Delivery, tenant: Tenant) -> Normalised:
        return self.normalise_fn(delivery, tenant)

    def sign(self, body: bytes, tenant: Tenant, signing_key: bytes | None = None) -> dict[str, str]:
        if self.sign_fn is None:
            raise NotImplementedError(f"{self.source} has no sender-side signing")
        return self.sign_fn(body, tenant, signing_key)


# -- parsing helpers -----------------------------------------------------------


# Limits every JSON document is held to before it is parsed (docs/security.md). Python's
# parser recurses once per level (1,000 levels: RecursionError) and refuses integers of
# more than 4,300 digits with a ValueError; these are far below both, and far above
# anything a vendor sends.
MAX_JSON_DEPTH = 64
MAX_INTEGER_DIGITS = 64
# A string (skipped whole, escapes included), or one bracket.
_TOKENS = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|([\[\]{}])')


def check_json_limits(raw: bytes | str, where: str = "body") -> None:
    """Refuse (PayloadError) a document nested deeper than MAX_JSON_DEPTH, before parsing.

    The common case costs two C-speed counts: a body with no more brackets than the
    limit cannot be nested deeper. Only a larger one is walked, string by string.
    """
    data = raw.encode() if isinstance(raw, str) else raw
    if data.count(b"[") + data.count(b"{") <= MAX_JSON_DEPTH:
        return
    depth = 0
    for token in _TOKENS.findall(data):  # b"" for a string, else the bracket
        if token in (b"[", b"{"):
            depth += 1
            if depth > MAX_JSON_DEPTH:
                raise PayloadError(
                    where, f"JSON nested deeper than {MAX_JSON_DEPTH} levels (refused unparsed)"
                )
        elif token in (b"]", b"}"):
            depth -= 1


def _bounded_int(digits: str) -> int:
    if len(digits.lstrip("-")) > MAX_INTEGER_DIGITS:
        raise _IntegerTooLong
    return int(digits)


class _IntegerTooLong(ValueError):
    pass


# One decoder (json.loads with arguments builds one per call): it hands every integer's
# digits to _bounded_int before converting them.
_DECODER = json.JSONDecoder(parse_int=_bounded_int)


def loads_json(raw: bytes | str, where: str = "body") -> Any:
    """`json.loads` within the limits above; json.JSONDecodeError for what is not JSON.

    Every adapter parses through here (or `decode_json`): one place for the limits.
    """
    check_json_limits(raw, where)
    text = raw if isinstance(raw, str) else raw.decode(json.detect_encoding(raw), "surrogatepass")
    try:
        return _DECODER.decode(text)
    except _IntegerTooLong:
        raise PayloadError(
            where, f"JSON integer of more than {MAX_INTEGER_DIGITS} digits (refused)"
        ) from None


def decode_json(raw: bytes | str, where: str = "body") -> Any:
    try:
        return loads_json(raw, where)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PayloadError(where, f"not valid JSON ({exc})") from None


def require_object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise PayloadError(where, f"expected a JSON object, got {type(value).__name__}")
    return value


def get_path(obj: Mapping[str, Any], path: str, *, where: str = "") -> Any:
    """`a.b.c` from nested objects, or None when any step is missing."""
    node: Any = obj
    for part in path.split("."):
        if not isinstance(node, Mapping):
            return None
        node = node.get(part)
        if node is None:
            return None
    return node


def require(obj: Mapping[str, Any], path: str, *, where: str = "") -> Any:
    value = get_path(obj, path)
    if value is None or (isinstance(value, str) and not value.strip()):
        raise PayloadError(f"{where}{path}", "required field is missing or empty")
    return value


@overload
def parse_time(value: Any, where: str, *, required: Literal[True] = ...) -> datetime: ...


@overload
def parse_time(value: Any, where: str, *, required: bool) -> datetime | None: ...


def parse_time(value: Any, where: str, *, required: bool = True) -> datetime | None:
    """ISO 8601 (a trailing Z allowed; naive means UTC) or epoch seconds/milliseconds."""
    if value is None or value == "":
        if required:
            raise PayloadError(where, "required timestamp is missing")
        return None
    try:
        if isinstance(value, bool):
            raise TypeError
        if isinstance(value, int | float) or (isinstance(value, str) and _is_number(value)):
            number = float(value)
            if number > 1e11:  # milliseconds
                number /= 1000
            return datetime.fromtimestamp(number, UTC)
        if isinstance(value, str):
            parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=UTC)
            return parsed.astimezone(UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        pass
    raise PayloadError(where, f"not a timestamp: {value!r} (expected ISO 8601 or epoch seconds)")


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


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


def text(value: Any) -> str | None:
    """A vendor value as a stripped string, None for missing/empty."""
    if value is None:
        return None
    if type(value) is str:  # the common case, ahead of the slower Mapping check
        return value.strip() or None
    if isinstance(value, Mapping):  # ConnectWise references: {"id":..,"name":..}
        value = value.get("name") or value.get("identifier") or value.get("id")
        if value is None:
            return None
    result = str(value).strip()
    return result or None


def ref_id(value: Any) -> str | None:
    """The id of a ConnectWise-style reference object, or the value itself."""
    if isinstance(value, Mapping):
        value = value.get("id") if value.get("id") is not None else value.get("identifier")
    return text(value)


def ref_ids(value: Any, where: str) -> list[str]:
    """Ids from a list of references or scalars (e.g. a ticket's configurations)."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise PayloadError(where, f"expected a list, got {type(value).__name__}")
    return [i for i in (ref_id(item) for item in value) if i]


def alert_refs(source: Source, alert_id: str, device_id: str | None) -> list[SourceRef]:
    """An RMM alert's refs: the alert, then the device it is about when known."""
    refs = [SourceRef(source=source, entity="alert", id=alert_id)]
    if device_id:
        refs.append(SourceRef(source=source, entity="device", id=device_id))
    return refs


def record_version(record: Mapping[str, Any], stamp: Any = None) -> str:
    """The version part of an event identity: the record's last-updated stamp, else
    a SHA-256 of its content (key order and whitespace do not matter)."""
    if stamp is not None and str(stamp).strip():
        return str(stamp).strip()
    canonical = json.dumps(record, sort_keys=True, separators=(",", ":"), default=str)
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


def build_event(where: str, build: Callable[[], CanonicalEvent]) -> CanonicalEvent:
    """Run `build` (a payload + make_event), turning a contract violation into a
    PayloadError on `where` instead of an unhandled 500."""
    try:
        return build()
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"])
        problem = f"violates the event contract at {field}: {first['msg']}"
        raise PayloadError(where, problem) from None


def make_event(
    *,
    tenant: Tenant,
    source: Source,
    action: Action,
    identity: str,
    occurred_at: datetime,
    received_at: datetime,
    source_client_ref: str | None,
    refs: Sequence[SourceRef],
    payload: Any,
    delivery_id: str | None,
    client_refs: Sequence[str] = (),
) -> CanonicalEvent:
    """Build the envelope: resolve the client, derive the deterministic id.

    `identity` is the vendor's natural identity of this event (record, action
    and version), so the same vendor event always gets the same event id.
    `client_refs` are further names of the client to try (e.g. a company
    identifier besides its numeric id).
    """
    client_id = None
    for candidate in (source_client_ref, *client_refs):
        client_id = tenant.client_for(source, candidate)
        if client_id:
            break
    return CanonicalEvent(
        event_id=event_id_for(tenant.tenant, source, identity),
        tenant=tenant.tenant,
        source=source,
        action=action,
        occurred_at=occurred_at,
        received_at=received_at,
        client_id=client_id or unknown_client_id(source, source_client_ref),
        client_known=client_id is not None,
        source_client_ref=source_client_ref,
        refs=list(refs),
        delivery_id=delivery_id,
        payload=payload,
    )
