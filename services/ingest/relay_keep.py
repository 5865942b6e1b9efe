"""What the relay decides besides sending: which Kafka errors are final, and the
journal's housekeeping (retention and measurement)."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass

from kafka import KafkaConsumer, TopicPartition
from kafka.errors import KafkaError, MessageSizeTooLargeError

from services.ingest.metrics import RelayMetrics
from services.ingest.relay_journal import RelayJournal

log = logging.getLogger("services.ingest.relay")


@dataclass(frozen=True)
class Housekeeping:
    """Journal retention and measurement: what the relay does besides relaying."""

    retention_days: int = 35  # 0: keep every row
    interval: float = 60.0  # seconds between two prunes and measurements
    dead_letter_max_bytes: int = 65_536


def refused_for_good(exc: BaseException) -> bool:
    """An error no retry will cure: the record must leave the queue."""
    if isinstance(exc, MessageSizeTooLargeError):
        return True
    return isinstance(exc, KafkaError) and not exc.retriable


def keep_house(journal: RelayJournal, metrics: RelayMetrics, housekeeping: Housekeeping) -> None:
    """Prune relayed rows past the retention (never pending ones); measure the journal."""
    days = housekeeping.retention_days
    if days > 0:
        pruned = journal.prune(time.time() - days * 86_400)
        if pruned:
            metrics.pruned.inc(pruned)
            log.info("relay: pruned %d relayed row(s) older than %d days", pruned, days)
    rows, size = journal.size()
    metrics.journal_rows.set(rows)
    metrics.journal_bytes.set(size)


def topic_partitions(
    consumer: KafkaConsumer, topics: Iterable[str], *, missing_ok: bool = False
) -> list[TopicPartition]:
    out = []
    for topic in topics:
        ids = consumer.partitions_for_topic(topic)
        if not ids and not missing_ok:
            raise RuntimeError(
                f"topic {topic!r} does not exist on the broker: create it (`partnerpulse topics`)"
            )
        out += [TopicPartition(topic, p) for p in sorted(ids or ())]
    return out
