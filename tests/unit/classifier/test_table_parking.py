"""The worker's parking (services/classifier/tables.py) keeps what waits in its table.

Its in-memory index of parked tickets only saves lookups: what the table holds is
what waits, including what a changelog recovery put there while partitions changed
hands. The table and its writer here are dict-backed stand-ins; the real table and
`TableWriter` run in tests/unit/classifier/test_table_writer.py and in the
integration and acceptance tiers.
"""

from __future__ import annotations

from typing import Any

from services.classifier.tables import TableParking

from .factory import at, time_entry


class Table:
    """faust's table as `TableParking` sees it, on a memory store."""

    def __init__(self) -> None:
        self.data: dict[bytes, Any] = {}
        self.changelog: list[tuple[int, bytes, Any]] = []
        self.lookups = 0

    def get(self, key: bytes) -> Any:
        self.lookups += 1
        return self.data.get(key)

    def keys(self) -> list[bytes]:
        return list(self.data)


class Writer:
    """`TableWriter` as far as parking sees it: the store, and the changelog in order."""

    def write(self, table: Table, partition: int, key: bytes, value: Any) -> None:
        table.changelog.append((partition, key, value))
        if value is None:
            table.data.pop(key, None)
        else:
            table.data[key] = value


def entry(entry_id: str) -> Any:
    return time_entry(entry_id, at(1), 1.0, ticket_id="7", client="unassigned", known=False)


TICKET = "connectwise:ticket:7"


def test_entries_wait_in_the_table_and_are_taken_once_in_order() -> None:
    table = Table()
    parking = TableParking(table, partitions=4, writer=Writer())  # type: ignore[arg-type]
    parking.park(TICKET, entry("a"))
    parking.park(TICKET, entry("b"))
    assert TICKET.encode() in table.data  # durable: in the table and its changelog
    assert [e.event_id for e in parking.take(TICKET)] == [entry("a").event_id, entry("b").event_id]
    assert parking.take(TICKET) == []
    assert table.changelog[-1][1:] == (TICKET.encode(), None)  # a tombstone


def test_a_ticket_nothing_waits_for_is_answered_without_reading_the_table() -> None:
    table = Table()
    parking = TableParking(table, partitions=4, writer=Writer())  # type: ignore[arg-type]
    parking.park("connectwise:ticket:8", entry("a"))
    table.lookups = 0
    for _ in range(100):
        assert parking.take(TICKET) == []
    assert table.lookups == 0


def test_after_a_rebalance_what_the_recovered_table_holds_is_taken() -> None:
    table = Table()
    parking = TableParking(table, partitions=4, writer=Writer())  # type: ignore[arg-type]
    assert parking.take(TICKET) == []  # the index is built: nothing waits
    # Partitions change hands: the changelog recovery writes another worker's parked
    # entries straight into the store, not through park().
    parking.forget()
    table.data[TICKET.encode()] = [entry("a").model_dump_json()]
    assert [e.event_id for e in parking.take(TICKET)] == [entry("a").event_id]
