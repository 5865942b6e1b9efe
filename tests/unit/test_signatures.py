"""Shared verification helpers, checked against published HMAC test vectors."""

from __future__ import annotations

import base64

import pytest
from pydantic import SecretStr

from services.ingest.adapters.base import AuthenticationError
from services.ingest.adapters.signatures import (
    hmac_digest,
    sign_hmac,
    verify_basic_auth,
    verify_hmac,
    verify_shared_secret,
)

# RFC 4231 test case 2 (HMAC-SHA256) and RFC 2202 test case 2 (HMAC-SHA1).
RFC4231_KEY, RFC4231_DATA = b"Jefe", b"what do ya want for nothing?"
RFC4231_SHA256 = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
RFC2202_SHA1 = "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"


def test_hmac_matches_rfc_vectors() -> None:
    assert hmac_digest(RFC4231_KEY, RFC4231_DATA, "sha256").hex() == RFC4231_SHA256
    assert hmac_digest(RFC4231_KEY, RFC4231_DATA, "sha1").hex() == RFC2202_SHA1


def test_verify_hmac_accepts_any_rotated_secret() -> None:
    signature = base64.b64encode(bytes.fromhex(RFC4231_SHA256)).decode()
    verify_hmac(
        RFC4231_DATA,
        signature,
        [SecretStr("old"), SecretStr("Jefe")],
        digest="sha256",
        header="x-sig",
    )
    verify_hmac(
        RFC4231_DATA, RFC4231_SHA256, ["Jefe"], digest="sha256", encoding="hex", header="x-sig"
    )
    with pytest.raises(AuthenticationError, match="does not match"):  # none of them: refused
        verify_hmac(RFC4231_DATA, signature, ["old", "jefe"], digest="sha256", header="x-sig")


@pytest.mark.parametrize(
    ("presented", "secrets", "message"),
    [
        (None, ["Jefe"], "missing x-sig"),
        ("not base64!", ["Jefe"], "not valid base64"),
        (base64.b64encode(b"\x00" * 32).decode(), ["Jefe"], "does not match"),
        (base64.b64encode(bytes.fromhex(RFC4231_SHA256)).decode(), [], "no secret"),
    ],
)
def test_verify_hmac_refuses(presented: str | None, secrets: list[str], message: str) -> None:
    with pytest.raises(AuthenticationError, match=message):
        verify_hmac(RFC4231_DATA, presented, secrets, digest="sha256", header="x-sig")


def test_verify_hmac_is_over_raw_bytes() -> None:
    body = b'{"a": 1}'
    signature = sign_hmac(body, "k", digest="sha256", encoding="base64")
    with pytest.raises(AuthenticationError):
        verify_hmac(b'{"a":1}', signature, ["k"], digest="sha256", header="x-sig")


def test_shared_secret() -> None:
    verify_shared_secret("two", ["one", SecretStr("two")], header="x-secret")
    with pytest.raises(AuthenticationError, match="does not match"):
        verify_shared_secret("three", ["one", "two"], header="x-secret")
    with pytest.raises(AuthenticationError, match="missing"):
        verify_shared_secret("", ["one"], header="x-secret")


def test_basic_auth() -> None:
    good = "Basic " + base64.b64encode(b"partnerpulse:pw2").decode()
    verify_basic_auth(good, "partnerpulse", ["pw1", "pw2"])
    for bad in (
        None,
        "Bearer x",
        "Basic !!!",
        "Basic " + base64.b64encode(b"nocolon").decode(),
        "Basic " + base64.b64encode(b"mallory:pw2").decode(),
        "Basic " + base64.b64encode(b"partnerpulse:nope").decode(),
    ):
        with pytest.raises(AuthenticationError):
            verify_basic_auth(bad, "partnerpulse", ["pw1", "pw2"])
