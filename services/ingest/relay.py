"""The relay: journal -> Kafka, in order, marking rows relayed once acknowledged.

Runs in its own thread with a kafka-python idempotent producer (acks=all), so
the HTTP event loop never waits on the broker. While the broker is away the
producer retries internally (same producer id and sequence numbers: no
duplicates); rows stay pending in the journal and are sent again only if the
producer gave up on them.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from kafka import KafkaProducer
from kafka.errors import KafkaError, KafkaTimeoutError

from services.ingest.journal import Journal, PendingRow
from services.ingest.metrics import IngestMetrics

log = logging.getLogger(__name__)

ProducerFactory = Callable[[], Any]


def kafka_producer_factory(bootstrap: str, **overrides: Any) -> ProducerFactory:
    def make() -> KafkaProducer:
        config: dict[str, Any] = {
            "bootstrap_servers": bootstrap,
            "client_id": "partnerpulse-ingest",
            "enable_idempotence": True,
            "acks": "all",
            "linger_ms": 5,
            "retry_backoff_ms": 200,
            "request_timeout_ms": 10_000,
            # Keep retrying through a broker outage rather than failing the send.
            "delivery_timeout_ms": 600_000,
            "max_block_ms": 10_000,
        }
        config.update(overrides)
        return KafkaProducer(**config)

    return make


class Relay:
    def __init__(
        self,
        journal: Journal,
        producer_factory: ProducerFactory,
        metrics: IngestMetrics,
        *,
        batch_size: int = 1000,
        backoff_max: float = 5.0,
        linger: float = 0.05,
    ) -> None:
        self.journal = journal
        self.producer_factory = producer_factory
        self.metrics = metrics
        self.batch_size = batch_size
        self.backoff_max = backoff_max
        self.linger = linger
        self.connected = False
        self._producer: Any = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> Relay:
        self._thread = threading.Thread(target=self._run, name="relay", daemon=True)
        self._thread.start()
        return self

    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def stop(self, timeout: float = 15.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        if self._producer is not None:
            try:
                self._producer.flush(timeout=timeout)
                self._producer.close(timeout=timeout)
            except KafkaError as exc:
                log.warning("producer did not close cleanly: %s", exc)
            self._producer = None

    # -- the loop -----------------------------------------------------------

    def _run(self) -> None:
        backoff = 0.2
        while not self._stop.is_set():
            try:
                relayed = self._relay_batch()
            except Exception as exc:  # broker unreachable, producer broken: retry later
                self.connected = False
                log.warning("relay: %s; retrying in %.1fs", exc, backoff)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, self.backoff_max)
                continue
            backoff = 0.2
            if relayed < self.batch_size:
                # Let a burst gather: fewer, larger batches cost less per event.
                if not relayed:
                    self._update_lag([])
                    self.journal.wait_for_pending(0.5)
                self._stop.wait(self.linger)

    def _relay_batch(self) -> int:
        rows = self.journal.fetch_pending(self.batch_size)
        self._update_lag(rows)
        if not rows:
            return 0
        if self._producer is None:
            self._producer = self.producer_factory()
        self.connected = True
        producer = self._producer
        sent = []
        for row in rows:
            started = time.perf_counter()
            future = producer.send(
                row.record.topic,
                key=row.record.key,
                value=row.record.value,
                headers=row.record.headers,
            )
            sent.append((row, future, started))
        # Wait for every acknowledgement; the producer retries on its own meanwhile.
        while not all(f.is_done for _, f, _ in sent):
            if self._stop.is_set():
                return 0
            try:
                producer.flush(timeout=1.0)
            except KafkaTimeoutError:
                pass
        ok: list[int] = []
        failures = []
        for row, future, started in sent:
            if future.succeeded():
                ok.append(row.seq)
                self.metrics.produce_latency.labels(source=row.record.source).observe(
                    time.perf_counter() - started
                )
                self.metrics.relayed.labels(topic=row.record.topic).inc()
            else:
                failures.append(future.exception)
        self.journal.mark_relayed(ok)
        if failures:
            raise RuntimeError(f"{len(failures)} record(s) not acknowledged: {failures[0]}")
        return len(ok)

    def _update_lag(self, rows: list[PendingRow]) -> None:
        lag = time.time() - rows[0].received_at if rows else 0.0
        self.metrics.relay_lag.set(max(lag, 0.0))
