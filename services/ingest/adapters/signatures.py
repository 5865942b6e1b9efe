"""Signature and secret checks shared by the adapters.

Every check runs over the raw bytes, compares in constant time, and accepts
any of several secrets so a tenant can rotate without downtime.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Callable, Iterable, Sequence

from pydantic import SecretStr

from services.events.models import Source
from services.events.tenant import HeaderSecret, Tenant
from services.ingest.adapters.base import AuthenticateFn, AuthenticationError, Delivery, SignFn


def _secret_bytes(secret: SecretStr | bytes | str) -> bytes:
    if isinstance(secret, SecretStr):
        return secret.get_secret_value().encode()
    if isinstance(secret, str):
        return secret.encode()
    return secret


def hmac_digest(key: bytes, message: bytes, digest: str) -> bytes:
    return hmac.new(key, message, digest).digest()


def decode_signature(presented: str, encoding: str) -> bytes:
    try:
        if encoding == "base64":
            return base64.b64decode(presented.strip(), validate=True)
        return bytes.fromhex(presented.strip())
    except (binascii.Error, ValueError):
        raise AuthenticationError(f"signature is not valid {encoding}") from None


def verify_hmac(
    message: bytes,
    presented: str | None,
    secrets: Iterable[SecretStr | bytes | str],
    *,
    digest: str,
    encoding: str = "base64",
    header: str,
) -> None:
    """Raise unless `presented` is the HMAC of `message` under one of `secrets`."""
    if not presented:
        raise AuthenticationError(f"missing {header} header")
    signature = decode_signature(presented, encoding)
    keys = [_secret_bytes(s) for s in secrets]
    if not keys:
        raise AuthenticationError(f"no secret is configured for this source ({header})")
    # Compare against every key (no early exit) so timing says nothing about which matched.
    matched = False
    for key in keys:
        matched |= hmac.compare_digest(hmac_digest(key, message, digest), signature)
    if not matched:
        raise AuthenticationError(f"{header} does not match the body")


def verify_shared_secret(
    presented: str | None, secrets: Iterable[SecretStr | bytes | str], *, header: str
) -> None:
    """Raise unless `presented` equals one of `secrets` (constant time)."""
    if not presented:
        raise AuthenticationError(f"missing {header} header")
    keys = [_secret_bytes(s) for s in secrets]
    if not keys:
        raise AuthenticationError(f"no secret is configured for this source ({header})")
    candidate = presented.encode()
    matched = False
    for key in keys:
        matched |= hmac.compare_digest(key, candidate)
    if not matched:
        raise AuthenticationError(f"{header} does not match a configured secret")


def verify_basic_auth(
    authorization: str | None, username: str, secrets: Iterable[SecretStr | bytes | str]
) -> None:
    """HTTP Basic authentication: the configured user and one of the passwords."""
    if not authorization or not authorization.lower().startswith("basic "):
        raise AuthenticationError("missing Basic Authorization header")
    try:
        decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise AuthenticationError("Authorization header is not valid Basic credentials") from None
    user, sep, password = decoded.partition(":")
    if not sep:
        raise AuthenticationError("Authorization header is not valid Basic credentials")
    user_ok = hmac.compare_digest(user.encode(), username.encode())
    try:
        verify_shared_secret(password, secrets, header="Authorization")
    except AuthenticationError:
        raise AuthenticationError("Basic credentials do not match") from None
    if not user_ok:
        raise AuthenticationError("Basic credentials do not match")


def sign_hmac(
    message: bytes, secret: SecretStr | bytes | str, *, digest: str, encoding: str
) -> str:
    """The signature a sender would put in its header (used by send/evaluate and tests)."""
    raw = hmac_digest(_secret_bytes(secret), message, digest)
    return base64.b64encode(raw).decode() if encoding == "base64" else raw.hex()


def newest_secret(secrets: Sequence[SecretStr], source: str, problem: str) -> SecretStr:
    """The secret a sender uses: the newest, listed last (rotation appends).

    Raises ValueError("webhooks.<source>.secrets is empty: <problem>") when there is none.
    """
    if not secrets:
        raise ValueError(f"webhooks.{source}.secrets is empty: {problem}")
    return secrets[-1]


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
        secret = newest_secret(config.secrets, source, "no secret to send")
        return {config.header: secret.get_secret_value()}

    return authenticate, sign
