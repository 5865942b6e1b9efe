"""Contiguous offsets: the agent processes each partition's events in offset order, none skipped.

faust-streaming can drop fetched events on their way to a stream around a rebalance
or a worker's start (its fetcher counts them as read, the stream never sees them),
and acknowledging the events after them then lets their offsets be committed: the
events are lost for good (docs/classifier.md, "Exactly counted"). The guard makes
the agent check what it receives against what it expects next, per partition:

- an event at the expected offset is taken, and the next one is expected;
- an event before it is a redelivery (a seek back, a rebalance): taken, and the
  engine's deduplication by event id makes it harmless;
- an event past it means events were skipped: it is not taken (nor acknowledged,
  so no commit can pass the hole), and the partition is sought back to the
  expected offset; until the expected event arrives every later one is refused the
  same way, and the seek is repeated while nothing arrives.

The agent starts each partition at the position it recorded itself (a table, written
once a batch's states are delivered), not at faust's committed offset: faust can
commit past a hole (its acknowledgement bookkeeping lets a run of acknowledged
offsets start one past the committed one), and a restart from such an offset would
never see the hole's events. The recorded position can only be behind, never past,
what was processed; behind only costs deduplicated reprocessing.

Pure bookkeeping: the agent does the seeking, acknowledging and recording.
"""

from __future__ import annotations

from collections.abc import Hashable
from enum import Enum


class Verdict(Enum):
    TAKE = "take"
    SKIPPED_BEFORE = "skipped_before"  # events before this one were never delivered


class OffsetGuard:
    """Per partition, the offset expected next and the partitions being sought back."""

    def __init__(self, retry_seconds: float = 2.0) -> None:
        self.retry_seconds = retry_seconds
        self._next: dict[Hashable, int] = {}
        self._seeking: dict[Hashable, float | None] = {}  # partition -> last seek (None: due)

    def expects(self, partition: Hashable) -> bool:
        """Whether the partition's starting offset is known (see `start`)."""
        return partition in self._next

    def start(self, partition: Hashable, offset: int) -> None:
        """The partition's events start at `offset` (its committed offset after a seek)."""
        self._next[partition] = offset

    def admit(self, partition: Hashable, offset: int) -> Verdict:
        expected = self._next.get(partition)
        if expected is None:  # nothing known: the first event sets the start
            self._next[partition] = offset + 1
            return Verdict.TAKE
        if offset < expected:
            return Verdict.TAKE
        if offset == expected:
            self._next[partition] = offset + 1
            self._seeking.pop(partition, None)
            return Verdict.TAKE
        self._seeking.setdefault(partition, None)
        return Verdict.SKIPPED_BEFORE

    def next_offset(self, partition: Hashable) -> int | None:
        """The offset expected next: every event before it was processed, in order."""
        return self._next.get(partition)

    def seeks_due(self, now: float) -> list[tuple[Hashable, int]]:
        """The (partition, offset) seeks to make now; each is then due again after a while."""
        due = []
        for partition, last in self._seeking.items():
            if last is None or now - last >= self.retry_seconds:
                self._seeking[partition] = now
                due.append((partition, self._next[partition]))
        return due

    def seeking(self) -> dict[Hashable, int]:
        """The partitions being sought back, with the offset each waits for."""
        return {p: self._next[p] for p in self._seeking}

    def reset(self) -> None:
        """Partitions revoked: what comes after the next assignment starts afresh."""
        self._next.clear()
        self._seeking.clear()
