"""ConnectWise PSA callbacks: the signature and the signing key's URL (connectwise.py).

The signature header `x-content-signature` is base64(HMAC-SHA256(key=SHA-256(signing_key),
message=raw body)); the signing key is fetched by the HTTP layer from `Metadata.key_url`,
which `key_url` checks against the tenant's allow-list first (the URL comes from an
unauthenticated body).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from urllib.parse import urlsplit

from services.events.tenant import Tenant
from services.ingest.adapters.base import (
    AuthenticationError,
    Delivery,
    PayloadError,
    get_path,
    require_object,
)
from services.ingest.adapters.signatures import sign_hmac, verify_hmac

SIGNATURE_HEADER = "x-content-signature"


def key_url(delivery: Delivery, tenant: Tenant) -> str:
    """Metadata.key_url, refused unless its host is on the tenant's allow-list.

    An unsigned delivery is refused here too, so it never causes a key fetch."""
    if not delivery.header(SIGNATURE_HEADER):
        raise AuthenticationError(f"missing {SIGNATURE_HEADER} header")
    try:
        body = require_object(delivery.json(), "body")
    except PayloadError as exc:
        raise AuthenticationError(f"cannot read Metadata.key_url: {exc}") from None
    url = get_path(body, "Metadata.key_url")
    if not isinstance(url, str) or not url.strip():
        raise AuthenticationError("Metadata.key_url is missing or not a string")
    url = url.strip()
    try:
        urlsplit(url).port  # noqa: B018 (a port that is not a number, or out of range, raises)
    except ValueError as exc:
        raise AuthenticationError(f"Metadata.key_url is not a usable URL: {exc}") from None
    if not tenant.webhooks.connectwise.allows(url):
        raise AuthenticationError(
            f"Metadata.key_url {url!r} is not on webhooks.connectwise.key_url_hosts"
        )
    return url


def _signing_key(fetched: bytes) -> bytes:
    """The signing key from what key_url returned: `{"signing_key": "..."}` or the key itself."""
    if fetched.lstrip().startswith(b"{"):
        try:
            document = json.loads(fetched)
        except (UnicodeDecodeError, json.JSONDecodeError):
            return fetched
        if isinstance(document, dict) and isinstance(document.get("signing_key"), str):
            return str(document["signing_key"]).encode()
    return fetched


def authenticate(delivery: Delivery, tenant: Tenant, remote_keys: Sequence[bytes]) -> None:
    # Re-check the header and the allow-list: a key fetched from anywhere else proves nothing.
    key_url(delivery, tenant)
    if not remote_keys:
        raise AuthenticationError("no signing key was fetched from Metadata.key_url")
    hmac_keys = [hashlib.sha256(_signing_key(key)).digest() for key in remote_keys]
    presented = delivery.header(SIGNATURE_HEADER)
    verify_hmac(delivery.body, presented, hmac_keys, digest="sha256", header=SIGNATURE_HEADER)


def sign(body: bytes, tenant: Tenant, signing_key: bytes | None) -> dict[str, str]:
    if not signing_key:
        raise ValueError("ConnectWise signs with the signing key served at key_url; pass it")
    hmac_key = hashlib.sha256(_signing_key(signing_key)).digest()
    return {SIGNATURE_HEADER: sign_hmac(body, hmac_key, digest="sha256", encoding="base64")}
