"""Signature and secret checks of the adapters: `services.platform.signatures` (the one
verifier: raw bytes, every secret, constant time) with its refusals as the adapters'
AuthenticationError (401), and the tenant's secrets as the sender's side uses them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TypeVar

from pydantic import SecretStr

from services.events.models import Source
from services.events.tenant import HeaderSecret, Tenant
from services.ingest.adapters.base import AuthenticateFn, AuthenticationError, Delivery, SignFn
from services.platform import signatures
from services.platform.signatures import Secret, SignatureError, hmac_digest, sign_hmac

__all__ = [
    "header_secret_functions",
    "hmac_digest",
    "newest_secret",
    "sign_hmac",
    "verify_basic_auth",
    "verify_hmac",
    "verify_shared_secret",
]

T = TypeVar("T")


def _authentication(call: Callable[[], T]) -> T:
    try:
        return call()
    except SignatureError as exc:
        raise AuthenticationError(str(exc)) from None


def verify_hmac(
    message: bytes,
    presented: str | None,
    secrets: Iterable[Secret],
    *,
    digest: str,
    encoding: str = "base64",
    header: str,
) -> None:
    """Raise AuthenticationError unless `presented` is the HMAC of `message` under one of
    `secrets` (`services.platform.signatures`, the one verifier)."""
    _authentication(
        lambda: signatures.verify_hmac(
            message, presented, secrets, digest=digest, encoding=encoding, header=header
        )
    )


def verify_shared_secret(presented: str | None, secrets: Iterable[Secret], *, header: str) -> None:
    """Raise AuthenticationError unless `presented` equals one of `secrets` (constant time)."""
    _authentication(lambda: signatures.verify_shared_secret(presented, secrets, header=header))


def verify_basic_auth(authorization: str | None, username: str, secrets: Iterable[Secret]) -> None:
    """HTTP Basic authentication: the configured user and one of the passwords."""
    _authentication(lambda: signatures.verify_basic_auth(authorization, username, secrets))


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
