"""The classifier's Faust agent: batches in, outputs sent, checkpoints, rebalances.

The agent takes events in batches and hands them to the `Processor`
(services/classifier/processor.py), which folds and judges without any await;
it sends the batch's outputs (`publish.Publisher`) and, at most every
`classifier_checkpoint_interval` seconds, checkpoints: it writes the state of
each client changed since the last checkpoint (only the records that changed,
services/classifier/domain/layout.py) once the broker has every output produced before
it, then records each partition's position and acknowledges the events it
covers. A restart resumes from the recorded positions; the events after them are
processed again, and the engine deduplicates by event id, so a SIGTERM or kill -9
counts nothing twice (outputs are at least once). A record that cannot be sent
exits the process, so nothing no checkpoint covers is acknowledged.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Mapping
from typing import Any, NoReturn, cast

import faust

from services.classifier.cover import StoreCover
from services.classifier.domain import layout
from services.classifier.intake import Intake, position_key
from services.classifier.metrics import ClassifierMetrics
from services.classifier.processor import Processor
from services.classifier.publish import Publisher, partition_of
from services.classifier.settings import ClassifierSettings
from services.classifier.tables import Tables
from services.classifier.transport import TableWriter, forget, open_partitions
from services.events import topics
from services.events.tenant import Tenant

log = logging.getLogger("partnerpulse.classifier")


class Agent:
    """The agent, its timers and rebalance handlers, over one faust app."""

    def __init__(
        self,
        settings: ClassifierSettings,
        tenant: Tenant,
        *,
        app: faust.App,
        tables: Tables,
        processor: Processor,
        publisher: Publisher,
        writer: TableWriter,
        metrics: ClassifierMetrics,
        cover: StoreCover,
    ) -> None:
        self.settings = settings
        self.tenant = tenant
        self.app = app
        self.tables = tables
        self.processor = processor
        self.states = processor.states
        self.publisher = publisher
        self.writer = writer  # table writes: their changelog records go out with the outputs
        self.metrics = metrics
        self.cover = cover
        self.intake = Intake(settings, app=app, tables=tables, metrics=metrics)
        self._collect_orphans = True  # after an assignment: parts of crashed checkpoints
        self._largest_record = 0
        self._inflight: list[Any] = []  # futures of records sent since the last checkpoint
        self._publishing = asyncio.Lock()  # a checkpoint waits for a flush under way
        self._unrecorded: dict[Any, int] = {}  # partition -> next offset, handled not recorded
        self._generation = 0  # partitions revoked: what a checkpoint under way covered is moot
        self._owning = 0  # the generation the partitions were last assigned in
        self._saved_at = 0.0  # monotonic time of the last checkpoint
        # Clock time of the last tick that judged every client, once its outputs were
        # delivered (0: none yet).
        self.ticked_at = 0.0
        self._checkpointing = asyncio.Lock()
        raw: dict[str, Any] = {"key_serializer": "raw", "value_serializer": "raw"}
        events = app.topic(topics.EVENTS, key_type=bytes, value_type=bytes, **raw)
        app.agent(events, name="classify")(self._classify)
        app.timer(settings.classifier_tick_seconds)(self._tick)
        if settings.classifier_live_judge_interval > 0:
            app.timer(settings.classifier_live_judge_interval)(self._judge_pending)
        app.timer(settings.classifier_checkpoint_interval)(self._checkpoint_tail)
        app.on_partitions_revoked.connect(self._on_partitions_revoked)
        app.on_partitions_assigned.connect(self._on_partitions_assigned)

    @property
    def assigned(self) -> set[int]:
        """The events partitions this worker processes."""
        return self.intake.partitions

    def behind(self) -> int | None:
        """Events on this worker's partitions not processed yet (None: not known yet)."""
        return self.intake.behind()

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
                fetched = self._current(cast(list[faust.EventT[bytes]], events))
                taken = await self.intake.in_order(fetched)
                if len(self._current(taken)) < len(taken):  # a rebalance began meanwhile
                    self.intake.revoke()  # the next events start again where recorded
                    continue
                self.processor.handle(
                    (e.value for e in taken), caught_up=self.intake.caught_up(taken)
                )
                for tp in {event.message.tp for event in taken}:  # in handle()'s step
                    position = self.intake.offsets.next_offset(tp)
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
                    running = (asyncio.ensure_future(self.checkpoint()), unacked)
                    unacked = []
        except asyncio.CancelledError:
            # A stop: what no checkpoint recorded is not acknowledged, so redelivered.
            if running is not None:
                running[0].cancel()
            raise
        except Exception:
            _exit_for_redelivery()  # each event was folded or dead-lettered: a send failed

    def _current(self, events: list[faust.EventT[bytes]]) -> list[faust.EventT[bytes]]:
        """The events this worker may fold now: fetched in the consumer group's current
        generation, with the tables recovered. The others are not acknowledged, and are
        fetched again by their partition's owner.

        A batch collects events for up to `classifier_batch_within` seconds, and faust
        checks an event's generation only when the batch takes it: events fetched before
        a rebalance reach the agent after it. Folded then, they would be read against a
        table whose partitions are being handed over (a state not found starts afresh)
        and written, at the next checkpoint, into a changelog partition another worker
        may now own, under the keys that worker writes too. All or none: the batch is
        dropped whole when any of its events is stale.
        """
        generation = self.app.consumer_generation_id
        stale = sum(e.message.generation_id != generation for e in events)
        assigned = self._owning == self._generation  # not between a revocation and the next
        if not stale and assigned and self._tables_recovered():
            return events
        for event in events:
            forget(self.app, event.message)
        if events:
            log.info(
                "a batch of %d events (%d fetched before the rebalance to generation %s) "
                "came while partitions changed hands: left to be fetched again",
                len(events),
                stale,
                generation,
            )
        return []

    # -- checkpoints ------------------------------------------------------------------

    async def checkpoint(self) -> bool:
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
        states, write = self.tables.states, self.writer.write
        # One synchronous step: the states (their records as of now), the positions
        # and the outputs all describe the same events.
        if self._collect_orphans and self._tables_ready():
            self._collect_orphans = False
            self._tombstone_orphans()
        plans = self.states.plans()
        positions, self._unrecorded = self._unrecorded, {}
        await self._publish()  # any records of those events not sent yet
        await self._delivered()  # outputs first: a state is never ahead of its outputs
        for client_id, planned in plans:
            # Parts, then the head that names them, then the parts it no longer names:
            # in one partition, so in that order on the changelog.
            partition = self._state_partition(client_id)
            for key, value in [*planned.parts, planned.head]:
                write(states, partition, key, value)
            for key in planned.tombstones:
                write(states, partition, key, None)
            self.states.written[client_id] = planned.written
            for _, value in [*planned.parts, planned.head]:
                self.metrics.state_record_bytes.observe(len(value))
                self._largest_record = max(self._largest_record, len(value))
            self.metrics.state_record_max_bytes.set(self._largest_record)
        await self._publish()
        await self._delivered()
        self._saved_at = time.monotonic()
        if generation != self._generation:
            return False
        self._record_positions(positions)
        self.cover.record(positions)
        await self._publish()
        return True

    def _state_partition(self, client_id: str) -> int:
        """The client's events partition: its changelog records are recovered with it."""
        return partition_of(client_id.encode(), self.settings.topic_partitions)

    def _tombstone_orphans(self) -> None:
        """Delete the parts no head names (a checkpoint a crash cut short)."""
        for key in self.states.orphans():
            partition = self._state_partition(layout.client_of(key))
            if partition in self.assigned:
                self.writer.write(self.tables.states, partition, key, None)

    async def _publish(self) -> list[asyncio.Future[Any]]:
        """Send the records queued so far: the processor's outputs, the tables' writes.
        Their deliveries are awaited with the next checkpoint; returned for a caller that
        must see them delivered sooner."""
        async with self._publishing:
            sent = await self.publisher.flush()
            self._inflight += sent
            return sent

    def _checkpoint_due(self) -> bool:
        return time.monotonic() - self._saved_at >= self.settings.classifier_checkpoint_interval

    async def _checkpoint_tail(self) -> None:
        """The last events of a burst: no later batch comes to checkpoint them."""
        pending = self.states.unsaved or self._unrecorded or self._inflight or len(self.publisher)
        if pending and self._checkpoint_due():
            await self.checkpoint()

    def _record_positions(self, positions: Mapping[Any, int]) -> None:
        """After the states are delivered: where each partition's processing stood.

        Sent with the checkpoint's last flush; its delivery is awaited with the next
        checkpoint (it can only lag behind).
        """
        for tp, offset in positions.items():
            key = position_key(tp)
            value = [self.settings.broker_incarnation, offset]
            self.writer.write(self.tables.positions, tp.partition, key, value)

    async def _delivered(self) -> None:
        """Wait until the broker has every record sent so far."""
        inflight, self._inflight = self._inflight, []
        if inflight:
            await asyncio.gather(*inflight)

    # -- timers and rebalances ----------------------------------------------------------

    async def _judge_pending(self) -> None:
        """Judge the clients a paced batch left unjudged (no batch followed soon enough)."""
        if self._tables_ready():
            self.processor.judge_pending()
            await self._publish()  # their signals and health now, not with the next batch

    async def _tick(self) -> None:
        """Re-judge clients as event time advances (overdue recommendations, windows)."""
        if self._tables_ready():  # a half-recovered table would cache stale states
            judged = self.processor.ticked_at
            self.processor.tick()
            sent = await self._publish()
            if self.processor.ticked_at != judged:
                # `ticked_at` tells a caller that what the tick judged is on its topics
                # (evaluate reads the signals next): delivered, not only queued for the
                # next checkpoint.
                try:
                    await asyncio.gather(*sent)
                except Exception:
                    _exit_for_redelivery()
                self.ticked_at = self.processor.ticked_at
        if self._checkpoint_due():  # not between the batches' own checkpoints of a drain
            await self.checkpoint()
        if self._tables_ready():
            await self.intake.seek_back()  # a partition sought back that still receives nothing
            await self.intake.unstall()  # one that delivers nothing though events wait

    def _tables_ready(self) -> bool:
        """Recovery done and no rebalance under way: the tables hold every client's state."""
        return self._tables_recovered() and not self.app.rebalancing

    def _tables_recovered(self) -> bool:
        """The tables hold the states of the partitions assigned (no recovery under way).

        During a rebalance's revocation they still do (the states folded then are
        forgotten when it ends, and fetched again); faust pauses the stream partitions
        from the assignment to the end of the recovery."""
        app = self.app
        recovery = cast(Any, app.tables).recovery  # TableManagerT does not declare it
        return bool(recovery.completed.is_set() and not app.in_recovery)

    async def _on_partitions_assigned(self, sender: Any, /, *args: Any, **kwargs: Any) -> None:
        """Per-client metrics for the clients whose events this worker now receives."""
        assigned = args[0] if args else kwargs.get("assigned", ())
        self.own({tp.partition for tp in assigned if tp.topic == topics.EVENTS})

    def own(self, partitions: set[int]) -> None:
        self.intake.assign(partitions)
        self._owning = self._generation
        for table in self.tables.all():
            open_partitions(table, partitions)
        self._collect_orphans = True
        self.states.reindex()
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
        self.processor.forget()
        self._unrecorded.clear()
        self.intake.revoke()


def _exit_for_redelivery() -> NoReturn:
    """A record could not be sent. Exiting now (no finally blocks, no commit) gets every
    event no checkpoint covers redelivered to a restarted worker, and deduplication
    makes that exact."""
    log.critical("could not record a batch; exiting for redelivery", exc_info=True)
    logging.shutdown()
    os._exit(70)
