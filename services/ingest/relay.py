"""The relay (`partnerpulse relay`): journal -> Kafka, in order, marking rows relayed.

Its own process, so kafka-python's pure-Python producer never shares a GIL
with the ingest HTTP loop. It opens ingest's SQLite journal (WAL: ingest
appends while the relay reads and marks), takes the journal's relay lock (one
relay per journal), and serves its metrics and health on `relay_port`.

The producer is idempotent (`acks=all`): while the broker is away it retries
with the same producer id and sequence numbers, so no duplicates. A new
producer (a restarted relay) cannot know what its predecessor had sent but not
yet marked, so every record carries a `partnerpulse.journal_record` header
(journal uid and row), and the journal keeps, per partition, the offset below
which everything sent is marked. At start, or after a failure, the relay reads
the partitions from those offsets to their end and marks the rows it finds
there instead of sending them again: a relay killed mid-batch (even by kill
-9) duplicates nothing.

No record can stop the relay: one the producer or the broker refuses for good
(too large, or any error Kafka does not call retriable) is sent once more on its
own, and if refused again its journal row becomes a dead letter (the body cut to
`ingest_dead_letter_max_bytes`, reason, original size and SHA-256 in headers),
sent in its place; a dead letter refused too is dropped, logged and counted. The
relay also prunes relayed rows older than the retention and measures the journal.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import KafkaError, KafkaTimeoutError

from services.events import topics
from services.ingest.journal import Offsets, PendingRow
from services.ingest.metrics import RelayMetrics
from services.ingest.records import relay_dead_letter
from services.ingest.relay_journal import RelayJournal
from services.ingest.relay_keep import Housekeeping, keep_house, refused_for_good, topic_partitions
from services.ingest.settings import IngestSettings
from services.platform.http import add_health_routes
from services.platform.loops import Backoff, Worker
from services.runtime import covered

log = logging.getLogger(__name__)

H_JOURNAL_RECORD = "partnerpulse.journal_record"  # "<journal uid>:<seq>"


class Relay(Worker):
    thread_name = "relay"

    def __init__(
        self,
        journal: RelayJournal,
        bootstrap: str,
        metrics: RelayMetrics,
        *,
        batch_size: int = 1000,
        poll_interval: float = 0.02,
        count_interval: float = 0.5,
        backoff_max: float = 5.0,
        reconcile_timeout: float = 60.0,
        housekeeping: Housekeeping | None = None,
    ) -> None:
        self.journal = journal
        self.bootstrap = bootstrap
        self.metrics = metrics
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.count_interval = count_interval
        self.backoff = Backoff(0.2, backoff_max)
        self.reconcile_timeout = reconcile_timeout
        self.housekeeping = housekeeping or Housekeeping()
        self.connected = False
        self.pending = 0
        self.last_error: str | None = None
        self.dead_lettered = 0
        self.last_dead_letter: str | None = None  # the last record Kafka refused, and why
        self._kept_at = 0.0
        self._producer: Any = None
        self._offsets: Offsets = {}
        self._reconciled = False
        self._counted_at = 0.0
        self._give_up_at = float("inf")
        super().__init__()

    def stop(self, timeout: float = 15.0) -> None:
        """Finish the batch in flight (acknowledged rows are marked), then close."""
        self._give_up_at = time.monotonic() + timeout / 2
        super().stop(timeout)
        if self._producer is not None:
            try:
                self._producer.close(timeout=timeout / 2)
            except KafkaError as exc:
                log.warning("producer did not close cleanly: %s", exc)
            self._producer = None

    # -- the loop -----------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._keep_house()
                if not self._reconciled:
                    self._reconcile()
                relayed = self._relay_batch()
            except _Stopped:
                return
            except Exception as exc:  # broker unreachable, records not acknowledged
                self.connected = False
                self._reconciled = False  # what reached the broker is unknown: look first
                self.last_error = f"{type(exc).__name__}: {exc}"[:500]
                self.metrics.broker_errors.inc()
                delay = self.backoff.failed()
                log.warning("relay: %s; retrying in %.1fs", exc, delay)
                self._count_pending(force=True)
                self._stop.wait(delay)
                continue
            finally:
                self._count_pending()
            self.last_error = None
            self.backoff.succeeded()
            if relayed < self.batch_size:
                # Let a burst gather: fewer, larger batches cost less per event.
                self._stop.wait(self.poll_interval)

    def _relay_batch(self) -> int:
        rows = self.journal.fetch_pending(self.batch_size)
        self.metrics.lag.set(max(time.time() - rows[0].received_at, 0.0) if rows else 0.0)
        if not rows:
            return 0
        if self._producer is None:
            self._producer = KafkaProducer(
                bootstrap_servers=self.bootstrap,
                client_id="partnerpulse-relay",
                enable_idempotence=True,
                acks="all",
                linger_ms=5,
                retry_backoff_ms=200,
                request_timeout_ms=10_000,
                # Keep retrying through a broker outage rather than failing the send.
                delivery_timeout_ms=600_000,
                max_block_ms=10_000,
            )
        self._ensure_baseline({row.record.topic for row in rows})
        producer = self._producer
        prefix = f"{self.journal.uid}:"
        sent = []
        refused: list[tuple[PendingRow, BaseException]] = []
        refused_here: set[int] = set()  # by the producer itself: it would refuse it alone too
        for row in rows:
            try:
                future = producer.send(
                    row.record.topic,
                    key=row.record.key,
                    value=row.record.value,
                    headers=[
                        *row.record.headers,
                        (H_JOURNAL_RECORD, f"{prefix}{row.seq}".encode()),
                    ],
                )
            except KafkaError as exc:  # the producer's own checks (the record's size) raise
                if not refused_for_good(exc):
                    raise
                refused.append((row, exc))
                refused_here.add(row.seq)
                continue
            future.add_callback(self._observe_ack, row.record.source, time.perf_counter())
            sent.append((row, future))
        # Wait for every acknowledgement; the producer retries on its own meanwhile.
        sent_at = time.monotonic()
        while not all(f.is_done for _, f in sent):
            if self._stop.is_set() and time.monotonic() > self._give_up_at:
                return 0  # not marked: the next relay finds what reached the broker
            try:
                producer.flush(timeout=1.0)
            except KafkaTimeoutError:
                self.connected = time.monotonic() - sent_at < 10
        self.connected = True
        ok: list[int] = []
        placed: dict[int, tuple[int, int]] = {}  # events rows: where they landed
        reached: Offsets = {}
        per_topic: dict[str, int] = {}
        failures = []
        for row, future in sent:
            if future.succeeded():
                meta = future.value
                ok.append(row.seq)
                if meta.topic == topics.EVENTS:
                    placed[row.seq] = (meta.partition, meta.offset)
                partition = (meta.topic, meta.partition)
                reached[partition] = max(reached.get(partition, 0), meta.offset + 1)
                per_topic[meta.topic] = per_topic.get(meta.topic, 0) + 1
            elif refused_for_good(future.exception):
                refused.append((row, future.exception))
            else:
                failures.append(future.exception)
        for row, error in refused:
            # Refused for good: what the broker never took cannot be below the offsets.
            # The broker may have refused the batch for one of its records: try each alone.
            meta = None if row.seq in refused_here else self._send_alone(row)
            if meta is None:
                self._dead_letter(row, error)
                continue
            ok.append(row.seq)
            if meta.topic == topics.EVENTS:
                placed[row.seq] = (meta.partition, meta.offset)
            partition = (meta.topic, meta.partition)
            reached[partition] = max(reached.get(partition, 0), meta.offset + 1)
            per_topic[meta.topic] = per_topic.get(meta.topic, 0) + 1
        for topic, count in per_topic.items():
            self.metrics.relayed.labels(topic=topic).inc(count)
        if failures:
            # A failed record may have reached the broker anyway: keep the offsets where
            # they were, so the look before resending covers it.
            self.journal.mark_relayed(ok, {}, placed)
            raise RuntimeError(f"{len(failures)} record(s) not acknowledged: {failures[0]}")
        self.journal.mark_relayed(ok, reached, placed)
        self._offsets.update(reached)
        return len(ok)

    def _observe_ack(self, source: str, started: float, _metadata: Any) -> None:
        self.metrics.produce_latency_by_source[source].observe(time.perf_counter() - started)

    def _send_alone(self, row: PendingRow) -> Any:
        """Send one refused record on its own (its batch may have been what was refused):
        its metadata, or None if it is refused again."""
        try:
            future = self._producer.send(
                row.record.topic,
                key=row.record.key,
                value=row.record.value,
                headers=[
                    *row.record.headers,
                    (H_JOURNAL_RECORD, f"{self.journal.uid}:{row.seq}".encode()),
                ],
            )
            return future.get(timeout=30)
        except KafkaError as exc:
            if refused_for_good(exc):
                return None
            raise

    def _dead_letter(self, row: PendingRow, exc: BaseException) -> None:
        """Turn row `row` into a dead letter in place (sent with the next batch); a dead
        letter refused as well is dropped."""
        reason = type(exc).__name__
        self.dead_lettered += 1
        self.last_dead_letter = f"journal row {row.seq} refused by Kafka: {reason}: {exc}"[:500]
        if row.record.topic == topics.DLQ:
            self.journal.mark_dropped(row.seq)
            self.metrics.dead_lettered.labels(reason="dropped").inc()
            log.error("relay: dead letter in row %d refused too (%s): dropped", row.seq, exc)
            return
        letter = relay_dead_letter(row.record, exc, self.housekeeping.dead_letter_max_bytes)
        self.journal.replace_pending(row.seq, letter)
        self.metrics.dead_lettered.labels(reason=reason).inc()
        log.error(
            "relay: Kafka refused journal row %d for %s (%s, %d bytes): sent to %s instead",
            row.seq,
            row.record.topic,
            reason,
            len(row.record.value),
            topics.DLQ,
        )

    def _count_pending(self, *, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self._counted_at >= self.count_interval:
            try:
                self.pending = self.journal.count_pending()
            except Exception as exc:  # the journal is busy or broken: keep the last count
                log.warning("relay: could not count pending records: %s", exc)
                return
            self.metrics.pending.set(self.pending)
            self._counted_at = now

    def _keep_house(self) -> None:
        now = time.monotonic()
        if now - self._kept_at >= self.housekeeping.interval:
            self._kept_at = now
            keep_house(self.journal, self.metrics, self.housekeeping)

    # -- what is already on the broker ----------------------------------------

    def _consumer(self) -> KafkaConsumer:
        return KafkaConsumer(
            bootstrap_servers=self.bootstrap,
            client_id="partnerpulse-relay",
            group_id=None,
            enable_auto_commit=False,
            fetch_max_wait_ms=50,
        )

    def _ensure_baseline(self, topics: Iterable[str]) -> None:
        """Before the first send to a topic: note where its partitions end now."""
        new = sorted(set(topics) - {topic for topic, _ in self._offsets})
        if not new:
            return
        consumer = self._consumer()
        try:
            partitions = topic_partitions(consumer, new)
            ends = consumer.end_offsets(partitions, timeout_ms=10_000)
        finally:
            consumer.close()
        baseline = {(tp.topic, tp.partition): offset for tp, offset in ends.items()}
        self.journal.mark_relayed([], baseline)
        self._offsets.update(baseline)

    def _reconcile(self) -> None:
        """Mark the pending rows a previous producer already put on the broker."""
        offsets = self.journal.offsets()
        topics = sorted({topic for topic, _ in offsets})
        consumer = self._consumer()  # also proves the broker answers
        try:
            found, ends = self._scan(consumer, topics, offsets)
        finally:
            consumer.close()
        self.connected = True
        marked = self.journal.mark_relayed(found, ends)
        if marked:
            self.metrics.reconciled.inc(marked)
            log.warning(
                "%d pending record(s) were already on the broker (sent before a restart or "
                "failure, not marked): marked relayed, not sent again",
                marked,
            )
        self._offsets = {**offsets, **ends}
        self._reconciled = True

    def _scan(
        self, consumer: KafkaConsumer, topics: list[str], offsets: Offsets
    ) -> tuple[set[int], Offsets]:
        partitions = topic_partitions(consumer, topics, missing_ok=True) if topics else []
        if not partitions:
            return set(), {}
        ends = consumer.end_offsets(partitions, timeout_ms=10_000)
        begins = consumer.beginning_offsets(partitions, timeout_ms=10_000)
        todo: dict[TopicPartition, int] = {}
        starts: dict[TopicPartition, int] = {}
        for tp in partitions:
            # A partition with no recorded offset appeared since the baseline: all of it.
            start = max(offsets.get((tp.topic, tp.partition), 0), begins[tp])
            if start < ends[tp]:
                todo[tp] = ends[tp]
                starts[tp] = start
        found: set[int] = set()
        if todo:
            consumer.assign(list(todo))
            for tp, start in starts.items():
                consumer.seek(tp, start)
            prefix = f"{self.journal.uid}:".encode()
            deadline = time.monotonic() + self.reconcile_timeout
            while todo:
                if self._stop.is_set():
                    raise _Stopped  # the offsets must not move past what was not read
                if time.monotonic() > deadline:
                    raise TimeoutError(f"could not read {sorted(map(str, todo))} to their end")
                for records in consumer.poll(timeout_ms=200).values():
                    for record in records:
                        for name, value in record.headers or ():
                            if name == H_JOURNAL_RECORD and value.startswith(prefix):
                                found.add(int(value[len(prefix) :]))
                for tp in [tp for tp, end in todo.items() if consumer.position(tp) >= end]:
                    del todo[tp]
        return found, {(tp.topic, tp.partition): end for tp, end in ends.items()}


class _Stopped(Exception):
    """The relay was asked to stop in the middle of a step."""


def create_relay_app(
    settings: IngestSettings | None = None, *, metrics: RelayMetrics | None = None
) -> FastAPI:
    """The relay's ASGI app (metrics, health); it relays from a thread while served.

    Takes the journal's relay lock at once: raises JournalLocked if another relay holds it.
    """
    settings = settings or IngestSettings()
    bootstrap = settings.bootstrap()
    journal = RelayJournal(settings.journal_path, synchronous=settings.ingest_journal_sync)
    housekeeping = Housekeeping(
        retention_days=settings.ingest_journal_retention_days,
        interval=settings.relay_housekeeping_interval_seconds,
        dead_letter_max_bytes=settings.ingest_dead_letter_max_bytes,
    )
    relay = Relay(journal.open(), bootstrap, metrics or RelayMetrics(), housekeeping=housekeeping)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.ingest_replay_journal:
            requeued = journal.requeue_all(
                covered.for_replay(settings.data_dir),
                topic=topics.EVENTS,
                incarnation=settings.broker_incarnation,
            )
            log.info(
                "replaying %d journaled record(s) into the broker (%d the classifier's store"
                " already holds are left out)",
                requeued,
                journal.count_covered(),
            )
        relay.start()
        try:
            yield
        finally:
            relay.stop()
            journal.close()

    app = FastAPI(
        title="partnerpulse relay",
        version="1",
        summary="Journaled events to Kafka, exactly once per journal row.",
        lifespan=lifespan,
    )
    app.state.relay = relay

    def readiness() -> tuple[bool, dict[str, object]]:
        checks: dict[str, object] = {
            "relay_running": relay.alive(),
            "broker_connected": relay.connected,
            "journal_pending": relay.pending,
            "dead_lettered_by_relay": relay.dead_lettered,
            "last_dead_letter": relay.last_dead_letter,
            "last_error": relay.last_error,
        }
        return relay.alive() and relay.connected, checks

    add_health_routes(
        app,
        relay.metrics.registry,
        readiness,
        ready_summary="Readiness: relaying, and the broker answers",
    )

    return app
