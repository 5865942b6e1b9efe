from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from services.events.models import (
    Action,
    DeviceChange,
    RmmAlert,
    Source,
    SourceRef,
    Ticket,
    Visit,
)
from services.events.tenant import HmacSecret, Tenant
from services.ingest.adapters.base import AuthenticationError, Delivery, PayloadError
from services.ingest.adapters.canonical import ADAPTER, sign_headers

RECEIVED = datetime(2026, 3, 2, 14, 6, tzinfo=UTC)

# The Standard Webhooks published test vector (the specification's reference
# libraries test against it, e.g. libraries/python/tests/test_webhooks.py).
VECTOR_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VECTOR_MSG_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
VECTOR_TIMESTAMP = 1614265330
VECTOR_PAYLOAD = b'{"test": 2432232314}'
VECTOR_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
OTHER_SECRET = "whsec_" + base64.b64encode(b"a rotated canonical secret, 32by").decode()


def raw(payloads: Path, name: str) -> bytes:
    return (payloads / "canonical" / name).read_bytes()


def standard_signature(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """Computed here from the specification, independently of the code under test."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(signed).decode()


def signed_headers(body: bytes, secret: str = VECTOR_SECRET, **overrides: str) -> dict[str, str]:
    now = int(time.time())
    headers = {
        "webhook-id": "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W",
        "webhook-timestamp": str(now),
        "webhook-signature": standard_signature(
            secret, "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W", now, body
        ),
    }
    return {**headers, **overrides}


def delivery(
    body: bytes, headers: dict[str, str] | None = None, received_at: datetime = RECEIVED
) -> Delivery:
    return Delivery(
        source=Source.canonical,
        body=body,
        headers={k.lower(): v for k, v in (headers or {"webhook-id": "msg_test"}).items()},
        received_at=received_at,
    )


def with_secrets(tenant: Tenant, secrets: list[str]) -> Tenant:
    config = HmacSecret(secrets=[SecretStr(s) for s in secrets])
    webhooks = tenant.webhooks.model_copy(update={"canonical": config})
    return tenant.model_copy(update={"webhooks": webhooks})


# -- signing: the published test vector -----------------------------------------


def test_signing_reproduces_the_standard_webhooks_test_vector() -> None:
    headers = sign_headers(
        VECTOR_PAYLOAD,
        [VECTOR_SECRET],
        msg_id=VECTOR_MSG_ID,
        timestamp=datetime.fromtimestamp(VECTOR_TIMESTAMP, UTC),
    )
    assert headers == {
        "webhook-id": VECTOR_MSG_ID,
        "webhook-timestamp": str(VECTOR_TIMESTAMP),
        "webhook-signature": VECTOR_SIGNATURE,
    }
    # ... and the vector is what the specification's construction gives.
    assert (
        standard_signature(VECTOR_SECRET, VECTOR_MSG_ID, VECTOR_TIMESTAMP, VECTOR_PAYLOAD)
        == VECTOR_SIGNATURE
    )


def test_signing_with_several_secrets_sends_one_signature_each() -> None:
    at = datetime.fromtimestamp(VECTOR_TIMESTAMP, UTC)
    headers = sign_headers(
        VECTOR_PAYLOAD, [OTHER_SECRET, VECTOR_SECRET], msg_id=VECTOR_MSG_ID, timestamp=at
    )
    assert headers["webhook-signature"].split(" ") == [
        standard_signature(OTHER_SECRET, VECTOR_MSG_ID, VECTOR_TIMESTAMP, VECTOR_PAYLOAD),
        VECTOR_SIGNATURE,
    ]


def test_the_published_vector_is_refused_today_as_a_replay(tenant: Tenant) -> None:
    headers = {
        "webhook-id": VECTOR_MSG_ID,
        "webhook-timestamp": str(VECTOR_TIMESTAMP),
        "webhook-signature": VECTOR_SIGNATURE,
    }
    with pytest.raises(AuthenticationError, match="too old"):
        ADAPTER.authenticate(delivery(VECTOR_PAYLOAD, headers), tenant)


# -- authentication -------------------------------------------------------------


def test_a_freshly_signed_body_verifies(tenant: Tenant, payloads: Path) -> None:
    body = raw(payloads, "batch.ndjson")
    headers = ADAPTER.sign(body, tenant)
    assert set(headers) == {"webhook-id", "webhook-timestamp", "webhook-signature"}
    assert abs(int(headers["webhook-timestamp"]) - time.time()) < 5
    ADAPTER.authenticate(delivery(body, headers), tenant)
    # The id derives from the body: re-sending the same body keeps it.
    assert ADAPTER.sign(body, tenant)["webhook-id"] == headers["webhook-id"]


def test_a_body_signed_by_hand_per_the_specification_verifies(
    tenant: Tenant, payloads: Path
) -> None:
    body = raw(payloads, "ticket.json")
    ADAPTER.authenticate(delivery(body, signed_headers(body)), tenant)
    with pytest.raises(AuthenticationError):  # the same headers over other bytes: refused
        ADAPTER.authenticate(delivery(body + b" ", signed_headers(body)), tenant)


def test_any_configured_secret_may_match(tenant: Tenant, payloads: Path) -> None:
    rotating = with_secrets(tenant, [OTHER_SECRET, VECTOR_SECRET])
    body = raw(payloads, "ticket.json")
    for secret in (OTHER_SECRET, VECTOR_SECRET):
        ADAPTER.authenticate(delivery(body, signed_headers(body, secret)), rotating)
    with pytest.raises(AuthenticationError, match="No matching signature"):
        ADAPTER.authenticate(delivery(body, signed_headers(body, OTHER_SECRET)), tenant)


def test_one_matching_signature_among_several_is_enough(tenant: Tenant, payloads: Path) -> None:
    body = raw(payloads, "ticket.json")
    headers = signed_headers(body)
    stale = signed_headers(body, OTHER_SECRET)["webhook-signature"]
    headers["webhook-signature"] = f"{stale} v1a,c2lnbmF0dXJl {headers['webhook-signature']}"
    ADAPTER.authenticate(delivery(body, headers), tenant)
    headers["webhook-signature"] = f"{stale} v1a,c2lnbmF0dXJl"  # without the good one
    with pytest.raises(AuthenticationError, match="No matching signature"):
        ADAPTER.authenticate(delivery(body, headers), tenant)


@pytest.mark.parametrize(
    ("tamper", "reason"),
    [
        (lambda b, h: (b + b" ", h), "No matching signature"),
        (lambda b, h: (b, {**h, "webhook-id": "msg_other"}), "No matching signature"),
        (lambda b, h: (b, {k: v for k, v in h.items() if k != "webhook-id"}), "Missing"),
        (lambda b, h: (b, {k: v for k, v in h.items() if k != "webhook-signature"}), "Missing"),
        (lambda b, h: (b, {k: v for k, v in h.items() if k != "webhook-timestamp"}), "Missing"),
        (lambda b, h: (b, {**h, "webhook-timestamp": "soon"}), "Invalid Signature Headers"),
        (lambda b, h: (b, {**h, "webhook-signature": "garbage"}), "malformed"),
        (lambda b, h: (b, {**h, "webhook-signature": "v1,not*base64"}), "malformed"),
    ],
)
def test_a_tampered_or_incomplete_delivery_is_refused(
    tenant: Tenant, payloads: Path, tamper: Any, reason: str
) -> None:
    body, headers = tamper(
        raw(payloads, "ticket.json"), signed_headers(raw(payloads, "ticket.json"))
    )
    with pytest.raises(AuthenticationError, match=reason):
        ADAPTER.authenticate(delivery(body, headers), tenant)


@pytest.mark.parametrize(("shift", "reason"), [(-301, "too old"), (301, "too new")])
def test_a_timestamp_outside_five_minutes_is_refused(
    tenant: Tenant, payloads: Path, shift: int, reason: str
) -> None:
    body = raw(payloads, "ticket.json")
    at = int(time.time()) + shift
    headers = {
        "webhook-id": "msg_1",
        "webhook-timestamp": str(at),
        "webhook-signature": standard_signature(VECTOR_SECRET, "msg_1", at, body),
    }
    with pytest.raises(AuthenticationError, match=reason):
        ADAPTER.authenticate(delivery(body, headers), tenant)


def test_a_body_that_is_not_utf8_cannot_be_verified(tenant: Tenant) -> None:
    body = b'{"summary": "caf\xe9"}'
    with pytest.raises(AuthenticationError, match="not UTF-8"):
        ADAPTER.authenticate(delivery(body, signed_headers(body)), tenant)


@pytest.mark.parametrize(
    ("secrets", "reason"),
    [
        ([], "no secret is configured"),
        (["whsec_not base64!"], r"webhooks\.canonical\.secrets\[0\]"),
        (["whsec_"], r"webhooks\.canonical\.secrets\[0\]"),
    ],
)
def test_a_misconfigured_secret_refuses_with_the_key_to_fix(
    tenant: Tenant, payloads: Path, secrets: list[str], reason: str
) -> None:
    body = raw(payloads, "ticket.json")
    with pytest.raises(AuthenticationError, match=reason):
        ADAPTER.authenticate(delivery(body, signed_headers(body)), with_secrets(tenant, secrets))


# -- normalisation: one object --------------------------------------------------


def test_one_posted_event_is_completed_by_ingest(tenant: Tenant, payloads: Path) -> None:
    headers = {"webhook-id": "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W"}
    result = ADAPTER.normalise(delivery(raw(payloads, "ticket.json"), headers), tenant)

    assert result.delivery_id == "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W"
    (event,) = result.events
    assert event.tenant == "northwind-msp"
    assert event.received_at == RECEIVED
    assert event.delivery_id == "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W"
    assert (event.client_id, event.client_known) == ("acme", True)
    assert event.action is Action.created
    assert event.occurred_at == datetime(2026, 3, 2, 8, 14, tzinfo=UTC)
    assert event.ref == SourceRef(source=Source.canonical, entity="ticket", id="HD-1042")
    assert isinstance(event.payload, Ticket)
    assert event.payload.summary == "Printer on reception offline"


def posted(payloads: Path, **changes: Any) -> dict[str, Any]:
    obj: dict[str, Any] = json.loads(raw(payloads, "ticket.json"))
    obj.update(changes)
    return obj


def normalise_one(tenant: Tenant, obj: dict[str, Any], **kwargs: Any) -> Any:
    (event,) = ADAPTER.normalise(delivery(json.dumps(obj).encode(), **kwargs), tenant).events
    return event


def test_the_default_event_id_follows_ref_action_and_time(tenant: Tenant, payloads: Path) -> None:
    base = normalise_one(tenant, posted(payloads)).event_id
    # Same ref, action and time: same id, whatever else changed or whenever it arrived.
    assert (
        normalise_one(
            tenant,
            posted(payloads, source_client_ref=None, occurred_at="2026-03-02T08:14:00Z"),
            received_at=RECEIVED + timedelta(hours=3),
        ).event_id
        == base
    )
    different = [
        posted(payloads, action="updated"),
        posted(payloads, occurred_at="2026-03-02T09:15:00+01:00"),
        posted(payloads, refs=[{"source": "canonical", "entity": "ticket", "id": "HD-1043"}]),
    ]
    assert len({base, *(normalise_one(tenant, obj).event_id for obj in different)}) == 4


def test_a_posted_event_id_is_kept(tenant: Tenant, payloads: Path) -> None:
    event = normalise_one(tenant, posted(payloads, event_id="poster-chosen-id"))
    assert event.event_id == "poster-chosen-id"


def test_what_ingest_decides_overrides_the_poster(tenant: Tenant, payloads: Path) -> None:
    obj = posted(
        payloads,
        tenant="northwind-msp",
        received_at="2020-01-01T00:00:00Z",
        client_known=False,
        delivery_id="poster-delivery",
    )
    event = normalise_one(tenant, obj)
    assert event.received_at == RECEIVED
    assert event.client_known is True
    assert event.delivery_id == "poster-delivery"


def test_an_unknown_client_is_flagged_not_refused(tenant: Tenant, payloads: Path) -> None:
    event = normalise_one(tenant, posted(payloads, client_id="initech", client_known=True))
    assert (event.client_id, event.client_known) == ("initech", False)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"tenant": "other-msp"}, "tenant: 'other-msp' is not this tenant ('northwind-msp')"),
        ({"event_id": ""}, "event_id: must be a non-empty string when given"),
        ({"occurred_at": None}, "occurred_at: Input should be a valid datetime"),
        ({"occurred_at": "2026-03-02T09:14:00"}, "occurred_at: Input should have timezone info"),
        ({"refs": []}, "refs: List should have at least 1 item after validation, not 0"),
        ({"colour": "red"}, "colour: Extra inputs are not permitted"),
        ({"action": "opened"}, "action: Input should be"),
        ({"payload": {"kind": "invoice"}}, "payload: Input tag 'invoice' found using 'kind'"),
    ],
)
def test_an_invalid_object_names_the_field(
    tenant: Tenant, payloads: Path, changes: dict[str, Any], message: str
) -> None:
    obj = posted(payloads, **changes)
    with pytest.raises(PayloadError) as exc:
        ADAPTER.normalise(delivery(json.dumps(obj).encode()), tenant)
    assert str(exc.value).startswith(message)


def test_a_missing_required_field_is_named(tenant: Tenant, payloads: Path) -> None:
    obj = posted(payloads)
    del obj["client_id"]
    with pytest.raises(PayloadError) as exc:
        ADAPTER.normalise(delivery(json.dumps(obj).encode()), tenant)
    assert str(exc.value) == "client_id: Field required"


def test_every_problem_in_an_object_is_reported(tenant: Tenant, payloads: Path) -> None:
    obj = posted(payloads)
    del obj["payload"]["created_at"]
    obj["refs"][0]["id"] = None
    with pytest.raises(PayloadError) as exc:
        ADAPTER.normalise(delivery(json.dumps(obj).encode()), tenant)
    assert exc.value.field == "refs[0].id"
    assert "payload.created_at: Field required" in exc.value.problem


# -- normalisation: NDJSON ------------------------------------------------------


def test_an_ndjson_batch_is_one_event_per_line(tenant: Tenant, payloads: Path) -> None:
    result = ADAPTER.normalise(delivery(raw(payloads, "batch.ndjson")), tenant)

    alert, change, visit = result.events
    assert isinstance(alert.payload, RmmAlert)
    assert alert.refs[1] == SourceRef(source=Source.canonical, entity="device", id="ACME-DC01")
    assert isinstance(change.payload, DeviceChange)
    assert change.event_id == "0d9b6f0e-7c1a-4c55-9f43-4a3f1f8d2b61"
    assert (change.client_id, change.client_known) == ("initech", False)
    assert isinstance(visit.payload, Visit)
    assert visit.client_id == "globex"
    assert {e.delivery_id for e in result.events} == {"msg_test"}
    assert len({e.event_id for e in result.events}) == 3


def test_a_retried_batch_keeps_its_event_ids(tenant: Tenant, payloads: Path) -> None:
    body = raw(payloads, "batch.ndjson")
    first = ADAPTER.normalise(delivery(body), tenant).events
    retry = ADAPTER.normalise(delivery(body, received_at=RECEIVED + timedelta(minutes=1)), tenant)
    assert [e.event_id for e in retry.events] == [e.event_id for e in first]


def test_an_invalid_line_is_named_with_its_number_and_field(tenant: Tenant, payloads: Path) -> None:
    with pytest.raises(PayloadError) as exc:
        ADAPTER.normalise(delivery(raw(payloads, "missing_created_at.ndjson")), tenant)
    assert str(exc.value) == "line 3: payload.created_at: Field required"


def test_line_numbers_count_blank_lines(tenant: Tenant, payloads: Path) -> None:
    lines = raw(payloads, "batch.ndjson").decode().splitlines()
    lines[3] = lines[3].replace('"client_id": "globex"', '"client_id": 7')
    with pytest.raises(PayloadError) as exc:
        ADAPTER.normalise(delivery("\n".join(lines).encode()), tenant)
    assert str(exc.value) == "line 4: client_id: Input should be a valid string"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "body: empty"),
        (b"\n  \n", "body: empty"),
        (b"[1, 2]", "body: expected a JSON object"),
        (b'{"a": 1}\n{"b": \n', "line 2: not valid JSON"),
        (b'{"tenant": "other-msp"}\n{}\n', "line 1: tenant: 'other-msp' is not this tenant"),
        (b'{"a": 1}\n42\n', "line 2: expected a JSON object"),
        (b"\xff", "body: not UTF-8"),
    ],
)
def test_a_body_that_is_neither_an_object_nor_ndjson_is_refused(
    tenant: Tenant, body: bytes, message: str
) -> None:
    with pytest.raises(PayloadError) as exc:
        ADAPTER.normalise(delivery(body), tenant)
    assert str(exc.value).startswith(message)
