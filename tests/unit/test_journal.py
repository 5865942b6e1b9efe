from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from services.ingest.journal import Journal, JournalFull, Record


def rec(event_id: str | None, value: bytes = b"{}", topic: str = "t") -> Record:
    return Record(
        topic=topic,
        value=value,
        source="canonical",
        key=b"k",
        event_id=event_id,
        headers=[("h", b"\x00\xff")],
    )


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


def test_append_stores_and_deduplicates_by_event_id(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.db").open()
    try:
        assert run(journal.append([rec("a"), rec("b")])) == [True, True]
        assert run(journal.append([rec("b"), rec("c")])) == [False, True]
        assert journal.pending == 3
        rows = journal.fetch_pending(10)
        assert [r.record.event_id for r in rows] == ["a", "b", "c"]
        assert rows[0].record.headers == [("h", b"\x00\xff")]  # binary headers survive
    finally:
        journal.close()


def test_records_without_event_id_are_never_deduplicated(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.db").open()
    try:
        assert run(journal.append([rec(None), rec(None)])) == [True, True]
        assert journal.pending == 2
    finally:
        journal.close()


def test_concurrent_appends_are_group_committed_and_all_answered(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.db").open()

    async def many() -> list[list[bool]]:
        return await asyncio.gather(*(journal.append([rec(f"e{i}")]) for i in range(300)))

    try:
        results = run(many())
        assert all(r == [True] for r in results)
        assert journal.pending == 300
    finally:
        journal.close()


def test_full_journal_refuses_new_events(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.db", max_pending=2).open()
    try:
        run(journal.append([rec("a"), rec("b")]))
        with pytest.raises(JournalFull):
            run(journal.append([rec("c")]))
        # dead letters are still stored: the raw payload must not be lost
        assert run(journal.append([rec(None)], check_capacity=False)) == [True]
    finally:
        journal.close()


def test_relayed_rows_leave_the_backlog_and_survive_reopen(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    journal = Journal(path).open()
    run(journal.append([rec("a"), rec("b"), rec("c")]))
    first = journal.fetch_pending(2)
    journal.mark_relayed([r.seq for r in first])
    journal.mark_relayed([r.seq for r in first])  # idempotent
    assert journal.pending == 1
    journal.close()

    reopened = Journal(path).open()
    try:
        assert reopened.pending == 1
        assert [r.record.event_id for r in reopened.fetch_pending(10)] == ["c"]
        # a duplicate of a relayed event is still recognised after the restart
        assert run(reopened.append([rec("a")])) == [False]
        # a fresh broker: everything goes again, in order
        assert reopened.requeue_all() == 2
        assert [r.record.event_id for r in reopened.fetch_pending(10)] == ["a", "b", "c"]
        assert reopened.pending == 3
    finally:
        reopened.close()


def test_wait_for_pending_wakes_on_append(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.db").open()
    try:
        assert journal.wait_for_pending(0.01) is False
        run(journal.append([rec("a")]))
        assert journal.wait_for_pending(0.01) is True
    finally:
        journal.close()
