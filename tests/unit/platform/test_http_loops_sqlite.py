"""Health, readiness and metrics routes; bounded body reads; the thread loop and its
back-off; the SQLite set-up."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI, Request, Response
from prometheus_client import CollectorRegistry, Counter

from services.platform import sqlite
from services.platform.http import BodyTooLarge, add_health_routes, read_body
from services.platform.loops import Backoff, Worker


def _app(ready: dict[str, Any]) -> FastAPI:
    registry = CollectorRegistry()
    Counter("partnerpulse_things", "Things seen.", registry=registry).inc(3)
    app = FastAPI()
    add_health_routes(app, registry, lambda: (ready["ok"], {"room": ready["room"]}))

    @app.post("/in")
    async def take(request: Request) -> Response:
        try:
            body = await read_body(request, 10)
        except BodyTooLarge as exc:
            return Response(str(exc), status_code=413)
        return Response(body)

    return app


def _client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://app")


def test_health_readiness_and_metrics_routes() -> None:
    ready = {"ok": True, "room": 5}

    async def scenario() -> None:
        async with _client(_app(ready)) as client:
            assert (await client.get("/healthz")).json() == {"status": "ok"}
            assert (await client.get("/readyz")).json() == {"status": "ready", "room": 5}
            ready.update(ok=False, room=0)
            answer = await client.get("/readyz")
            assert (answer.status_code, answer.json()) == (503, {"status": "not ready", "room": 0})
            metrics = await client.get("/metrics")
            assert "partnerpulse_things_total 3.0" in metrics.text
            assert metrics.headers["content-type"].startswith("text/plain")

    asyncio.run(scenario())


def test_a_body_over_the_limit_is_refused_declared_or_streamed() -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for chunk in (b"01234", b"56789", b"A"):
            yield chunk

    async def scenario() -> None:
        async with _client(_app({"ok": True, "room": 1})) as client:
            assert (await client.post("/in", content=b"0123456789")).content == b"0123456789"
            too_large = await client.post("/in", content=b"0123456789A")
            assert too_large.status_code == 413
            assert too_large.text == "body exceeds the limit of 10 bytes"
            streamed = await client.post("/in", content=chunks())  # no Content-Length
            assert streamed.status_code == 413

    asyncio.run(scenario())


def test_backoff_doubles_to_its_ceiling_and_resets_on_success() -> None:
    backoff = Backoff(0.2, 1.0)
    assert [backoff.failed() for _ in range(5)] == [0.2, 0.4, 0.8, 1.0, 1.0]
    backoff.succeeded()
    assert backoff.failed() == 0.2


class _Counting(Worker):
    thread_name = "counting"

    def __init__(self) -> None:
        super().__init__()
        self.steps = 0
        self.stepped = threading.Event()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.steps += 1
            self.stepped.set()
            self._stop.wait(60)  # only stop() ends the wait early


def test_a_worker_runs_in_its_thread_until_stopped() -> None:
    worker = _Counting().start()
    assert worker.stepped.wait(30)
    assert worker.alive()
    worker.stop(timeout=30)
    assert not worker.alive()
    assert worker.steps == 1


def test_sqlite_connections_are_wal_with_the_asked_durability(tmp_path: Path) -> None:
    path = tmp_path / "new" / "folder" / "state.db"
    conn = sqlite.connect(path, synchronous="normal", schema="CREATE TABLE t (x INTEGER);")
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert conn.execute("PRAGMA synchronous").fetchone() == (1,)  # NORMAL
        assert conn.execute("PRAGMA busy_timeout").fetchone() == (30000,)
        assert conn.in_transaction is False
        conn.execute("INSERT INTO t VALUES (1)")  # autocommit: visible to another connection
        other = sqlite.connect(path, schema="CREATE TABLE IF NOT EXISTS t (x INTEGER);")
        assert other.execute("SELECT x FROM t").fetchall() == [(1,)]
        other.close()
    finally:
        conn.close()
