"""Hostile and unlucky input through real HTTP: a 4xx for bad input, 429/503 with
Retry-After for lack of room, never a 500."""

from __future__ import annotations

import json
import logging
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.events.models import Source
from services.events.tenant import Tenant
from services.ingest.sender import Signer
from services.platform import local_http
from services.runtime.broker import free_port

from ..support.waiting import wait_for
from .conftest import RunningIngest

pytestmark = pytest.mark.integration

REJECTED = "partnerpulse_ingest_deliveries_rejected_total"


@pytest.fixture
def signer(tenant: Tenant) -> Iterator[Signer]:
    s = Signer(tenant)
    yield s
    s.close()


def post(ingest: RunningIngest, signer: Signer, source: Source, body: bytes) -> httpx.Response:
    headers = {"content-type": "application/json", **signer.headers(source, body)}
    return ingest.post(source.value, body, headers)


def ninja_invalid(size: int) -> bytes:
    """An authentic NinjaOne delivery that is no activity: a 422 and a dead letter."""
    return json.dumps({"filler": "x" * size}).encode()


HOSTILE = {
    "nested 1,000 levels": b'{"a":' + b"[" * 1000 + b"]" * 1000 + b"}",
    "nested objects 5,000 levels": b'{"a":' * 5000 + b"1" + b"}" * 5000,
    "integer of 5,000 digits": b'{"id": ' + b"7" * 5000 + b"}",
    "integer of 100 digits": b'{"id": -' + b"7" * 100 + b"}",
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_deep_json_and_huge_integers_are_4xx_on_every_source_never_500(
    ingest_factory: Any, signer: Signer, name: str
) -> None:
    ingest: RunningIngest = ingest_factory(None)
    body = HOSTILE[name]
    for source in Source:
        if source is Source.connectwise:
            # key_url is read before the signature: an unreadable body proves nothing.
            response = ingest.post(source.value, body, {"x-content-signature": "Zm9yZ2Vk"})
            assert response.status_code == 401, (source, response.text)
            continue
        response = post(ingest, signer, source, body)
        assert response.status_code == 422, (source, response.status_code, response.text)
        error = response.json()["error"]
        assert "nested deeper than 64" in error or "more than 64 digits" in error, error
        assert ingest.metric(REJECTED, source=source.value, reason="invalid_payload") == 1


@pytest.mark.parametrize("port", [":abc", ":99999", ":-1"])
def test_connectwise_key_url_with_a_bad_port_is_401_and_nothing_is_fetched(
    ingest_factory: Any, payloads: Path, port: str
) -> None:
    ingest: RunningIngest = ingest_factory(None)
    data = json.loads((payloads / "connectwise" / "ticket_added.json").read_bytes())
    data["Metadata"]["key_url"] = f"http://127.0.0.1{port}/callback-key"
    body = json.dumps(data).encode()
    response = ingest.post("connectwise", body, {"x-content-signature": "Zm9yZ2Vk"})
    assert response.status_code == 401, response.text
    assert "key_url" in response.json()["error"]
    assert ingest.ingest.keys.fetches == 0


def test_dead_letters_count_against_the_journal_capacity(
    ingest_factory: Any, signer: Signer, tmp_path: Path
) -> None:
    """No relay: what is journaled stays pending. 20 invalid ~1 MiB bodies."""
    ingest: RunningIngest = ingest_factory(None, ingest_journal_max_pending_bytes=1024 * 1024)
    statuses = []
    for _ in range(20):
        response = post(ingest, signer, Source.ninjaone, ninja_invalid(1_040_000))
        statuses.append(response.status_code)
        if response.status_code == 429:
            assert response.headers["retry-after"] == "5"
            assert "journal full" in response.json()["error"]
    assert statuses[0] == 422
    assert 429 in statuses
    # each dead letter is cut to 64 KiB: at most 1 MiB of them wait, not 20 MB
    assert ingest.ingest.journal.pending_bytes <= 1024 * 1024 + 65_536
    assert ingest.metric(REJECTED, source="ninjaone", reason="journal_full") == statuses.count(429)


def test_dead_letters_count_against_the_row_capacity(ingest_factory: Any, signer: Signer) -> None:
    ingest: RunningIngest = ingest_factory(None, ingest_journal_max_pending=3)
    statuses = [post(ingest, signer, Source.ninjaone, ninja_invalid(10)).status_code]
    statuses += [post(ingest, signer, Source.ninjaone, ninja_invalid(10)).status_code]
    statuses += [post(ingest, signer, Source.ninjaone, ninja_invalid(10)).status_code]
    statuses += [post(ingest, signer, Source.ninjaone, ninja_invalid(10)).status_code]
    assert statuses == [422, 422, 422, 429]


def test_a_journal_that_cannot_write_answers_503_and_429_to_connectwise_and_is_not_ready(
    ingest_factory: Any, signer: Signer, payloads: Path
) -> None:
    """The journal's file limit stands in for a full disk: SQLite answers the same
    SQLITE_FULL ("database or disk is full") for both."""
    ingest: RunningIngest = ingest_factory(None, ingest_journal_max_bytes=256 * 1024)
    statuses = []
    for _ in range(12):
        response = post(ingest, signer, Source.ninjaone, ninja_invalid(60_000))
        statuses.append(response.status_code)
        if response.status_code == 503:
            break
    assert statuses[0] == 422 and statuses[-1] == 503, statuses
    assert response.headers["retry-after"] == "5"
    assert "cannot store" in response.json()["error"]
    ready = local_http.get(f"{ingest.url}/readyz")
    assert ready.status_code == 503
    assert ready.json()["journal_writable"] is False
    assert "full" in ready.json()["journal_error"]

    data = json.loads((payloads / "connectwise" / "ticket_added.json").read_bytes())
    data["Metadata"]["key_url"] = f"http://127.0.0.1:{free_port()}/callback-key/primary"
    body = json.dumps(data).encode()
    response = post(ingest, signer, Source.connectwise, body)
    assert response.status_code == 429, response.text  # ConnectWise retries only a 429
    assert response.headers["retry-after"] == "5"
    assert ingest.metric(REJECTED, source="connectwise", reason="journal_unwritable") == 1


class FailingKeyHost:
    """A ConnectWise key host that is down (answers 503), counting requests."""

    def __init__(self) -> None:
        self.requests = 0
        host = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                host.requests += 1
                self.send_response(503)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_a_failing_key_host_is_not_asked_again_for_each_forged_request(
    ingest_factory: Any, payloads: Path
) -> None:
    ingest: RunningIngest = ingest_factory(None, ingest_key_failure_cache_seconds=60)
    host = FailingKeyHost()
    try:
        data = json.loads((payloads / "connectwise" / "ticket_added.json").read_bytes())
        data["Metadata"]["key_url"] = f"http://127.0.0.1:{host.port}/callback-key"
        body = json.dumps(data).encode()
        for _ in range(5):
            response = ingest.post("connectwise", body, {"x-content-signature": "Zm9yZ2Vk"})
            assert response.status_code == 429, response.text  # so ConnectWise retries
            assert response.headers["retry-after"] == "5"
        assert host.requests == 1
    finally:
        host.close()


class Tracebacks(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info:
            self.records.append(record)


def test_a_client_gone_mid_body_is_counted_and_logs_no_traceback(ingest_factory: Any) -> None:
    ingest: RunningIngest = ingest_factory(None)
    catcher = Tracebacks()
    loggers = [logging.getLogger(n) for n in ("uvicorn", "uvicorn.error", "partnerpulse")]
    for logger in loggers:
        logger.addHandler(catcher)
    try:
        port = int(ingest.url.rsplit(":", 1)[1])
        for _ in range(3):
            with socket.create_connection(("127.0.0.1", port)) as conn:
                conn.sendall(
                    b"POST /v1/webhooks/ninjaone HTTP/1.1\r\nhost: x\r\n"
                    b'content-type: application/json\r\ncontent-length: 1000\r\n\r\n{"id":'
                )
        wait_for(
            "three disconnects counted",
            lambda: ingest.metric(REJECTED, source="ninjaone", reason="client_disconnected") == 3,
        )
    finally:
        for logger in loggers:
            logger.removeHandler(catcher)
    assert catcher.records == []
