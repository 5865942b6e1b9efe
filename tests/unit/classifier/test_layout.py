"""The state table's layout: bounded records, written when changed, a crash-safe head."""

from __future__ import annotations

import time
from typing import Any

import pytest

from services.classifier.domain import layout
from services.classifier.domain.engine import Engine
from services.classifier.domain.state import ClientState

from .conftest import Feed
from .factory import alert, at, ticket
from .streams import large_client_day

KIB = 1024


class Table:
    """The changelog as a compacted topic keeps it: the last value per key."""

    def __init__(self) -> None:
        self.data: dict[bytes, bytes] = {}
        self.records: list[tuple[bytes, bytes | None]] = []

    def write(self, planned: layout.Plan, *, head: bool = True, tombstones: bool = True) -> None:
        for key, value in planned.parts:
            self.put(key, value)
        if head:
            self.put(*planned.head)
        if head and tombstones:
            for key in planned.tombstones:
                self.put(key, None)

    def put(self, key: bytes, value: bytes | None) -> None:
        self.records.append((key, value))
        if value is None:
            self.data.pop(key, None)
        else:
            self.data[key] = value

    def load(self, client_id: str) -> ClientState:
        head = layout.decode_head(self.data[layout.head_key(client_id)])
        return layout.assemble(head, [self.data[key] for key in layout.part_keys(head)])


def snapshot(state: ClientState) -> dict[str, Any]:
    return state.to_json()


@pytest.mark.acceptance  # issue 10's acceptance: a year at 300 events a day, 35 s of CPU
def test_a_year_of_a_large_client_never_makes_a_record_over_256_kib(engine: Engine) -> None:
    """300 events a day for a year, 2,500 endpoints, checkpoints weekly: every record the
    table receives stays small, and the table holds about the retention, not the year."""
    feed = Feed(engine)
    table = Table()
    written = layout.Written()
    largest = 0
    for day in range(365):
        feed(*large_client_day("acme", day, 300, 2500))
        if day % 7 == 6 or day == 364:
            if day in (181, 364):  # signals and health too
                engine.judge(feed.state, engine.tenant.tenant, feed.watermark, time.time())
            planned = layout.plan(feed.state, written)
            assert planned is not None
            table.write(planned)
            written = planned.written
            largest = max(largest, *(len(v) for _, v in [*planned.parts, planned.head]))
    assert largest < 256 * KIB, largest
    assert snapshot(table.load("acme")) == snapshot(feed.state)
    # The table keeps what retention keeps (about 100 days of day parts), not a year.
    days = {key.split(layout.SEP)[1].split(b".")[0] for key in table.data if layout.is_part(key)}
    assert len(days) < engine.retention / 86400 + 20


def test_unchanged_state_writes_nothing_and_one_change_writes_one_part(
    feed: Feed, engine: Engine
) -> None:
    feed(ticket("1", at(0)), ticket("2", at(3)), alert("a", at(3, 1)))
    first = layout.plan(feed.state, layout.Written())
    assert first is not None
    assert layout.plan(feed.state, first.written) is None
    feed(ticket("2", at(3), priority="critical", occurred=at(3, 2)))
    second = layout.plan(feed.state, first.written)
    assert second is not None
    changed = {key.split(layout.SEP)[1].split(b"@")[0] for key, _ in second.parts}
    day_of_ticket_2 = f"d{int(at(3).timestamp() // 86400)}".encode()
    assert changed == {day_of_ticket_2}
    assert len(second.tombstones) == 1  # the part it replaces, after the head


def test_a_burst_day_splits_into_bounded_parts_that_assemble_back(feed: Feed) -> None:
    feed(*(alert(f"a{i}", at(0, i / 1000), device=f"ws-{i:05d}") for i in range(6000)))
    planned = layout.plan(feed.state, layout.Written())
    assert planned is not None
    assert len(planned.parts) > 2
    assert all(len(value) <= layout.PART_LIMIT for _, value in planned.parts)
    table = Table()
    table.write(planned)
    assert snapshot(table.load("acme")) == snapshot(feed.state)


def test_a_checkpoint_cut_before_its_head_leaves_the_previous_state_whole(feed: Feed) -> None:
    """Parts first, the head last: a crash in between reads as the previous checkpoint,
    and the parts no head names are found as orphans."""
    feed(ticket("1", at(0)), alert("a", at(0, 1)))
    table = Table()
    first = layout.plan(feed.state, layout.Written())
    assert first is not None
    table.write(first)
    before = snapshot(table.load("acme"))
    feed(ticket("1", at(0), priority="critical", occurred=at(0, 3)), ticket("9", at(1)))
    second = layout.plan(feed.state, first.written)
    assert second is not None
    table.write(second, head=False)  # the crash
    assert snapshot(table.load("acme")) == before
    heads = {"acme": layout.decode_head(table.data[b"acme"])}
    assert sorted(layout.orphans(table.data, heads)) == sorted(k for k, _ in second.parts)
    # The head written but not its tombstones: the old parts are the orphans then.
    table.write(second, tombstones=False)
    heads = {"acme": layout.decode_head(table.data[b"acme"])}
    assert sorted(layout.orphans(table.data, heads)) == sorted(second.tombstones)


def test_parts_out_of_retention_are_tombstoned(feed: Feed, engine: Engine) -> None:
    feed(ticket("old", at(0)))
    first = layout.plan(feed.state, layout.Written())
    assert first is not None
    feed(ticket("new", at(400)))  # the watermark moves a year on
    engine.judge(feed.state, engine.tenant.tenant, feed.watermark, time.time())  # prunes
    assert "connectwise:ticket:old" not in feed.state.tickets
    second = layout.plan(feed.state, first.written)
    assert second is not None
    old_parts = {key for key, _ in first.parts}
    assert old_parts <= set(second.tombstones)


def test_a_prune_rewrites_only_the_days_it_dropped_records_from(
    feed: Feed, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pruning runs once a week of event time; the parts of days it dropped nothing from
    stand (a backlog drain prunes every simulated week: rewriting every part each time
    made its checkpoints encode the whole state again)."""
    retention_days = engine.retention / 86400
    feed(ticket("old", at(0)), ticket("kept", at(30)), ticket("recent", at(retention_days)))
    engine.judge(feed.state, engine.tenant.tenant, feed.watermark, time.time())
    first = layout.plan(feed.state, layout.Written())
    assert first is not None
    feed(ticket("next", at(retention_days + 8)))  # the horizon passes day 0, not day 30
    engine.judge(feed.state, engine.tenant.tenant, feed.watermark, time.time())  # prunes
    assert "connectwise:ticket:old" not in feed.state.tickets
    encoded: list[set[int] | None] = []
    encode = layout.encode_parts
    monkeypatch.setattr(
        layout, "encode_parts", lambda state, days=None: encoded.append(days) or encode(state, days)
    )
    second = layout.plan(feed.state, first.written)
    assert second is not None
    number = lambda d: int(at(d).timestamp() // 86400)  # noqa: E731
    assert encoded == [{number(0), number(retention_days + 8)}]  # not every day again
    day = lambda d: f"d{number(d)}".encode()  # noqa: E731
    dropped = {key.split(layout.SEP)[1].split(b"@")[0] for key in second.tombstones}
    assert day(0) in dropped and day(30) not in dropped
    table = Table()
    table.write(first)
    table.write(second)
    assert snapshot(table.load("acme")) == snapshot(feed.state)


@pytest.mark.parametrize("version", [2, 4])
def test_a_head_of_another_layout_is_refused(version: int) -> None:
    with pytest.raises(ValueError, match="layout"):
        layout.decode_head(b'{"v": %d}' % version)
