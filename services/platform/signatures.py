"""The one webhook signature verifier.

Every check runs over the raw bytes (never re-serialised JSON), tries every configured
secret (a tenant rotates by adding the new secret before removing the old) and compares
in constant time with `hmac.compare_digest`, without stopping at the first match, so
timing says nothing about which secret matched. Like the Standard Webhooks library,
`verify` hands back the parsed body: what was verified is parsed once, and nothing
downstream parses the same bytes again.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Callable, Iterable
from typing import Literal, TypeVar

from pydantic import SecretStr

Secret = SecretStr | bytes | str
Encoding = Literal["base64", "hex"]
T = TypeVar("T")


class SignatureError(Exception):
    """The signature or secret is missing, malformed or matches no configured secret;
    the message says which, naming the header."""


def secret_bytes(secret: Secret) -> bytes:
    if isinstance(secret, SecretStr):
        return secret.get_secret_value().encode()
    if isinstance(secret, str):
        return secret.encode()
    return secret


def hmac_digest(key: bytes, message: bytes, digest: str) -> bytes:
    return hmac.new(key, message, digest).digest()


def decode_signature(presented: str, encoding: Encoding | str) -> bytes:
    try:
        if encoding == "base64":
            return base64.b64decode(presented.strip(), validate=True)
        return bytes.fromhex(presented.strip())
    except (binascii.Error, ValueError):
        raise SignatureError(f"signature is not valid {encoding}") from None


def sign_hmac(message: bytes, secret: Secret, *, digest: str, encoding: Encoding | str) -> str:
    """The signature a sender would put in its header (`send`, `evaluate`, tests)."""
    raw = hmac_digest(secret_bytes(secret), message, digest)
    return base64.b64encode(raw).decode() if encoding == "base64" else raw.hex()


def _keys(secrets: Iterable[Secret], header: str) -> list[bytes]:
    keys = [secret_bytes(s) for s in secrets]
    if not keys:
        raise SignatureError(f"no secret is configured for this source ({header})")
    return keys


def verify_hmac(
    message: bytes,
    presented: str | None,
    secrets: Iterable[Secret],
    *,
    digest: str,
    encoding: Encoding | str = "base64",
    header: str,
) -> None:
    """Raise SignatureError unless `presented` is the HMAC of `message` under one of
    `secrets`."""
    if not presented:
        raise SignatureError(f"missing {header} header")
    signature = decode_signature(presented, encoding)
    keys = _keys(secrets, header)
    matched = False
    for key in keys:  # no early exit: every secret is tried
        matched |= hmac.compare_digest(hmac_digest(key, message, digest), signature)
    if not matched:
        raise SignatureError(f"{header} does not match the body")


def verify(
    body: bytes,
    presented: str | None,
    secrets: Iterable[Secret],
    *,
    parse: Callable[[bytes], T],
    digest: str,
    encoding: Encoding | str = "base64",
    header: str,
    signed_prefix: bytes = b"",
) -> T:
    """Verify the HMAC of `signed_prefix + body` (a sender that signs a timestamp with
    the body gives the prefix), then hand back `parse(body)`."""
    verify_hmac(
        signed_prefix + body, presented, secrets, digest=digest, encoding=encoding, header=header
    )
    return parse(body)


def verify_shared_secret(presented: str | None, secrets: Iterable[Secret], *, header: str) -> None:
    """Raise SignatureError unless `presented` equals one of `secrets` (constant time)."""
    if not presented:
        raise SignatureError(f"missing {header} header")
    keys = _keys(secrets, header)
    candidate = presented.encode()
    matched = False
    for key in keys:
        matched |= hmac.compare_digest(key, candidate)
    if not matched:
        raise SignatureError(f"{header} does not match a configured secret")


def verify_basic_auth(authorization: str | None, username: str, secrets: Iterable[Secret]) -> None:
    """HTTP Basic authentication: the configured user and one of the passwords."""
    if not authorization or not authorization.lower().startswith("basic "):
        raise SignatureError("missing Basic Authorization header")
    try:
        decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise SignatureError("Authorization header is not valid Basic credentials") from None
    user, sep, password = decoded.partition(":")
    if not sep:
        raise SignatureError("Authorization header is not valid Basic credentials")
    user_ok = hmac.compare_digest(user.encode(), username.encode())
    try:
        verify_shared_secret(password, secrets, header="Authorization")
    except SignatureError:
        raise SignatureError("Basic credentials do not match") from None
    if not user_ok:
        raise SignatureError("Basic credentials do not match")
