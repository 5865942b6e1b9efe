"""Real processes: the embedded broker (tansu), uvicorn serving the ingest app."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from kafka import KafkaConsumer, TopicPartition

from services.events import topics
from services.events.tenant import Tenant
from services.ingest.app import Ingest, create_app
from services.ingest.settings import IngestSettings
from services.runtime.broker import EmbeddedBroker, free_port, wait_for_port
from services.runtime.kafka import ensure_topics

from .proxy import TcpProxy

pytestmark = pytest.mark.integration


@pytest.fixture
def broker() -> Iterator[EmbeddedBroker]:
    with EmbeddedBroker() as b:
        ensure_topics(b.bootstrap, topics.ALL)
        yield b


@dataclass
class ProxiedBroker:
    broker: EmbeddedBroker
    proxy: TcpProxy

    @property
    def bootstrap(self) -> str:
        return self.broker.bootstrap


@pytest.fixture
def proxied_broker() -> Iterator[ProxiedBroker]:
    """A broker reachable only through a proxy the test can cut."""
    proxy_port = free_port()
    with EmbeddedBroker(advertised_port=proxy_port) as b:
        proxy = TcpProxy(proxy_port, b.port).start()
        try:
            ensure_topics(b.bootstrap, topics.ALL)
            yield ProxiedBroker(b, proxy)
        finally:
            proxy.stop()


@dataclass
class RunningIngest:
    url: str
    ingest: Ingest
    server: uvicorn.Server

    def post(self, source: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
        return httpx.post(
            f"{self.url}/v1/webhooks/{source}",
            content=body,
            headers=headers,
            trust_env=False,
            timeout=30,
        )

    def metric(self, name: str, **labels: str) -> float:
        value = self.ingest.metrics.registry.get_sample_value(name, labels)
        return 0.0 if value is None else value


def serve(app: Any, port: int) -> tuple[uvicorn.Server, threading.Thread]:
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", access_log=False, lifespan="on"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for_port("127.0.0.1", port)
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    return server, thread


def start_ingest(
    tenant: Tenant, data_dir: Path, bootstrap: str | None, **settings: Any
) -> tuple[RunningIngest, threading.Thread]:
    port = free_port()
    config = IngestSettings(
        kafka_bootstrap=bootstrap, data_dir=data_dir, ingest_port=port, **settings
    )
    app = create_app(config, tenant=tenant)
    server, thread = serve(app, port)
    return RunningIngest(f"http://127.0.0.1:{port}", app.state.ingest, server), thread


@pytest.fixture
def ingest_factory(tenant: Tenant, tmp_path: Path) -> Iterator[Any]:
    started: list[tuple[RunningIngest, threading.Thread]] = []

    def make(bootstrap: str | None, **settings: Any) -> RunningIngest:
        running = start_ingest(tenant, tmp_path / "var", bootstrap, **settings)
        started.append(running)
        return running[0]

    yield make
    for running, thread in started:
        running.server.should_exit = True
        thread.join(20)


def read_topic(
    bootstrap: str,
    topic: str,
    *,
    expect: int | None = None,
    timeout: float = 20.0,
    settle: float = 1.0,
) -> list[Any]:
    """Every record on `topic` from the start: wait for `expect`, then `settle` more."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        parts = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic))]
        consumer.assign(parts)
        consumer.seek_to_beginning()
        records: list[Any] = []
        deadline = time.monotonic() + timeout
        quiet_until: float | None = None
        while time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=200).values():
                records.extend(batch)
            if expect is not None and len(records) >= expect and quiet_until is None:
                quiet_until = time.monotonic() + settle
            if quiet_until is not None and time.monotonic() >= quiet_until:
                break
        return records
    finally:
        consumer.close()


def event_values(records: list[Any]) -> list[dict[str, Any]]:
    return [json.loads(r.value) for r in records]
