"""Per-client series belong to the worker whose partitions carry the client's events."""

from __future__ import annotations

from kafka.partitioner.default import murmur2
from prometheus_client import generate_latest

from services.classifier.metrics import ClassifierMetrics
from services.classifier.publish import partition_of


def clients_in(metrics: ClassifierMetrics) -> set[str]:
    text = generate_latest(metrics.registry).decode()
    return {
        line.split('client="', 1)[1].split('"', 1)[0]
        for line in text.splitlines()
        if 'client="' in line and not line.startswith("#")
    }


def test_a_worker_shows_only_the_clients_it_owns() -> None:
    metrics = ClassifierMetrics(["acme", "globex"])
    assert clients_in(metrics) == {"acme", "globex"}
    metrics.own(["acme"])  # globex's partition went to another worker
    assert clients_in(metrics) == {"acme"}
    assert not metrics.owns("globex")
    metrics.at(metrics.score, "acme").set(80)
    metrics.own(["acme", "globex"])  # and came back: zeros again, acme's value kept
    assert clients_in(metrics) == {"acme", "globex"}
    text = generate_latest(metrics.registry).decode()
    assert 'partnerpulse_client_health_score{client="acme"} 80.0' in text
    assert 'partnerpulse_client_health_score{client="globex"} 0.0' in text


def test_partition_of_places_a_client_where_ingest_puts_its_events() -> None:
    # kafka-python's DefaultPartitioner, which the relay's producer uses.
    for partitions in (1, 4, 7):
        for i in range(200):
            key = f"client-{i}".encode()
            assert partition_of(key, partitions) == (murmur2(key) & 0x7FFFFFFF) % partitions
