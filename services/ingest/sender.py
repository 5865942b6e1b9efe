"""The sender's side of a webhook: sign a body as its vendor would, and post it.

Used by `partnerpulse send`, by the evaluator's replay and by tests. For
ConnectWise it also plays the vendor's key server: the signing key is served
at the body's `Metadata.key_url` (a loopback URL the tenant file allows).
"""

from __future__ import annotations

import json
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from services.events.models import Source
from services.events.tenant import Tenant
from services.ingest.adapters import ADAPTERS


class KeyServer:
    """Serves ConnectWise signing keys on loopback: path -> key."""

    def __init__(self, host: str, port: int) -> None:
        self.keys: dict[str, bytes] = {}
        self.requests: list[str] = []  # paths asked for, in order
        keys, requests = self.keys, self.requests

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                requests.append(self.path)
                key = keys.get(urlsplit(self.path).path)
                if key is None:
                    self.send_response(404)
                    self.end_headers()
                    return
                body = json.dumps({"signing_key": key.decode()}).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> KeyServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class Signer:
    """Signs deliveries for one tenant; serves ConnectWise keys while open."""

    def __init__(self, tenant: Tenant, *, connectwise_key: bytes | None = None) -> None:
        self.tenant = tenant
        self.connectwise_key = connectwise_key or secrets.token_urlsafe(24).encode()
        self._servers: dict[tuple[str, int], KeyServer] = {}

    def headers(self, source: Source | str, body: bytes) -> dict[str, str]:
        source = Source(source)
        if source is Source.connectwise:
            self._serve_key(body)
            return ADAPTERS[source].sign(body, self.tenant, self.connectwise_key)
        return ADAPTERS[source].sign(body, self.tenant, None)

    def _serve_key(self, body: bytes) -> None:
        try:
            url = json.loads(body)["Metadata"]["key_url"]
        except (ValueError, KeyError, TypeError):
            return  # nothing to serve; ingest will refuse the delivery, as it should
        parts = urlsplit(url)
        if parts.hostname not in ("127.0.0.1", "localhost") or not parts.port:
            return  # a real ConnectWise host: its own key server answers
        address = (parts.hostname, parts.port)
        server = self._servers.get(address)
        if server is None:
            server = self._servers[address] = KeyServer(*address).start()
        server.keys[parts.path] = self.connectwise_key

    def close(self) -> None:
        for server in self._servers.values():
            server.stop()
        self._servers.clear()


@contextmanager
def signer(tenant: Tenant) -> Iterator[Signer]:
    s = Signer(tenant)
    try:
        yield s
    finally:
        s.close()
