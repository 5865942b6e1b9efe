"""Real processes: the embedded broker (tansu), uvicorn serving the ingest and relay apps.

The plumbing (processes, waiting, serving, metrics) is in tests/support; the fixtures here."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from kafka import KafkaConsumer, TopicPartition

from services.events import topics
from services.events.tenant import Tenant
from services.ingest.app import Ingest, create_app
from services.ingest.relay import Relay, create_relay_app
from services.ingest.settings import IngestSettings
from services.platform import local_http
from services.runtime.broker import EmbeddedBroker, free_port
from services.runtime.kafka import ensure_topics
from services.vendorapi.records import ApiRecords, ReplayClock
from services.vendorapi.server import RunningStandIns, start_standins

from ..support.metrics import sample
from ..support.polling import T0, records
from ..support.processes import REPO, ServiceProcess, clean_env
from ..support.servers import serve
from .proxy import TcpProxy

__all__ = ["REPO", "serve"]  # imported from here by test modules

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
class RunningRelay:
    url: str
    relay: Relay
    server: uvicorn.Server

    def metric(self, name: str, **labels: str) -> float:
        value = self.relay.metrics.registry.get_sample_value(name, labels)
        return 0.0 if value is None else value


@dataclass
class RunningIngest:
    url: str
    ingest: Ingest
    server: uvicorn.Server
    relay: RunningRelay | None = None  # in this process, as `partnerpulse relay` would run

    def post(self, source: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
        return local_http.post(
            f"{self.url}/v1/webhooks/{source}",
            content=body,
            headers=headers,
            trust_env=False,
            timeout=30,
        )

    def metric(self, name: str, **labels: str) -> float:
        value = self.ingest.metrics.registry.get_sample_value(name, labels)
        return 0.0 if value is None else value


def start_ingest(
    tenant: Tenant, data_dir: Path, bootstrap: str | None, **settings: Any
) -> tuple[RunningIngest, list[threading.Thread]]:
    """Ingest, and with a `bootstrap` its relay on the same journal."""
    port, relay_port = free_port(), free_port()
    config = IngestSettings(
        kafka_bootstrap=bootstrap,
        data_dir=data_dir,
        ingest_port=port,
        relay_port=relay_port,
        **settings,
    )
    app = create_app(config, tenant=tenant)
    server, thread = serve(app, port)
    running = RunningIngest(f"http://127.0.0.1:{port}", app.state.ingest, server)
    threads = [thread]
    if bootstrap is not None:
        relay_app = create_relay_app(config)
        relay_server, relay_thread = serve(relay_app, relay_port)
        running.relay = RunningRelay(
            f"http://127.0.0.1:{relay_port}", relay_app.state.relay, relay_server
        )
        threads.append(relay_thread)
    return running, threads


@pytest.fixture
def ingest_factory(tenant: Tenant, tmp_path: Path) -> Iterator[Any]:
    """`make(bootstrap, **settings)`: ingest in this process; with a broker, its relay too."""
    started: list[tuple[RunningIngest, list[threading.Thread]]] = []

    def make(bootstrap: str | None, **settings: Any) -> RunningIngest:
        running = start_ingest(tenant, tmp_path / "var", bootstrap, **settings)
        started.append(running)
        return running[0]

    yield make
    for running, threads in started:
        running.server.should_exit = True
        if running.relay is not None:
            running.relay.server.should_exit = True
        for thread in threads:
            thread.join(20)


class RelayProcess(ServiceProcess):
    """`partnerpulse relay` as its own process, on the journal of `ingest_factory`."""

    def __init__(self, data_dir: Path, bootstrap: str) -> None:
        self.port = free_port()
        env = clean_env(
            PARTNERPULSE_DATA_DIR=str(data_dir),
            PARTNERPULSE_KAFKA_BOOTSTRAP=bootstrap,
            PARTNERPULSE_RELAY_PORT=str(self.port),
        )
        log = data_dir.parent / f"relay-{self.port}.log"
        super().__init__("relay", env, log, f"http://127.0.0.1:{self.port}")
        self.start()

    def wait_ready(self, timeout: float = 90) -> RelayProcess:
        self.wait_answering("/readyz", timeout)
        return self

    def metric(self, name: str) -> float:
        return sample(local_http.get(f"{self.url}/metrics").text, name) or 0.0


@pytest.fixture
def relay_process_factory(tmp_path: Path) -> Iterator[Any]:
    """`make(bootstrap)`: start `partnerpulse relay` on the journal in `tmp_path / "var"`."""
    started: list[RelayProcess] = []

    def make(bootstrap: str) -> RelayProcess:
        relay = RelayProcess(tmp_path / "var", bootstrap)
        started.append(relay)
        return relay

    yield make
    for relay in started:
        relay.stop()


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


@pytest.fixture
def running() -> Iterator[list[RunningStandIns]]:
    """Vendor API stand-ins a test starts (test_vendorapi.client), stopped after it."""
    started: list[RunningStandIns] = []
    yield started
    for standins in started:
        standins.stop()


@pytest.fixture
def clock() -> ReplayClock:
    """The stand-ins' replay clock, an hour into the small MSP's records, standing still."""
    return ReplayClock(T0 + timedelta(hours=1), speed=0)


@pytest.fixture
def standins(clock: ReplayClock) -> Iterator[RunningStandIns]:
    """The vendor API stand-ins serving tests/support/polling's records."""
    started = start_standins(ApiRecords(records()), clock, None)
    yield started
    started.stop()
