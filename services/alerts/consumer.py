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
from typing import Any

from kafka import KafkaConsumer
from kafka.errors import KafkaError

from services.alerts.engine import Alerting, Incoming
from services.alerts.metrics import AlertsMetrics
from services.alerts.settings import AlertsSettings
from services.alerts.worker import Worker
from services.events import topics

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
        records = [
            Incoming(
                topic=record.topic,
                value=record.value or b"",
                timestamp=record.timestamp / 1000 if record.timestamp > 0 else time.time(),
            )
            for records in batch.values()
            for record in records
        ]
        invalid = self.engine.take_records(records, time.time())
        for record in records:
            self.metrics.consumed.labels(topic=record.topic).inc()
        for topic, count in invalid.items():
            self.metrics.invalid.labels(topic=topic).inc(count)


def _close(consumer: Any) -> None:
    try:
        consumer.close()
    except KafkaError as exc:
        log.warning("consumer did not close cleanly: %s", exc)
