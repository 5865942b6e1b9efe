"""ConnectWise signing keys, fetched from the callback's key_url and cached per URL.

The URL comes from an unauthenticated request body, so the adapter checks it
against the tenant's allow-list before this module is ever asked to fetch it.
The key rotates: on a signature mismatch with a cached key, fetch it once more.

A key host that cannot be reached (or answers 429/5xx) is not asked again for
`failure_ttl` seconds (a negative cache): a forged request naming a host that is
down would otherwise make ingest fetch, and wait, every time. Meanwhile every
delivery naming it is answered 429, which ConnectWise retries.

For evaluation only, `overrides` answers listed key_urls without a fetch
(`PARTNERPULSE_INGEST_CONNECTWISE_KEY_FILE`): a scenario recorded from a real
ConnectWise names vendor key_urls that no test may call.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Mapping
from pathlib import Path

import httpx


class KeyUnavailable(Exception):
    """The key server could not be reached: the sender should retry later."""


class KeyRefused(Exception):
    """The key server answered, but with no usable key for this URL."""


def load_key_file(path: Path) -> dict[str, bytes]:
    """`{"<key_url>": "<signing key>", ...}`; ValueError naming the file when it is not that."""
    try:
        document = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ValueError(f"cannot read the ConnectWise key file {path}: {exc}") from None
    if not isinstance(document, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and v for k, v in document.items()
    ):
        raise ValueError(f'{path} must hold {{"<key_url>": "<signing key>", ...}}')
    return {url: key.encode() for url, key in document.items()}


class SigningKeyCache:
    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        ttl: float = 3600.0,
        failure_ttl: float = 30.0,
        max_bytes: int = 16_384,
        max_failures: int = 10_000,
        overrides: Mapping[str, bytes] | None = None,
    ) -> None:
        self._client = client
        self._overrides = dict(overrides or {})
        self._ttl = ttl
        self._failure_ttl = failure_ttl
        self._max_bytes = max_bytes
        self._max_failures = max_failures
        self._keys: dict[str, tuple[float, bytes]] = {}
        self._failures: dict[str, tuple[float, str]] = {}  # url -> (until, why)
        self.fetches = 0
        self._locks: dict[str, asyncio.Lock] = {}

    def cached(self, url: str) -> bytes | None:
        entry = self._keys.get(url)
        if entry is None or entry[0] < time.monotonic():
            return None
        return entry[1]

    def _failed(self, url: str) -> None:
        failure = self._failures.get(url)
        if failure is None:
            return
        until, why = failure
        if until < time.monotonic():
            del self._failures[url]
            return
        raise KeyUnavailable(f"{why} (not asked again for {self._failure_ttl:g}s)")

    async def get(self, url: str, *, refresh: bool = False) -> bytes:
        if (key := self._overrides.get(url)) is not None:
            return key
        if not refresh and (key := self.cached(url)) is not None:
            return key
        self._failed(url)
        lock = self._locks.setdefault(url, asyncio.Lock())
        async with lock:
            if not refresh and (key := self.cached(url)) is not None:
                return key
            self._failed(url)
            try:
                key = await self._fetch(url)
            except KeyUnavailable as exc:
                if self._failure_ttl > 0:
                    if len(self._failures) >= self._max_failures:
                        self._failures.clear()  # bounded: forged URLs cannot grow it for ever
                    self._failures[url] = (time.monotonic() + self._failure_ttl, str(exc))
                raise
            self._keys[url] = (time.monotonic() + self._ttl, key)
            return key

    async def _fetch(self, url: str) -> bytes:
        self.fetches += 1
        try:
            response = await self._client.get(url, follow_redirects=False)
        except httpx.HTTPError as exc:
            raise KeyUnavailable(f"signing key server unreachable: {type(exc).__name__}") from None
        if response.status_code >= 500 or response.status_code == 429:
            raise KeyUnavailable(f"signing key server answered {response.status_code}")
        if response.status_code != 200:
            raise KeyRefused(f"signing key server answered {response.status_code}")
        if len(response.content) > self._max_bytes:
            raise KeyRefused("signing key response is too large")
        try:
            key = json.loads(response.content)["signing_key"]
        except (ValueError, KeyError, TypeError):
            raise KeyRefused("signing key response has no signing_key") from None
        if not isinstance(key, str) or not key:
            raise KeyRefused("signing key response has an empty signing_key")
        return key.encode()
