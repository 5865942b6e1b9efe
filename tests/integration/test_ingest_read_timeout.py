"""The read deadline: connections that never finish their headers or body are closed.

Served as `partnerpulse ingest` serves it (services.ingest.server), through real
sockets: 300 slow clients, half stuck in their headers, half in their body.
"""

from __future__ import annotations

import selectors
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn

from services.events.tenant import Tenant
from services.ingest.app import create_app
from services.ingest.server import server_config
from services.ingest.settings import IngestSettings
from services.platform import local_http
from services.runtime.broker import free_port, wait_for_port

pytestmark = pytest.mark.integration

READ_TIMEOUT = 1.0
SLOW_CLIENTS = 300


@pytest.fixture
def served(tenant: Tenant, tmp_path: Path) -> Iterator[str]:
    port = free_port()
    settings = IngestSettings(
        data_dir=tmp_path / "var", ingest_port=port, ingest_read_timeout_seconds=READ_TIMEOUT
    )
    app = create_app(settings, tenant=tenant)
    config = server_config(
        app, "127.0.0.1", port, log_level="warning", read_timeout=app.state.read_timeout
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for_port("127.0.0.1", port)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(20)


def test_unfinished_headers_and_bodies_are_closed_after_the_read_timeout(served: str) -> None:
    port = int(served.rsplit(":", 1)[1])
    partial_headers = b"POST /v1/webhooks/ninjaone HTTP/1.1\r\nhost: x\r\ncontent-le"
    partial_body = (
        b"POST /v1/webhooks/ninjaone HTTP/1.1\r\nhost: x\r\n"
        b'content-type: application/json\r\ncontent-length: 5000\r\n\r\n{"id": '
    )
    selector = selectors.DefaultSelector()
    opened = time.monotonic()
    for i in range(SLOW_CLIENTS):
        conn = socket.create_connection(("127.0.0.1", port))
        conn.sendall(partial_headers if i % 2 else partial_body)
        conn.setblocking(False)
        selector.register(conn, selectors.EVENT_READ)
    try:
        open_conns = SLOW_CLIENTS
        closed_at = []
        deadline = opened + READ_TIMEOUT + 15
        while open_conns and time.monotonic() < deadline:
            for key, _ in selector.select(timeout=0.5):
                conn = key.fileobj
                assert isinstance(conn, socket.socket)
                try:
                    data = conn.recv(65536)
                except ConnectionResetError:
                    data = b""
                if data:
                    continue  # an answer may come first; the close follows
                selector.unregister(conn)
                conn.close()
                open_conns -= 1
                closed_at.append(time.monotonic() - opened)
        assert open_conns == 0, f"{open_conns} slow connections still open"
        # None closed before its time; the server's close came soon after it.
        assert min(closed_at) >= READ_TIMEOUT * 0.9
        assert max(closed_at) < READ_TIMEOUT + 10
    finally:
        for key in list(selector.get_map().values()):
            key.fileobj.close()  # type: ignore[union-attr]
        selector.close()

    # and the server still answers a client that sends its request in time
    assert local_http.get(f"{served}/healthz").status_code == 200


def test_a_keep_alive_client_is_not_cut_between_quick_requests(served: str) -> None:
    with httpx.Client(trust_env=False) as client:
        for _ in range(3):
            assert client.get(f"{served}/healthz").status_code == 200
            time.sleep(READ_TIMEOUT * 0.6)  # idle, under the keep-alive timeout (5 s)
        # the connection was reused across the pauses, never closed under it
        assert client.get(f"{served}/healthz").status_code == 200


def test_a_body_that_trickles_in_is_answered_if_it_ends_in_time(served: str) -> None:
    port = int(served.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port)) as conn:
        conn.sendall(b"POST /v1/webhooks/nosuch HTTP/1.1\r\nhost: x\r\ncontent-length: 2\r\n\r\n{")
        time.sleep(READ_TIMEOUT / 4)
        conn.sendall(b"}")
        conn.settimeout(5)
        answer = conn.recv(65536)
    assert answer.startswith(b"HTTP/1.1 404")
