"""A restart of the whole embedded stack does not recompute history.

The embedded broker keeps everything in memory: when it restarts, its topics are
empty and `partnerpulse up` replays ingest's journal into the new one. The
classifier keeps its tables in RocksDB under its data dir, so after the restart it
recognises every replayed event as one its state already holds (the positions it
recorded belong to the old broker's incarnation and are not used), folds nothing
twice, and answers as before.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest
from kafka import KafkaProducer

from services.events import topics
from services.events.models import CanonicalEvent, TimeEntry
from services.events.tenant import Tenant
from services.runtime.broker import EmbeddedBroker, free_port
from services.runtime.kafka import ensure_topics

from ..unit.classifier.streams import shuffled_within, three_clients
from .classifier_support import Worker, expected_state, get_json, wait_processed

pytestmark = pytest.mark.acceptance  # the slow tier: `make test-acceptance`


def produce(bootstrap: str, events: list[CanonicalEvent]) -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    for e in events:
        producer.send(topics.EVENTS, key=e.client_id.encode(), value=e.model_dump_json().encode())
    producer.flush()
    producer.close()


def test_a_new_embedded_broker_replaying_the_journal_recomputes_nothing(
    tmp_path: Path, tenant: Tenant
) -> None:
    events = shuffled_within(three_clients(days=60), window=30)
    ids = [e.event_id for e in events]
    data = tmp_path / "var"
    port = free_port()  # one worker, restarted: its data dir is kept
    for incarnation in ("first", "second"):
        with EmbeddedBroker() as broker:
            ensure_topics(broker.bootstrap, topics.ALL)
            produce(broker.bootstrap, events)  # the journal, replayed into each new broker
            worker = Worker(
                broker.bootstrap,
                data,
                port,
                PARTNERPULSE_BROKER_INCARNATION=incarnation,
                PARTNERPULSE_CLASSIFIER_CHECKPOINT_INTERVAL="0.5",
                PARTNERPULSE_CLASSIFIER_TICK_SECONDS="0.5",
            )
            worker.start()
            try:
                wait_processed(worker.url, ids, timeout=150)
                time.sleep(2.5)  # a tick, and a checkpoint covering every event
                folded = worker.status()["events_processed"]
                if incarnation == "first":
                    assert folded == len(events)
                else:
                    # Every replayed event was recognised: nothing folded again.
                    assert folded == 0
                expected = expected_state(tenant, events)
                for client, window in expected.items():
                    got = get_json(f"{worker.url}/v1/clients/{client}")["health"]["windows"]
                    assert got["90d"] == window, (incarnation, client)
                    # The daily totals add up to every hour the client's time entries hold.
                    days = get_json(f"{worker.url}/v1/clients/{client}/daily")["days"]
                    hours = sum(d["hours_proactive"] + d["hours_reactive"] for d in days)
                    logged = sum(
                        e.payload.hours
                        for e in events
                        if e.client_id == client and isinstance(e.payload, TimeEntry)
                    )
                    assert round(hours, 2) == round(logged, 2), (incarnation, client)
            finally:
                worker.stop(signal.SIGTERM)
