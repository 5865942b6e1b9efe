"""The one webhook signature verifier: raw bytes, every secret, constant time, and
`verify` hands back the parsed body."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from services.events.tenant import Tenant
from services.ingest.adapters import base
from services.ingest.adapters.connectwise import ADAPTER as CONNECTWISE
from services.platform import signatures
from services.platform.signatures import SignatureError, sign_hmac, verify, verify_hmac
from tests.unit.adapters.test_connectwise import SIGNING_KEY, raw, signed

BODY = b'{"alerts": [], "status": "firing"}'


def test_every_configured_secret_is_tried_not_only_the_first() -> None:
    signature = sign_hmac(BODY, "new", digest="sha256", encoding="hex")
    verify_hmac(
        BODY, signature, [SecretStr("old"), "new"], digest="sha256", encoding="hex", header="x-sig"
    )
    with pytest.raises(SignatureError, match="x-sig does not match the body"):
        verify_hmac(
            BODY, signature, ["old", "older"], digest="sha256", encoding="hex", header="x-sig"
        )


def test_every_secret_is_compared_even_after_a_match(monkeypatch: pytest.MonkeyPatch) -> None:
    """No early exit: timing says nothing about which secret matched."""
    compared: list[bytes] = []
    real = hmac.compare_digest

    def counting(a: Any, b: Any) -> bool:
        compared.append(a)
        return real(a, b)

    monkeypatch.setattr(signatures.hmac, "compare_digest", counting)
    signature = sign_hmac(BODY, "first", digest="sha256", encoding="base64")
    verify_hmac(BODY, signature, ["first", "second", "third"], digest="sha256", header="x-sig")
    assert len(compared) == 3


def test_verify_hands_back_the_parsed_body_only_when_the_signature_holds() -> None:
    stamp = b"1767225600:"
    signature = sign_hmac(stamp + BODY, "k", digest="sha256", encoding="hex")
    document = verify(
        BODY,
        signature,
        ["k"],
        parse=json.loads,
        digest="sha256",
        encoding="hex",
        header="x-sig",
        signed_prefix=stamp,
    )
    assert document == {"alerts": [], "status": "firing"}
    parsed: list[bytes] = []
    with pytest.raises(SignatureError):
        verify(BODY, signature, ["k"], parse=parsed.append, digest="sha256", header="x-sig")
    assert parsed == []  # a forged body is never parsed


def test_over_the_raw_bytes_not_the_json() -> None:
    same_json = json.dumps(json.loads(BODY), indent=2).encode()
    signature = sign_hmac(BODY, "k", digest="sha1", encoding="base64")
    with pytest.raises(SignatureError, match="does not match"):
        verify_hmac(same_json, signature, ["k"], digest="sha1", header="x-sig")
    assert hashlib.sha1(BODY).digest() != hashlib.sha1(same_json).digest()


@pytest.mark.parametrize(
    ("presented", "secrets", "message"),
    [
        (None, ["k"], "missing x-sig header"),
        ("zz", ["k"], "not valid hex"),
        ("00", [], "no secret is configured"),
    ],
)
def test_refusals_say_what_is_wrong(
    presented: str | None, secrets: list[str], message: str
) -> None:
    with pytest.raises(SignatureError, match=message):
        verify_hmac(BODY, presented, secrets, digest="sha256", encoding="hex", header="x-sig")


def test_a_connectwise_body_is_parsed_once_before_its_event_exists(
    tenant: Tenant, payloads: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """key_url, the signature check and normalise all read the delivery's one document
    (the record inside, a JSON string of its own, is parsed once more)."""
    parses: list[bytes | str] = []
    real = base.decode_json

    def counting(raw_body: bytes | str, where: str = "body") -> Any:
        parses.append(raw_body)
        return real(raw_body, where)

    monkeypatch.setattr(base, "decode_json", counting)
    delivery = signed(raw(payloads, "ticket_added"))
    assert CONNECTWISE.key_url_fn is not None
    CONNECTWISE.key_url_fn(delivery, tenant)
    CONNECTWISE.authenticate(delivery, tenant, [SIGNING_KEY])
    normalised = CONNECTWISE.normalise(delivery, tenant)
    assert len(normalised.events) == 1
    assert parses == [delivery.body]
