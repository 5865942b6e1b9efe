from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from services.ingest.journal import Journal, JournalFull, JournalLocked, JournalUnwritable, Record
from services.ingest.relay_journal import RelayJournal


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
    relay = RelayJournal(tmp_path / "j.db").open()
    try:
        assert run(journal.append([rec("a"), rec("b")])) == [True, True]
        assert run(journal.append([rec("b"), rec("c")])) == [False, True]
        assert journal.pending == 3
        rows = relay.fetch_pending(10)
        assert [r.record.event_id for r in rows] == ["a", "b", "c"]
        assert rows[0].record.headers == [("h", b"\x00\xff")]  # binary headers survive
    finally:
        relay.close()
        journal.close()


def test_the_same_event_twice_at_once_is_stored_once(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.db").open()

    async def together() -> list[list[bool]]:
        return await asyncio.gather(
            journal.append([rec("a")]), journal.append([rec("a"), rec("b"), rec("b")])
        )

    try:
        assert run(together()) == [[True], [False, True, False]]
        assert journal.pending == 2
    finally:
        journal.close()


def test_a_large_batch_is_stored_at_once_and_its_known_events_recognised(
    tmp_path: Path,
) -> None:
    journal = Journal(tmp_path / "j.db").open()
    try:
        assert run(journal.append([rec("e7"), rec("e1100")])) == [True, True]
        batch = [rec(f"e{i}") for i in range(1200)] + [rec(None)]  # several statements
        flags = run(journal.append(batch))
        assert [i for i, new in enumerate(flags) if not new] == [7, 1100]
        assert journal.pending == 1201
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


def test_close_commits_what_was_queued(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.db").open()

    async def append_then_close() -> list[list[bool]]:
        appends = [asyncio.ensure_future(journal.append([rec(f"e{i}")])) for i in range(50)]
        await asyncio.sleep(0)  # every append is queued
        await asyncio.to_thread(journal.close)
        return await asyncio.gather(*appends)

    assert run(append_then_close()) == [[True]] * 50
    relay = RelayJournal(tmp_path / "j.db").open()
    try:
        assert relay.count_pending() == 50
    finally:
        relay.close()


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


def test_ingest_sees_the_relay_drain_the_backlog(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.db", max_pending=2, refresh_interval=0.05).open()
    relay = RelayJournal(tmp_path / "j.db").open()
    try:
        run(journal.append([rec("a"), rec("b")]))
        with pytest.raises(JournalFull):
            run(journal.append([rec("c")]))
        relay.mark_relayed([r.seq for r in relay.fetch_pending(10)], {})
        deadline = time.monotonic() + 5
        while journal.pending:
            assert time.monotonic() < deadline, "ingest never counted the relayed rows"
            time.sleep(0.01)
        assert run(journal.append([rec("c")])) == [True]  # room again
    finally:
        relay.close()
        journal.close()


def test_relayed_rows_leave_the_backlog_and_survive_reopen(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    journal = Journal(path).open()
    relay = RelayJournal(path).open()
    run(journal.append([rec("a"), rec("b"), rec("c")]))
    first = relay.fetch_pending(2)
    assert relay.mark_relayed([r.seq for r in first], {("t", 0): 2}) == 2
    assert relay.mark_relayed([r.seq for r in first], {}) == 0  # idempotent
    assert relay.count_pending() == 1
    uid = relay.uid
    relay.close()
    journal.close()

    reopened = Journal(path).open()
    relay = RelayJournal(path).open()
    try:
        assert reopened.pending == 1
        assert relay.uid == uid  # the journal's identity outlives its processes
        assert relay.offsets() == {("t", 0): 2}
        assert [r.record.event_id for r in relay.fetch_pending(10)] == ["c"]
        # a duplicate of a relayed event is still recognised after the restart
        assert run(reopened.append([rec("a")])) == [False]
        # a fresh broker: everything goes again, in order, and no offset holds any more
        assert relay.requeue_all() == 2
        assert [r.record.event_id for r in relay.fetch_pending(10)] == ["a", "b", "c"]
        assert relay.count_pending() == 3
        assert relay.offsets() == {}
    finally:
        relay.close()
        reopened.close()


def test_one_relay_per_journal(tmp_path: Path) -> None:
    first = RelayJournal(tmp_path / "j.db").open()
    try:
        with pytest.raises(JournalLocked, match="only one relay may run per journal"):
            RelayJournal(tmp_path / "j.db").open()
        other = RelayJournal(tmp_path / "other.db").open()  # another journal is another lock
        other.close()
    finally:
        first.close()
    RelayJournal(tmp_path / "j.db").open().close()  # released on close


def test_retention_prunes_old_relayed_rows_never_pending_ones(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.db").open()
    relay = RelayJournal(tmp_path / "j.db").open()
    try:
        run(journal.append([rec("old-relayed"), rec("old-pending"), rec("new-relayed")]))
        seqs = {r.record.event_id: r.seq for r in relay.fetch_pending(10)}
        relay.mark_relayed([seqs["old-relayed"], seqs["new-relayed"]], {})
        day = 86_400
        relay.conn.execute(
            "UPDATE journal SET received_at = received_at - ? WHERE event_id LIKE 'old-%'",
            (40 * day,),
        )
        assert relay.prune(time.time() - 35 * day) == 1
        left = {e for (e,) in relay.conn.execute("SELECT event_id FROM journal")}
        assert left == {"old-pending", "new-relayed"}
        assert relay.size()[0] == 2 and relay.size()[1] > 0
        assert relay.prune(time.time() - 35 * day) == 0  # nothing more to do
        # pruned: the event id is free again, a re-delivery is new (window = retention)
        assert run(journal.append([rec("old-relayed")])) == [True]
    finally:
        relay.close()
        journal.close()


def test_dead_letters_count_against_capacity_in_rows_and_bytes(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.db", max_pending=10, max_pending_bytes=2048).open()
    try:
        assert run(journal.append([rec(None, b"x" * 1000)])) == [True]
        with pytest.raises(JournalFull, match="bytes"):
            run(journal.append([rec(None, b"x" * 1100)]))
    finally:
        journal.close()


def test_a_journal_that_cannot_write_says_so_until_a_write_succeeds(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.db", max_bytes=64 * 1024, refresh_interval=0.05).open()
    try:
        with pytest.raises(JournalUnwritable, match="full"):
            for n in range(100):
                run(journal.append([rec(f"e{n}", b"x" * 8000)]))
        assert not journal.writable
        with pytest.raises(JournalUnwritable):  # refused at once, no write tried
            run(journal.append([rec("next")]))
    finally:
        journal.close()


def test_a_replay_leaves_out_what_the_classifier_store_covers(tmp_path: Path) -> None:
    """Rows placed below the covered offsets, in the incarnation the classifier names,
    are not sent again; every other row is, and a replaced store covers nothing."""
    from services.runtime.covered import Covered

    path = tmp_path / "j.db"
    journal = Journal(path).open()
    relay = RelayJournal(path).open()
    try:
        run(journal.append([rec(f"e{i}", topic="events") for i in range(6)]))
        run(journal.append([rec(None, topic="dead")]))
        relay.requeue_all(None, topic="events", incarnation="one")  # `up` starts broker one
        rows = relay.fetch_pending(10)
        # e0..e2 landed in partition 0 (offsets 0-2), e3..e5 in partition 1 (offsets 0-2).
        placed = {r.seq: (i // 3, i % 3) for i, r in enumerate(rows[:6])}
        relay.mark_relayed([r.seq for r in rows], {}, placed)

        store = Covered("store-a", "one", {0: 2, 1: 0})  # folded: e0, e1
        assert relay.requeue_all(store, topic="events", incarnation="two") == 5
        assert relay.count_covered() == 2
        again = relay.fetch_pending(10)
        assert [r.record.event_id for r in again] == ["e2", "e3", "e4", "e5", None]

        # Broker two: e2..e5 land at offsets 0..3 of partition 0; the store covers them all.
        relay.mark_relayed(
            [r.seq for r in again], {}, {r.seq: (0, i) for i, r in enumerate(again[:4])}
        )
        assert relay.requeue_all(Covered("store-a", "two", {0: 4}), topic="events") == 1
        assert relay.count_covered() == 6  # covered rows stay covered while the store lives
        # Positions of another incarnation say nothing about these placements.
        relay.mark_relayed([r.seq for r in relay.fetch_pending(10)], {})  # the dead letter
        assert relay.requeue_all(Covered("store-a", "zzz", {0: 99}), topic="events") == 1
        # A new store (the old one deleted) holds nothing: everything is sent again.
        relay.mark_relayed([r.seq for r in relay.fetch_pending(10)], {})
        assert relay.requeue_all(Covered("store-b", "", {0: 99}), topic="events") == 7
        assert relay.count_covered() == 0
    finally:
        relay.close()
        journal.close()
