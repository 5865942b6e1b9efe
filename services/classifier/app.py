"""The classifier's Faust app: canonical events in; work, signals and health out.

Thin by design: the agent takes events in batches, folds each into its
client's state with the pure `Engine`, judges the touched clients, and
publishes what changed. No exception escapes the agent: a bad or failing event
goes to `partnerpulse.dlq` with the error in `partnerpulse.errors.*` headers
and is counted.

State lives in memory and in Faust tables backed by changelog topics, keyed by
client id and placed by the same partitioner as the events (ingest keys events
by client), so a restarted worker recovers it. A checkpoint, at most every
`classifier_checkpoint_interval` seconds, writes the state of each client
changed since the last one (one changelog record per client, however many
events and batches changed it) once the broker has every output produced before
it, then records each partition's position and acknowledges the events it
covers. Outputs go out after every batch (`publish.Publisher`). A restart
resumes from the recorded positions; the events after them are processed again,
and the engine deduplicates by event id, so a SIGTERM or kill -9 counts nothing
twice (outputs are at least once).
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, NoReturn, cast

import faust
import orjson
from pydantic import ValidationError

from services.classifier import layout
from services.classifier.engine import ClientView, Engine, owner_needed, ts
from services.classifier.health import quiet_client_view
from services.classifier.metrics import ClassifierMetrics
from services.classifier.offsets import OffsetGuard, Verdict
from services.classifier.publish import Publisher, partition_of
from services.classifier.settings import ClassifierSettings
from services.classifier.state import ClientState
from services.classifier.transport import (
    ClassifierFaust,
    forget,
    open_partitions,
    start_offset,
    table_write,
)
from services.classifier.views import register_views
from services.events import topics
from services.events.models import CanonicalEvent, Ticket
from services.events.outputs import Signal, WorkItem
from services.events.tenant import Tenant
from services.runtime import covered as replay_cover

log = logging.getLogger("partnerpulse.classifier")

STATE_TABLE = "client-state"
PARKED_TABLE = "parked-by-ticket"
REJUDGE_AFTER_EVENT_SECONDS = 3600.0  # a quiet client's health, again after this event time
GC_THRESHOLDS = (50_000, 20, 10)
POSITIONS_TABLE = "stream-positions"  # per events partition: the next offset to process


class Classifier:
    """The Faust app, its tables and topics, and the latest view of every client."""

    def __init__(self, settings: ClassifierSettings, tenant: Tenant, bootstrap: str) -> None:
        self.settings = settings
        self.tenant = tenant
        self.engine = Engine(tenant)
        # One bound with ingest's (webhooks.freshness.max_event_ahead_hours): ingest refuses
        # such deliveries; this guards the topic against any other writer.
        ahead = tenant.webhooks.freshness.max_event_ahead_hours
        self._max_skew = float("inf") if ahead is None else ahead * 3600.0
        self.metrics = ClassifierMetrics([])  # the clients of the partitions assigned
        self.views: dict[str, ClientView] = {}
        self.watermark = 0.0
        self._watermark_recovered = False
        self._judged_at: dict[str, float] = {}  # watermark each client was last judged at
        self._ticket_owner: dict[str, str] = {}
        self.dead_letters: set[str] = set()  # event ids sent to the DLQ by this process
        self.too_late: set[str] = set()
        self.processed = 0
        self.failed = 0
        self._dirty: dict[str, ClientState] = {}  # folded into since they were last judged
        self._waiting: dict[str, list[float]] = {}  # their events' ingest times
        self._judged_wall = 0.0
        self._live: dict[str, ClientState] = {}  # state objects of the clients seen
        self._written: dict[str, layout.Written] = {}  # what the table holds of them
        self._collect_orphans = True  # after an assignment: parts of crashed checkpoints
        self._assigned: set[int] = set()  # events partitions assigned to this worker
        self._largest_record = 0
        self._tickets_indexed = False  # _ticket_owner holds every ticket of the tables
        self._inflight: list[Any] = []  # futures of records sent since the last checkpoint
        self._publishing = asyncio.Lock()  # a checkpoint waits for a flush under way
        self._unsaved: dict[str, ClientState] = {}  # changed since the last checkpoint
        self._unrecorded: dict[Any, int] = {}  # partition -> next offset, handled not recorded
        self._generation = 0  # partitions revoked: what a checkpoint under way covered is moot
        self._saved_at = 0.0  # monotonic time of the last checkpoint
        self._checkpointing = asyncio.Lock()
        self.offsets = OffsetGuard()
        # What the local store holds, for a replay of the journal into a new broker.
        self._worker_dir = settings.data_dir / "classifier" / f"worker-{settings.classifier_port}"
        self._covers = settings.classifier_store == "rocksdb://" and bool(
            settings.broker_incarnation
        )
        self._covered: dict[int, int] = {}
        self._store_id = replay_cover.store_id(self._worker_dir) if self._covers else ""
        if not self._covers:
            replay_cover.forget(self._worker_dir)

        app = ClassifierFaust(
            settings.classifier_app_id,
            broker=f"kafka://{bootstrap}",
            store=settings.classifier_store,
            # Not faust's <app id>-data in the working directory; one per worker (several
            # workers of one group may share a data dir, each on its own port).
            datadir=str(self._worker_dir),
            topic_partitions=settings.topic_partitions,
            topic_replication_factor=1,
            broker_session_timeout=10,
            broker_heartbeat_interval=1,
            broker_rebalance_timeout=20,
            broker_max_poll_interval=300,
            broker_request_timeout=90,
            broker_commit_interval=1,
            consumer_auto_offset_reset="earliest",
            processing_guarantee="at_least_once",
            # Idempotent: events no checkpoint covers are processed again after a stop or
            # a rebalance, so neither waits for them to be acknowledged.
            stream_wait_empty=False,
            # The check compares the offset a worker already read of a changelog partition
            # (as its standby) with the partition's highwater when it becomes active; the
            # embedded broker answered a highwater below offsets it had served (377 > 367)
            # after a member died, and the worker crashed. States are recovered whole from
            # the changelog either way (memory store: no local files to be inconsistent).
            recovery_consistency_check=False,
            web_enabled=True,
            web_bind=settings.classifier_host,
            web_host=settings.classifier_host,
            web_port=settings.classifier_port,
            producer_linger=0.005,
        )
        app.fetch_max_wait_ms = settings.classifier_fetch_max_wait_ms
        app.producer_buffer_max_messages = 20_000
        self.app = app
        self.publisher = Publisher(app)
        raw: dict[str, Any] = {"key_serializer": "raw", "value_serializer": "raw"}
        self.events_topic = app.topic(topics.EVENTS, key_type=bytes, value_type=bytes, **raw)
        table_options: dict[str, Any] = {
            "default": None,
            # bytes keys are written raw: the client id exactly as ingest keys its events,
            # so the producer's partitioner puts a client's changelog records in the
            # partition of its events.
            "key_type": bytes,
            "use_partitioner": True,
            "partitions": settings.topic_partitions,
        }
        # Heads and parts of the client states (services/classifier/layout.py), as the raw
        # JSON bytes the layout makes; placed by the checkpoint in the client's partition.
        self.states = app.Table(STATE_TABLE, value_type=bytes, **table_options)
        self.parked = app.Table(PARKED_TABLE, **table_options)
        # Written to the changelog partition of the events partition it describes, so the
        # worker assigned that partition recovers its position.
        self.positions = app.Table(
            POSITIONS_TABLE,
            default=None,
            key_type=bytes,
            partitions=settings.topic_partitions,
        )
        app.agent(self.events_topic, name="classify")(self._classify)
        app.timer(settings.classifier_tick_seconds)(self._tick)
        if settings.classifier_live_judge_interval > 0:
            app.timer(settings.classifier_live_judge_interval)(self._judge_pending)
        app.timer(settings.classifier_checkpoint_interval)(self._checkpoint_tail)
        app.on_partitions_revoked.connect(self._on_partitions_revoked)
        app.on_partitions_assigned.connect(self._on_partitions_assigned)
        register_views(self)

    # -- the agent ------------------------------------------------------------------

    async def _classify(self, stream: faust.StreamT[bytes]) -> None:
        s = self.settings
        # noack(): every acknowledgement is ours, after a checkpoint covers the event.
        # (take() hands acks back to the stream when it exits, at a stop, and the stream
        # then acknowledged events it had fetched but never given us.)
        manual = cast(faust.Stream[bytes], cast(faust.Stream[bytes], stream).noack())
        batches = manual.noack_take(s.classifier_batch_size, within=s.classifier_batch_within)
        unacked: list[faust.EventT[bytes]] = []
        # The checkpoint under way and the events it covers: it runs beside the agent,
        # which goes on with the next batches while the broker takes the records.
        running: tuple[asyncio.Future[bool], list[faust.EventT[bytes]]] | None = None
        generation = self._generation
        try:
            async for events in batches:
                if generation != self._generation:
                    unacked, generation = [], self._generation  # of a previous assignment
                taken = await self._in_offset_order(cast(list[faust.EventT[bytes]], events))
                self.handle((e.value for e in taken), caught_up=self._caught_up(taken))
                for tp in {event.message.tp for event in taken}:  # in handle()'s step
                    position = self.offsets.next_offset(tp)
                    if position is not None:
                        self._unrecorded[tp] = position
                unacked += taken
                await self._publish()
                if running is not None and running[0].done():
                    recorded, covered = running[0].result(), running[1]
                    running = None
                    for event in covered if recorded else ():
                        await manual.ack(event)
                if running is None and self._checkpoint_due():
                    running = (asyncio.ensure_future(self._checkpoint()), unacked)
                    unacked = []
        except asyncio.CancelledError:
            # A stop: what no checkpoint recorded is not acknowledged, so redelivered.
            if running is not None:
                running[0].cancel()
            raise
        except Exception:
            _exit_for_redelivery()  # each event was folded or dead-lettered: a send failed

    async def _in_offset_order(
        self, events: list[faust.EventT[bytes]]
    ) -> list[faust.EventT[bytes]]:
        """The events to process; those after a hole in a partition's offsets wait (see
        services/classifier/offsets.py) while the partition is sought back."""
        guard = self.offsets
        taken = []
        for event in events:
            message = event.message
            if not guard.expects(message.tp):
                start = self._recorded_position(message.tp)
                if start is None:
                    start = await start_offset(self.app, message.tp)
                if start is not None:
                    guard.start(message.tp, start)
            if guard.admit(message.tp, message.offset) is Verdict.TAKE:
                taken.append(event)
            else:
                forget(self.app, message)
        await self._seek_back()
        return taken

    def _caught_up(self, events: list[faust.EventT[bytes]]) -> bool:
        """Whether the batch reaches the end of every partition it comes from (as far as
        the consumer's last fetch knows): live traffic, not a backlog being drained."""
        last: dict[Any, int] = {}
        for event in events:
            last[event.message.tp] = event.message.offset
        for tp, offset in last.items():
            try:
                highwater = self.app.consumer.highwater(tp)
            except Exception:  # not assigned any more (a rebalance), or no consumer (tests)
                highwater = None
            if highwater is not None and offset + 1 < highwater:
                return False
        return True

    def _recorded_position(self, tp: Any) -> int | None:
        """The next offset to process, as recorded in this broker's incarnation (a new
        embedded broker replays the journal at offsets of its own)."""
        value = self.positions.get(_position_key(tp))
        if not isinstance(value, list) or value[0] != self.settings.broker_incarnation:
            return None
        return int(value[1])

    async def _checkpoint(self) -> bool:
        """Record what the events handled so far did, in an order a crash cannot undo:
        their outputs delivered, then the changed states, then where each partition's
        processing stands. False when partitions were revoked meanwhile: the positions
        are then not recorded (their new owner resumes from the previous ones)."""
        async with self._checkpointing:
            try:
                return await self._checkpoint_now()
            except asyncio.CancelledError:
                raise
            except Exception:
                _exit_for_redelivery()

    async def _checkpoint_now(self) -> bool:
        generation = self._generation
        # One synchronous step: the states (their records as of now), the positions
        # and the outputs all describe the same events.
        if self._collect_orphans and self._tables_ready():
            self._collect_orphans = False
            self._tombstone_orphans()
        plans = []
        for state in self._unsaved.values():
            before = self._written.get(state.client_id, layout.Written())
            planned = layout.plan(state, before)
            if planned is not None:
                plans.append((state.client_id, planned))
        positions, self._unsaved, self._unrecorded = self._unrecorded, {}, {}
        await self._publish()  # any records of those events not sent yet
        await self._delivered()  # outputs first: a state is never ahead of its outputs
        for client_id, planned in plans:
            # Parts, then the head that names them, then the parts it no longer names:
            # in one partition, so in that order on the changelog.
            partition = self._state_partition(client_id)
            for key, value in [*planned.parts, planned.head]:
                self._inflight.append(table_write(self.states, partition, key, value))
            for key in planned.tombstones:
                self._inflight.append(table_write(self.states, partition, key, None))
            self._written[client_id] = planned.written
            for _, value in [*planned.parts, planned.head]:
                self.metrics.state_record_bytes.observe(len(value))
                self._largest_record = max(self._largest_record, len(value))
            self.metrics.state_record_max_bytes.set(self._largest_record)
        await self._delivered()
        self._saved_at = time.monotonic()
        if generation != self._generation:
            return False
        self._record_positions(positions)
        self._write_covered(positions)
        return True

    def _write_covered(self, positions: Mapping[Any, int]) -> None:
        """The local store now holds every event below these positions (RocksDB writes
        are synchronous): the relay may leave them out of a replay (runtime/covered.py)."""
        if not self._covers or not positions:
            return
        for tp, offset in positions.items():
            self._covered[tp.partition] = offset
        replay_cover.write(
            self._worker_dir,
            replay_cover.Covered(self._store_id, self.settings.broker_incarnation, self._covered),
        )

    def _state_partition(self, client_id: str) -> int:
        """The client's events partition: its changelog records are recovered with it."""
        return partition_of(client_id.encode(), self.settings.topic_partitions)

    def _heads(self) -> dict[str, dict[str, Any]]:
        return {
            layout.client_of(key): layout.decode_head(value)
            for key, value in self.states.items()
            if not layout.is_part(key)
        }

    def _tombstone_orphans(self) -> None:
        """Delete the parts no head names (a checkpoint a crash cut short)."""
        keys = [bytes(k) for k in self.states.keys()]
        for key in layout.orphans(keys, self._heads()):
            partition = self._state_partition(layout.client_of(key))
            if partition in self._assigned:
                self._inflight.append(table_write(self.states, partition, key, None))

    async def _publish(self) -> None:
        """Send the outputs queued by handle() and the tick."""
        async with self._publishing:
            self._inflight += await self.publisher.flush()

    def _checkpoint_due(self) -> bool:
        return time.monotonic() - self._saved_at >= self.settings.classifier_checkpoint_interval

    async def _checkpoint_tail(self) -> None:
        """The last events of a burst: no later batch comes to checkpoint them."""
        pending = self._unsaved or self._unrecorded or self._inflight or len(self.publisher)
        if pending and self._checkpoint_due():
            await self._checkpoint()

    def _record_positions(self, positions: Mapping[Any, int]) -> None:
        """After the states are delivered: where each partition's processing stood.

        Its delivery is awaited with the next checkpoint (it can only lag behind).
        """
        for tp, offset in positions.items():
            key = _position_key(tp)
            value = [self.settings.broker_incarnation, offset]
            self._inflight.append(table_write(self.positions, tp.partition, key, value))

    async def _seek_back(self) -> None:
        for tp, offset in self.offsets.seeks_due(time.monotonic()):
            log.warning(
                "events of %s from offset %d were never delivered to the agent: "
                "seeking back to fetch them again",
                tp,
                offset,
            )
            self.metrics.offset_seeks.inc()
            await self.app.consumer.seek(cast(Any, tp), offset)

    async def _delivered(self) -> None:
        """Wait until the broker has every record sent so far."""
        inflight, self._inflight = self._inflight, []
        if inflight:
            await asyncio.gather(*inflight)

    def handle(self, batch: Iterable[bytes], *, caught_up: bool | None = None) -> None:
        """Fold, judge, queue outputs: no await, so a stop cannot split it.

        Outputs wait in the publisher, which the agent flushes after the batch;
        changed states wait for the next checkpoint.
        `caught_up`: whether the batch reaches the end of its partitions (default:
        whether it is smaller than a full batch).
        """
        self._recover_watermark()
        touched: dict[str, ClientState] = {}
        received: dict[str, list[float]] = {}
        work: list[WorkItem] = []
        size = 0
        for raw in batch:
            size += 1
            if self._seen_before(raw):
                self.metrics.duplicates.inc()
                continue
            try:
                event = CanonicalEvent.model_validate_json(raw)
            except ValidationError as exc:
                self._dead_letter(raw, "invalid_event", str(exc), None)
                continue
            if ts(event.occurred_at) > ts(event.received_at) + self._max_skew:
                self._dead_letter(
                    raw,
                    "future_event_time",
                    f"occurred_at {event.occurred_at.isoformat()} is more than "
                    f"{self._max_skew / 3600:g} h after received_at "
                    f"{event.received_at.isoformat()}",
                    event.event_id,
                )
                continue
            try:
                self._fold(event, touched, received, work)
            except Exception as exc:
                log.exception("event %s failed", event.event_id)
                self._dead_letter(raw, "processing_error", repr(exc), event.event_id)
        for item in work:
            self.publisher.add(topics.WORK, item.client_id.encode(), _json(item))
            self.metrics.at(self.metrics.work_items, item.work_class.value).inc()
        self._dirty.update(touched)
        for client_id, stamps in received.items():
            self._waiting.setdefault(client_id, []).extend(stamps)
        now = time.time()
        # Judging costs a pass over the client's window: live (the batch reaches the end of
        # its partitions) at most every live interval (a timer judges what waits longer);
        # while draining a backlog at most once per judge interval.
        if caught_up is None:
            caught_up = size < self.settings.classifier_batch_size
        s = self.settings
        gap = s.classifier_live_judge_interval if caught_up else s.classifier_judge_interval
        if now - self._judged_wall >= gap:
            self._judge_dirty(now, written=touched)
        for state in touched.values():
            self._write(state)
        self.metrics.batch_size.observe(size)
        self.metrics.last_processed.set(now)
        if self.watermark:
            self.metrics.watermark.set(self.watermark)
            self.metrics.event_time_lag.set(max(0.0, now - self.watermark))

    def _seen_before(self, raw: bytes) -> bool:
        """An event its client's state already holds (a redelivery, or the journal replayed
        into a new broker), found without validating the whole event."""
        try:
            head = orjson.loads(raw)
            client_id, event_id = head["client_id"], head["event_id"]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            return False  # the full parse says what is wrong
        if not isinstance(client_id, str) or not isinstance(event_id, str):
            return False
        state = self.state_of(client_id)
        return state is not None and event_id in state.seen

    def _judge_dirty(self, now: float, written: Mapping[str, ClientState] = {}) -> None:
        """Judge every client changed since the last pass; record ingest-to-health latency.

        Clients in `written` are about to be written by the caller; others that the
        judgement changed are written here.
        """
        for client_id, state in self._dirty.items():
            try:
                if self._judge(state, now) and client_id not in written:
                    self._write(state)
            except Exception:
                log.exception("judging client %s failed", client_id)
        done = time.time()
        for stamps in self._waiting.values():
            for stamp in stamps:
                self.metrics.latency.observe(max(0.0, done - stamp))
        self._dirty.clear()
        self._waiting.clear()
        self._judged_wall = done

    def state_of(self, client_id: str, *, keep: bool = True) -> ClientState | None:
        """The live state object; after a restart, rebuilt once from the recovered table.

        Readers outside the agent and the timer (the API) pass keep=False: during a
        recovery the table is half-read, and a state cached from it would be stale.
        """
        state = self._live.get(client_id)
        if state is None:
            raw = self.states.get(layout.head_key(client_id))
            if raw is not None:
                head = layout.decode_head(raw)
                parts = [self.states.get(key) for key in layout.part_keys(head)]
                if any(part is None for part in parts):
                    log.error("client %s: state parts missing from the table", client_id)
                state = layout.assemble(head, [p for p in parts if p is not None])
                if keep:
                    self._live[client_id] = state
                    self._written[client_id] = layout.Written.of_head(head)
        return state

    def behind(self) -> int | None:
        """Events on this worker's partitions not processed yet (None: not known yet)."""
        if not self._assigned:
            return None
        total = 0
        for partition in self._assigned:
            tp = faust.types.TP(topics.EVENTS, partition)
            try:
                highwater = self.app.consumer.highwater(tp)
            except Exception:  # no consumer yet, or a rebalance
                return None
            position = self.offsets.next_offset(tp)
            if highwater is None:
                return None
            total += max(0, highwater - (position or 0))
        return total

    @property
    def assigned(self) -> set[int]:
        """The events partitions this worker processes."""
        return self._assigned

    def quiet_view(self, client_id: str) -> ClientView:
        """A tenant client with no events: green, no activity (health.quiet_client_view)."""
        return quiet_client_view(
            self.engine, client_id, self.tenant.tenant, self.watermark, time.time()
        )

    def _write(self, state: ClientState) -> None:
        """A client's state changed: the next checkpoint writes it to the table.

        The table (and its changelog) hold the JSON form; the checkpoint does what
        `table[key] = value` does, keeping the changelog future, so nothing is
        acknowledged before every record it produced is delivered.
        """
        self._unsaved[state.client_id] = state
        self._live[state.client_id] = state

    def _fold(
        self,
        event: CanonicalEvent,
        touched: dict[str, ClientState],
        received: dict[str, list[float]],
        work: list[WorkItem],
    ) -> None:
        ticket_ref = owner_needed(event)
        if ticket_ref is not None:
            owner = self._owner_of(ticket_ref, touched)
            if owner is None:
                self._park(ticket_ref, event)
                return
            event = event.model_copy(update={"client_id": owner, "client_known": True})
        client_id = event.client_id
        state = touched.get(client_id)
        if state is None:
            state = touched[client_id] = self.state_of(client_id) or ClientState(client_id)
        applied = self.engine.apply(state, event, self.watermark)
        if applied.duplicate:
            self.metrics.duplicates.inc()
            return
        self.watermark = max(self.watermark, ts(event.occurred_at))
        self.processed += 1
        self.metrics.at(self.metrics.events, event.payload.kind).inc()
        if applied.too_late:
            self.too_late.add(event.event_id)
            self.metrics.too_late.inc()
        received.setdefault(client_id, []).append(ts(event.received_at))
        work.extend(applied.work)
        if isinstance(event.payload, Ticket):
            ref = str(event.ref)
            self._ticket_owner[ref] = client_id
            for parked in self._unpark(ref):
                self._fold(parked, touched, received, work)

    def _judge(self, state: ClientState, now: float) -> bool:
        """Publish what changed; True when the state changed and must be written."""
        if not self.engine.is_known(state.client_id):
            return False  # no account lead, no health: ingest flags unknown clients
        judgement = self.engine.judge(state, self.tenant.tenant, self.watermark, now)
        self._judged_at[state.client_id] = self.watermark
        for signal in judgement.signals:
            self.publisher.add(topics.SIGNALS, state.client_id.encode(), _json(signal))
            self.metrics.signals.labels(
                behaviour=signal.behaviour.value, status=signal.status
            ).inc()
        if judgement.health is not None:
            self.publisher.add(topics.HEALTH, state.client_id.encode(), _json(judgement.health))
        self.views[state.client_id] = judgement.view
        if self.metrics.owns(state.client_id):
            self.metrics.show(judgement.view)
        return judgement.dirty

    async def _judge_pending(self) -> None:
        """Judge the clients a paced batch left unjudged (no batch followed soon enough)."""
        if self._dirty and self._tables_ready():
            self._judge_dirty(time.time())

    async def _tick(self) -> None:
        """Re-judge clients as event time advances (overdue recommendations, windows)."""
        self.tick()
        await self._checkpoint()
        if self._tables_ready():
            await self._seek_back()  # a partition sought back that still receives nothing

    async def _on_partitions_assigned(self, sender: Any, /, *args: Any, **kwargs: Any) -> None:
        """Per-client metrics for the clients whose events this worker now receives."""
        assigned = args[0] if args else kwargs.get("assigned", ())
        self.own({tp.partition for tp in assigned if tp.topic == topics.EVENTS})

    def own(self, partitions: set[int]) -> None:
        self._assigned = set(partitions)
        for table in (self.states, self.positions, self.parked):
            open_partitions(table, partitions)
        self._collect_orphans = True
        self._tickets_indexed = False
        try:
            count = self.app.consumer.topic_partitions(topics.EVENTS)
        except Exception:  # no metadata (tests): the partition count `up` creates
            count = None
        count = count or self.settings.topic_partitions
        self.metrics.own(
            c.id for c in self.tenant.clients if partition_of(c.id.encode(), count) in partitions
        )

    async def _on_partitions_revoked(
        self, sender: Any, /, *args: Any, signal: Any, **kwargs: Any
    ) -> None:
        """Partitions may come back recovered from elsewhere: reload state from the table.

        A checkpoint under way finishes first (its positions are not recorded: the
        generation moved on), so no state of ours reaches a changelog partition after
        its next owner started recovering it.
        """
        self._generation += 1
        async with self._checkpointing:
            pass
        self._live.clear()
        self._written.clear()
        self._ticket_owner.clear()
        self._tickets_indexed = False
        self._dirty.clear()
        self._unsaved.clear()
        self._unrecorded.clear()
        self._watermark_recovered = False
        self.offsets.reset()

    def _tables_ready(self) -> bool:
        """Recovery done and no rebalance under way: the tables hold every client's state."""
        app = self.app
        recovery = cast(Any, app.tables).recovery  # TableManagerT does not declare it
        return bool(recovery.completed.is_set() and not app.rebalancing and not app.in_recovery)

    def tick(self) -> None:
        if not self._tables_ready():
            return  # a half-recovered table would cache stale states
        self._recover_watermark()
        if not self.watermark:
            return
        now = time.time()
        self._judge_dirty(now)
        for client in self.tenant.clients:
            if not self.metrics.owns(client.id):
                continue  # another worker's (or no partition assigned yet)
            # Clients with new events were judged with them; the others only need it as
            # event time moves on (deadlines pass, windows slide), which is hours-scale.
            # Judging every client at every tick stalled the agent for all of them.
            judged = self._judged_at.get(client.id)
            if judged is not None and self.watermark - judged < REJUDGE_AFTER_EVENT_SECONDS:
                continue
            try:
                state = self.state_of(client.id)
                if state is None:  # a quiet client: green, no activity, in the metrics too
                    self._judged_at[client.id] = self.watermark
                    self.metrics.show(self.quiet_view(client.id))
                elif self._judge(state, now):
                    self._write(state)
            except Exception:
                log.exception("periodic judgement of %s failed", client.id)
        self.metrics.event_time_lag.set(max(0.0, now - self.watermark))

    # -- ConnectWise schedule entries: joined to their ticket's client ---------------

    def _owner_of(self, ticket_ref: str, touched: dict[str, ClientState]) -> str | None:
        owner = self._ticket_owner.get(ticket_ref)
        if owner is not None:
            return owner
        for client_id, state in touched.items():
            if ticket_ref in state.tickets:
                self._ticket_owner[ticket_ref] = client_id
                return client_id
        if not self._tickets_indexed:
            # Once after a start or a rebalance: every ticket the tables hold.
            self._tickets_indexed = True
            for key, value in self.states.items():
                if layout.is_part(key):
                    client_id = layout.client_of(key)
                    for ref in layout.tickets_of(value):
                        self._ticket_owner.setdefault(ref, client_id)
            return self._ticket_owner.get(ticket_ref)
        return None

    def _park(self, ticket_ref: str, event: CanonicalEvent) -> None:
        waiting = list(self.parked.get(ticket_ref.encode()) or [])
        waiting.append(event.model_dump_json())
        key = ticket_ref.encode()
        table_write(self.parked, partition_of(key, self.settings.topic_partitions), key, waiting)

    def _unpark(self, ticket_ref: str) -> list[CanonicalEvent]:
        waiting = self.parked.get(ticket_ref.encode())
        if not waiting:
            return []
        key = ticket_ref.encode()
        table_write(self.parked, partition_of(key, self.settings.topic_partitions), key, None)
        return [CanonicalEvent.model_validate_json(raw) for raw in waiting]

    # -- failures, watermark ---------------------------------------------------------

    def _dead_letter(self, raw: bytes, reason: str, message: str, event_id: str | None) -> None:
        self.failed += 1
        self.metrics.failed.labels(reason=reason).inc()
        if event_id:
            self.dead_letters.add(event_id)
        headers = {
            topics.H_ERROR_STAGE: b"classifier",
            topics.H_ERROR_REASON: reason.encode(),
            topics.H_ERROR_MESSAGE: message[:2000].encode(),
        }
        if event_id:
            headers[topics.H_EVENT_ID] = event_id.encode()
        self.publisher.add(topics.DLQ, None, raw, list(headers.items()))

    def _recover_watermark(self) -> None:
        """After a restart the watermark is the newest event time the states remember."""
        if self._watermark_recovered:
            return
        self._watermark_recovered = True
        for head in self._heads().values():
            self.watermark = max(self.watermark, head["newest"])

    def processed_ids(self, event_ids: Iterable[str]) -> tuple[int, list[str]]:
        """How many of these events are applied, dead-lettered or too late; which are not."""
        live = self._live  # newer than the table until the next checkpoint
        seen_sets: list[Iterable[str]] = [state.seen for state in live.values()]
        for client_id, head in self._heads().items():
            if client_id not in live:
                parts = (self.states.get(key) for key in layout.part_keys(head))
                seen_sets.append(layout.seen_of(p for p in parts if p is not None))
        seen = set().union(*seen_sets)
        done, missing = 0, []
        for event_id in event_ids:
            if event_id in self.dead_letters or event_id in self.too_late or event_id in seen:
                done += 1
            else:
                missing.append(event_id)
        return done, missing

    def worker(self) -> faust.Worker:
        # The libraries' loggers at our level: otherwise aiokafka and faust build a debug
        # record for every message produced (the handler drops it), about 5% of the CPU.
        for name in ("aiokafka", "faust", "mode"):
            logging.getLogger(name).setLevel(self.settings.log_level.upper())
        Path(self.app.conf.datadir).mkdir(parents=True, exist_ok=True)
        # Everything imported and built so far lives as long as the process: out of the
        # cyclic collector's sight. The states' records are long-lived too, so collect
        # the young generation less often (CPython's 700 made the collector a third of
        # the engine's time in a backlog).
        gc.freeze()
        gc.set_threshold(*GC_THRESHOLDS)
        return faust.Worker(self.app, loglevel=self.settings.log_level.lower(), quiet=True)


def _exit_for_redelivery() -> NoReturn:
    """A record could not be sent. Exiting now (no finally blocks, no commit) gets every
    event no checkpoint covers redelivered to a restarted worker, and deduplication
    makes that exact."""
    log.critical("could not record a batch; exiting for redelivery", exc_info=True)
    logging.shutdown()
    os._exit(70)


def _position_key(tp: Any) -> bytes:
    return f"{tp.topic}:{tp.partition}".encode()


def _json(model: WorkItem | Signal | Any) -> bytes:
    data: bytes = model.model_dump_json().encode()
    return data


def create_app(settings: ClassifierSettings, tenant: Tenant, bootstrap: str) -> Classifier:
    return Classifier(settings, tenant, bootstrap)
