"""The consumer: `partnerpulse.signals` and `partnerpulse.health` into the outbox.

A kafka-python consumer group with manual commits. Each poll's records are
applied in one SQLite transaction (alerts updated, notices queued, on disk
with `synchronous=FULL`); only then are the offsets committed. A crash in
between redelivers the records, and the policy recognises each of them as
already taken in (signal version, health `as_of`/`seq`): nothing is queued
twice. So committed offsets only save work; the database is what makes a
redelivery harmless, also when a fresh embedded broker replays everything.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from typing import Any

from kafka import KafkaConsumer
from kafka.errors import KafkaError
from pydantic import ValidationError

from services.alerts.engine import Alerting, Incoming
from services.alerts.metrics import AlertsMetrics
from services.alerts.settings import AlertsSettings
from services.alerts.worker import Worker
from services.events import topics
from services.events.outputs import HealthSnapshot, Signal

log = logging.getLogger("partnerpulse.alerts.consumer")

TOPICS = (topics.SIGNALS, topics.HEALTH)


class RecordConsumer(Worker):
    thread_name = "alerts-consumer"

    def __init__(
        self,
        engine: Alerting,
        bootstrap: str,
        settings: AlertsSettings,
        metrics: AlertsMetrics,
        *,
        backoff_max: float = 5.0,
    ) -> None:
        self.engine = engine
        self.bootstrap = bootstrap
        self.settings = settings
        self.metrics = metrics
        self.backoff_max = backoff_max
        self.assigned = False
        super().__init__()

    def _consumer(self) -> KafkaConsumer:
        s = self.settings
        consumer = KafkaConsumer(
            bootstrap_servers=self.bootstrap,
            client_id="partnerpulse-alerts",
            group_id=s.alerts_group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            fetch_max_wait_ms=s.alerts_fetch_max_wait_ms,
            session_timeout_ms=s.alerts_session_timeout_ms,
            heartbeat_interval_ms=max(100, s.alerts_session_timeout_ms // 10),
            max_poll_interval_ms=300_000,
            request_timeout_ms=max(30_000, s.alerts_session_timeout_ms + 5_000),
        )
        consumer.subscribe(list(TOPICS))
        return consumer

    def _run(self) -> None:
        backoff = 0.2
        consumer: Any = None
        try:
            while not self._stop.is_set():
                try:
                    if consumer is None:
                        consumer = self._consumer()
                    batch = consumer.poll(timeout_ms=500, max_records=500)
                    self.assigned = bool(consumer.assignment())
                    if batch:
                        self._apply(batch)
                        consumer.commit()
                    backoff = 0.2
                except Exception as exc:
                    # The broker is away, or the database refused (disk full?): nothing
                    # was committed, so the records come again after a rejoin.
                    if isinstance(exc, KafkaError):
                        log.warning("consumer: %s; rejoining in %.1fs", exc, backoff)
                    else:
                        log.exception("consumer: could not apply a batch; rejoining")
                    self.assigned = False
                    if consumer is not None:
                        _close(consumer)
                        consumer = None
                    self._stop.wait(backoff)
                    backoff = min(backoff * 2, self.backoff_max)
        finally:
            if consumer is not None:
                _close(consumer)

    def _apply(self, batch: dict[Any, list[Any]]) -> None:
        """Parse each record once, here, and hand the valid ones to the engine; an invalid
        one is logged and counted, and its offset committed with the rest (skipped)."""
        consumed: Counter[str] = Counter()
        invalid: Counter[str] = Counter()
        parsed = []
        for record in (r for records in batch.values() for r in records):
            consumed[record.topic] += 1
            try:
                value = decode(record.topic, record.value or b"")
            except ValidationError as exc:
                invalid[record.topic] += 1
                log.warning(
                    "%s: a record that is not a valid %s, skipped: %s",
                    record.topic,
                    "Signal" if record.topic == topics.SIGNALS else "HealthSnapshot",
                    exc.errors()[0]["msg"] if exc.errors() else exc,
                )
                continue
            stamp = record.timestamp / 1000 if record.timestamp > 0 else time.time()
            parsed.append(Incoming(value, stamp))
        self.engine.take_records(parsed, time.time())
        for topic, count in consumed.items():
            self.metrics.consumed.labels(topic=topic).inc(count)
        for topic, count in invalid.items():
            self.metrics.invalid.labels(topic=topic).inc(count)


def decode(topic: str, value: bytes) -> Signal | HealthSnapshot:
    """The classifier's record on `topic` (signals or health), validated against its
    contract: raises pydantic's ValidationError."""
    if topic == topics.SIGNALS:
        return Signal.model_validate_json(value)
    return HealthSnapshot.model_validate_json(value)


def _close(consumer: Any) -> None:
    try:
        consumer.close()
    except KafkaError as exc:
        log.warning("consumer did not close cleanly: %s", exc)
