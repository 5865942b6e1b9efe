"""The offset guard: a partition's events are processed in offset order, none skipped."""

from __future__ import annotations

from services.classifier.offsets import OffsetGuard, Verdict

TAKE, SKIPPED = Verdict.TAKE, Verdict.SKIPPED_BEFORE


def test_contiguous_events_are_taken_and_nothing_is_sought() -> None:
    guard = OffsetGuard()
    guard.start("p0", 10)
    assert [guard.admit("p0", o) for o in range(10, 15)] == [TAKE] * 5
    assert guard.seeks_due(now=0.0) == []


def test_a_hole_refuses_every_later_event_until_the_missing_one_comes_back() -> None:
    guard = OffsetGuard()
    guard.start("p0", 10)
    assert [guard.admit("p0", o) for o in (10, 11, 14, 15)] == [TAKE, TAKE, SKIPPED, SKIPPED]
    assert guard.seeks_due(now=100.0) == [("p0", 12)]
    # The seek brings 12 back, then everything after it in order.
    assert [guard.admit("p0", o) for o in (12, 13, 14, 15)] == [TAKE] * 4
    assert guard.seeking() == {}


def test_a_hole_of_one_event_is_a_hole() -> None:
    guard = OffsetGuard()
    guard.start("p0", 444)
    assert guard.admit("p0", 445) is SKIPPED
    assert guard.seeking() == {"p0": 444}


def test_the_seek_is_repeated_only_after_the_retry_delay_while_nothing_arrives() -> None:
    guard = OffsetGuard(retry_seconds=2.0)
    guard.start("p0", 0)
    guard.admit("p0", 5)
    assert guard.seeks_due(now=100.0) == [("p0", 0)]
    assert guard.seeks_due(now=101.0) == []
    assert guard.seeks_due(now=102.5) == [("p0", 0)]


def test_redeliveries_before_the_expected_offset_are_taken_for_deduplication() -> None:
    guard = OffsetGuard()
    guard.start("p0", 10)
    assert [guard.admit("p0", o) for o in (10, 11, 12)] == [TAKE] * 3
    assert guard.admit("p0", 5) is TAKE  # a seek back or a rebalance: deduplicated downstream
    assert guard.admit("p0", 13) is TAKE  # and the expected offset did not move back


def test_partitions_are_independent() -> None:
    guard = OffsetGuard()
    guard.start("p0", 0)
    guard.start("p3", 0)
    assert guard.admit("p0", 2) is SKIPPED
    assert guard.admit("p3", 0) is TAKE
    assert guard.seeks_due(now=0.0) == [("p0", 0)]


def test_without_a_known_start_the_first_event_sets_it() -> None:
    guard = OffsetGuard()
    assert not guard.expects("p0")
    assert guard.admit("p0", 7) is TAKE
    assert guard.expects("p0")
    assert guard.admit("p0", 9) is SKIPPED


def test_a_revocation_forgets_every_partition() -> None:
    guard = OffsetGuard()
    guard.start("p0", 0)
    guard.admit("p0", 3)
    guard.reset()
    assert not guard.expects("p0")
    assert guard.seeks_due(now=0.0) == []
