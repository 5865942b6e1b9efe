"""The classifier's faust tables, and the schedule join's parking kept in one of them.

Every table is keyed by raw bytes and backed by a changelog topic. The client
states and the parked events are placed by the client id or ticket reference
exactly as ingest keys its events, so a client's changelog records share its
events partition; positions are written to the partition they describe.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import faust

from services.classifier.publish import partition_of
from services.classifier.transport import TableWriter
from services.events.models import CanonicalEvent

STATE_TABLE = "client-state"
PARKED_TABLE = "parked-by-ticket"
POSITIONS_TABLE = "stream-positions"  # per events partition: the next offset to process


@dataclass
class Tables:
    # Heads and parts of the client states (services/classifier/domain/layout.py), as the raw
    # JSON bytes the layout makes; placed by the checkpoint in the client's partition.
    states: Any
    parked: Any  # ticket reference -> the JSON of the events waiting for it
    # Written to the changelog partition of the events partition it describes, so the
    # worker assigned that partition recovers its position.
    positions: Any

    def all(self) -> tuple[Any, ...]:
        return (self.states, self.parked, self.positions)


def create_tables(app: faust.App, partitions: int) -> Tables:
    options: dict[str, Any] = {
        "default": None,
        # bytes keys are written raw: the client id exactly as ingest keys its events,
        # so the producer's partitioner puts a client's changelog records in the
        # partition of its events.
        "key_type": bytes,
        "use_partitioner": True,
        "partitions": partitions,
    }
    return Tables(
        states=app.Table(STATE_TABLE, value_type=bytes, **options),
        parked=app.Table(PARKED_TABLE, **options),
        positions=app.Table(POSITIONS_TABLE, default=None, key_type=bytes, partitions=partitions),
    )


class TableParking:
    """`Parking` (services/classifier/domain/schedule_join.py) in the parked table, in the
    ticket's partition: recovered with the states by the worker that owns it.

    Every ticket event asks whether entries wait for it, and almost always none do:
    faust's RocksDB store looks a missing key up in the database of every partition.
    The keys parked are therefore indexed in memory, read from the table at the first
    use after `forget()` (the agent calls it when partitions are revoked; the table
    is recovered before any event of the new assignment is handled)."""

    def __init__(self, table: Any, partitions: int, writer: TableWriter) -> None:
        self.table = table
        self.writer = writer
        self.partitions = partitions
        self._keys: set[bytes] | None = None  # None: read them from the table

    def park(self, ticket_ref: str, event: CanonicalEvent) -> None:
        key = ticket_ref.encode()
        waiting = list(self.table.get(key) or [])
        waiting.append(event.model_dump_json())
        self.writer.write(self.table, partition_of(key, self.partitions), key, waiting)
        self._parked().add(key)

    def take(self, ticket_ref: str) -> list[CanonicalEvent]:
        key = ticket_ref.encode()
        parked = self._parked()
        if key not in parked:
            return []
        parked.discard(key)
        waiting = self.table.get(key)
        if not waiting:
            return []
        self.writer.write(self.table, partition_of(key, self.partitions), key, None)
        return [CanonicalEvent.model_validate_json(raw) for raw in waiting]

    def forget(self) -> None:
        """Partitions change hands: the keys are read from the table again."""
        self._keys = None

    def _parked(self) -> set[bytes]:
        if self._keys is None:
            self._keys = {bytes(key) for key in self.table.keys()}
        return self._keys
