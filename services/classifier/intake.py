"""The agent's intake: each partition's events in offset order, none skipped, none stuck.

faust-streaming can drop fetched events on their way to a stream around a rebalance
or a worker's start; the offsets guard (services/classifier/offsets.py) finds them
by the hole they leave before a later event and the intake seeks the partition back
(`seek_back`). When no later event comes, nothing of the partition arrives at all and
no hole shows: a partition whose end is past the offset expected and that delivered
nothing for a while is sought back too (`unstall`). Each partition starts at the
position the agent recorded itself (the `stream-positions` table), not at faust's
committed offset (docs/classifier.md, "Nothing skipped").
"""

from __future__ import annotations

import logging
import time
from typing import Any, cast

import faust
from aiokafka.errors import IllegalStateError

from services.classifier.metrics import ClassifierMetrics
from services.classifier.offsets import OffsetGuard, Verdict
from services.classifier.settings import ClassifierSettings
from services.classifier.tables import Tables
from services.classifier.transport import forget, start_offset
from services.events import topics

log = logging.getLogger("partnerpulse.classifier")


class Intake:
    """Per events partition: the offset expected next, and when an event last came."""

    def __init__(
        self,
        settings: ClassifierSettings,
        *,
        app: faust.App,
        tables: Tables,
        metrics: ClassifierMetrics,
    ) -> None:
        self.settings = settings
        self.app = app
        self.tables = tables
        self.metrics = metrics
        self.offsets = OffsetGuard()
        self.partitions: set[int] = set()  # the events partitions assigned
        self._taken_at: dict[int, float] = {}  # events partition -> its last event taken

    def assign(self, partitions: set[int]) -> None:
        """Partitions assigned: each starts again where its position was recorded."""
        self.partitions = set(partitions)
        self.offsets.reset()
        now = time.monotonic()
        self._taken_at = {partition: now for partition in partitions}

    def revoke(self) -> None:
        self.offsets.reset()

    async def in_order(self, events: list[faust.EventT[bytes]]) -> list[faust.EventT[bytes]]:
        """The events to process; those after a hole in a partition's offsets wait (see
        services/classifier/offsets.py) while the partition is sought back."""
        guard = self.offsets
        taken = []
        now = time.monotonic()
        for event in events:
            message = event.message
            if not guard.expects(message.tp):
                start = self.recorded_position(message.tp)
                if start is None:
                    start = await start_offset(self.app, message.tp)
                if start is not None:
                    guard.start(message.tp, start)
            if guard.admit(message.tp, message.offset) is Verdict.TAKE:
                taken.append(event)
                self._taken_at[message.tp.partition] = now
            else:
                forget(self.app, message)
        await self.seek_back()
        return taken

    def recorded_position(self, tp: Any) -> int | None:
        """The next offset to process, as recorded in this broker's incarnation (a new
        embedded broker replays the journal at offsets of its own)."""
        value = self.tables.positions.get(position_key(tp))
        if not isinstance(value, list) or value[0] != self.settings.broker_incarnation:
            return None
        return int(value[1])

    async def seek_back(self) -> None:
        """Seek the partitions with a hole back to the offset they expect."""
        for tp, offset in self.offsets.seeks_due(time.monotonic()):
            try:
                await self.app.consumer.seek(cast(Any, tp), offset)
            except IllegalStateError:
                # Revoked while its events were awaited (the next assignment starts the
                # guard afresh); or not assigned yet: due again after the retry delay.
                log.info("%s is not assigned to this worker now: not sought back", tp)
                continue
            log.warning(
                "events of %s from offset %d were never delivered to the agent: "
                "seeking back to fetch them again",
                tp,
                offset,
            )
            self.metrics.offset_seeks.inc()

    async def unstall(self) -> None:
        """Seek a partition that has events to process but delivers none.

        The guard finds events faust skipped by the hole they leave before a later
        event; when no later event comes (the events were all produced before a
        rebalance, and faust skipped what it fetched while the partition changed
        hands), nothing of the partition ever arrives and the hole shows nowhere. A
        partition whose expected offset is below its end and that has delivered no
        event for two seek retries is sought back to it.
        """
        now = time.monotonic()
        quiet = 2 * self.offsets.retry_seconds
        for partition in sorted(self.partitions):
            if now - self._taken_at.get(partition, now) < quiet:
                continue
            tp = faust.types.TP(topics.EVENTS, partition)
            expected = self.offsets.next_offset(tp)
            if expected is None:
                expected = self.recorded_position(tp)
            if expected is None:
                continue  # nothing recorded: faust's committed offset is all there is
            try:
                end = self.app.consumer.highwater(tp)
            except Exception:  # a rebalance under way
                continue
            if end is not None and end <= expected:
                continue  # nothing waits
            self._taken_at[partition] = now
            try:
                await self.app.consumer.seek(cast(Any, tp), expected)
            except IllegalStateError:
                continue  # revoked meanwhile
            if not self.offsets.expects(tp):
                self.offsets.start(tp, expected)
            log.warning(
                "no event of %s delivered for %.0f s though events from offset %d wait: "
                "seeking there",
                tp,
                quiet,
                expected,
            )
            self.metrics.offset_seeks.inc()

    def caught_up(self, events: list[faust.EventT[bytes]]) -> bool:
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

    def behind(self) -> int | None:
        """Events on the assigned partitions not processed yet (None: not known yet)."""
        if not self.partitions:
            return None
        total = 0
        for partition in self.partitions:
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


def position_key(tp: Any) -> bytes:
    """The `stream-positions` table's key of an events partition."""
    return f"{tp.topic}:{tp.partition}".encode()
