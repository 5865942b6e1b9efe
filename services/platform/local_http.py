"""One plain-HTTP client per process for short calls to partnerpulse's own services
(health and readiness checks, /metrics, the CLI's requests, the test-suite's probes).

Building an httpx client costs about 0.1 s of CPU, even for plain http (it builds a TLS
context and loads the CA bundle), so a loop that polls every 20 ms must not build one per
call: `httpx.get(...)` does exactly that. These functions take httpx's request arguments
(`trust_env` is accepted and ignored: this client never reads proxy settings from the
environment) and share one pooled, thread-safe client."""

from __future__ import annotations

import atexit
import threading
from typing import Any

import httpx

_client: httpx.Client | None = None
_lock = threading.Lock()


def client() -> httpx.Client:
    """The process's shared client (made on first use)."""
    global _client
    with _lock:
        if _client is None:
            _client = httpx.Client(trust_env=False, timeout=30.0)
            atexit.register(close)
        return _client


def close() -> None:
    """Close the shared client (its pooled connections); the next call makes a new one."""
    global _client
    with _lock:
        if _client is not None:
            _client.close()
            _client = None


def get(url: str, **kwargs: Any) -> httpx.Response:
    kwargs.pop("trust_env", None)
    return client().get(url, **kwargs)


def post(url: str, **kwargs: Any) -> httpx.Response:
    kwargs.pop("trust_env", None)
    return client().post(url, **kwargs)
