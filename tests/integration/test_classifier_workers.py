"""Three classifier workers in one consumer group on the embedded broker.

One is killed with SIGKILL mid-stream; the other two take its partitions over
(recovering its clients' states from the changelog) and every count ends exactly
what the pure engine computes: nothing lost, nothing counted twice. Any worker
answers for every client, and each client's per-client metrics come from one
worker only.
"""

from __future__ import annotations

import json
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kafka import KafkaProducer

from services.events import topics
from services.events.models import CanonicalEvent
from services.events.tenant import load_tenant
from services.platform import local_http
from services.runtime.broker import EmbeddedBroker

from ..unit.classifier.streams import shuffled_within, three_clients
from .classifier_support import (
    AUTH,
    TENANT_FILE,
    Worker,
    expected_state,
    get_json,
    series,
    wait_judged,
    wait_processed,
)

pytestmark = pytest.mark.acceptance  # the slow tier: `make test-acceptance`

COPIES = 4  # 12 clients over the 4 partitions of the events topic


def names(copy: int) -> tuple[str, str, str]:
    return (f"acme-{copy}", f"globex-{copy}", f"vandelay-{copy}")


@pytest.fixture
def group_tenant(tmp_path: Path) -> Path:
    """The test tenant with four copies of its three clients."""
    raw = yaml.safe_load(TENANT_FILE.read_text())
    lead = raw["clients"][0]["account_lead"]
    raw.pop("alerts", None)  # its routing names the original clients
    raw["clients"] = [
        {"id": client, "name": client.title(), "account_lead": lead, "endpoints": 40}
        for copy in range(COPIES)
        for client in names(copy)
    ]
    path = tmp_path / "tenant.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


@pytest.fixture
def workers(broker: EmbeddedBroker, tmp_path: Path, group_tenant: Path) -> Iterator[list[Worker]]:
    group = [
        Worker(broker.bootstrap, tmp_path / "var", PARTNERPULSE_TENANT_FILE=str(group_tenant))
        for _ in range(3)
    ]
    yield group
    for w in group:
        if w.proc is not None:
            w.stop(signal.SIGKILL)


def produce(bootstrap: str, events: list[CanonicalEvent]) -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    for e in events:
        producer.send(topics.EVENTS, key=e.client_id.encode(), value=e.model_dump_json().encode())
    producer.flush()
    producer.close()


def test_three_workers_one_killed_mid_stream_count_every_event_once(
    broker: EmbeddedBroker, workers: list[Worker], group_tenant: Path
) -> None:
    for w in workers:
        w.start()
    deadline = time.monotonic() + 120
    # The group formed: every worker has partitions of its own.
    while not all(w.status(local=True).get("partitions") for w in workers):
        assert time.monotonic() < deadline, workers[0].log.read_text()[-3000:]
        time.sleep(0.2)
    events: list[CanonicalEvent] = []
    for copy in range(COPIES):
        events += three_clients(days=90, seed=copy, names=names(copy))
    events = shuffled_within(events, window=30)
    produce(broker.bootstrap, [*events, *events[:300]])  # the first 300 delivered twice
    killed, *live = workers
    while killed.status(local=True).get("events_processed", 0) < 50:
        assert time.monotonic() < deadline, killed.log.read_text()[-3000:]
        time.sleep(0.02)
    assert live[0].status()["events_processed"] < len(events), "finished before the kill"
    killed.stop(signal.SIGKILL)

    ids = [e.event_id for e in events]
    for w in live:  # each worker answers for the whole group
        wait_processed(w.url, ids, timeout=240)
    wait_judged(live)  # every client judged at the final watermark
    expected = expected_state(load_tenant(group_tenant), events)
    assert len(expected) == 3 * COPIES
    for client, window in expected.items():
        for w in live:
            got = get_json(f"{w.url}/v1/clients/{client}")["health"]["windows"]["90d"]
            assert got == window, (client, w.url)
    listed = {row["client_id"]: row for row in get_json(f"{live[0].url}/v1/clients")}
    assert all(listed[c]["score"] is not None for c in expected)
    for client in expected:
        owners = [
            w.url for w in live if series(w.url, "partnerpulse_client_health_score", client=client)
        ]
        assert len(owners) == 1, (client, owners)


def test_workers_joining_mid_stream_take_partitions_over_exactly(
    broker: EmbeddedBroker, workers: list[Worker], group_tenant: Path
) -> None:
    """Two workers join one that is processing a steady stream: partitions move from a
    live worker to the newcomers, with events of them already fetched and waiting in the
    first worker's batch. Every event still counts once, each client's state is whole."""
    first, *joining = workers
    first.start()
    deadline = time.monotonic() + 120
    while not first.status(local=True).get("partitions"):
        assert time.monotonic() < deadline, first.log.read_text()[-3000:]
        time.sleep(0.2)
    events: list[CanonicalEvent] = []
    for copy in range(COPIES):
        events += three_clients(days=90, seed=copy, names=names(copy))
    events = shuffled_within(events, window=30)

    def steadily() -> None:
        for i in range(0, len(events), 40):
            produce(broker.bootstrap, events[i : i + 40])
            time.sleep(0.25)

    stream = threading.Thread(target=steadily)
    stream.start()  # about 20 s of traffic
    try:
        while first.status(local=True).get("events_processed", 0) < 200:
            assert time.monotonic() < deadline, first.log.read_text()[-3000:]
            time.sleep(0.05)
        for w in joining:
            w.start()
        while not all(w.status(local=True).get("partitions") for w in joining):
            assert time.monotonic() < deadline, joining[0].log.read_text()[-3000:]
            time.sleep(0.2)
        assert stream.is_alive(), "the stream ended before the workers joined"
    finally:
        stream.join()

    ids = [e.event_id for e in events]
    wait_processed(first.url, ids, timeout=240)
    wait_judged(workers)  # every client judged at the final watermark
    expected = expected_state(load_tenant(group_tenant), events)
    for client, window in expected.items():
        got = get_json(f"{first.url}/v1/clients/{client}")["health"]["windows"]["90d"]
        if got != window:  # what each worker holds of it, to tell which one answered
            held = [(w.url, _local_window(w, client), w.status(local=True)) for w in workers]
            pytest.fail(json.dumps({"client": client, "got": got, "want": window, "held": held}))


def _local_window(worker: Worker, client: str) -> Any:
    response = local_http.get(
        f"{worker.url}/v1/clients/{client}",
        headers={**AUTH, "X-Partnerpulse-Local": "1"},
        timeout=10,
    )
    return response.json()["health"]["windows"]["90d"] if response.status_code == 200 else None
