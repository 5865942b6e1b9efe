"""Real processes: the embedded broker (tansu), uvicorn serving the ingest and relay apps."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
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
from services.ingest.relay import Relay, create_relay_app
from services.ingest.settings import IngestSettings
from services.runtime.broker import EmbeddedBroker, free_port, wait_for_port
from services.runtime.kafka import ensure_topics

from .proxy import TcpProxy

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


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


class RelayProcess:
    """`partnerpulse relay` as its own process, on the journal of `ingest_factory`."""

    def __init__(self, data_dir: Path, bootstrap: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = data_dir.parent / f"relay-{self.port}.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("PARTNERPULSE_")}
        env.update(
            PARTNERPULSE_DATA_DIR=str(data_dir),
            PARTNERPULSE_KAFKA_BOOTSTRAP=bootstrap,
            PARTNERPULSE_RELAY_PORT=str(self.port),
        )
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "services.cli", "relay"],
                env=env,
                cwd=REPO,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def wait_ready(self, timeout: float = 30) -> RelayProcess:
        deadline = time.monotonic() + timeout
        while True:
            assert self.proc.poll() is None, f"relay exited:\n{self.output()}"
            assert time.monotonic() < deadline, f"relay never ready:\n{self.output()}"
            try:
                if httpx.get(f"{self.url}/readyz", trust_env=False).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.05)

    def metric(self, name: str) -> float:
        text = httpx.get(f"{self.url}/metrics", trust_env=False).text
        match = re.search(rf"^{re.escape(name)} (\S+)$", text, re.M)
        return float(match.group(1)) if match else 0.0

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


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
