"""Watermark arithmetic, (time, id) order and checkpoints."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from services.events.models import Source
from services.poll.adapters.store import Checkpoint, PollStore
from services.poll.domain.requests import Request
from services.poll.domain.specs import spec_for
from services.poll.domain.window import after, in_order, next_watermark, read_from, record_key

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
SPEC = spec_for(Source.autotask, "TimeEntries")


def test_the_next_run_reads_from_the_start_of_the_last_one_minus_the_overlap() -> None:
    assert next_watermark(NOW, timedelta(minutes=10)) == NOW - timedelta(minutes=10)


def test_the_first_run_reads_the_backfill_window() -> None:
    assert read_from(None, NOW, timedelta(days=7)) == NOW - timedelta(days=7)
    assert read_from(NOW - timedelta(hours=1), NOW, timedelta(days=7)) == NOW - timedelta(hours=1)


def test_records_are_read_in_time_then_numeric_id_order() -> None:
    stamp = "2026-03-02T10:00:00Z"
    records = [
        {"id": 10, "lastModifiedDateTime": stamp},
        {"id": 9, "lastModifiedDateTime": stamp},
        {"id": 1, "lastModifiedDateTime": "2026-03-02T11:00:00Z"},
    ]
    assert [r["id"] for r in in_order(SPEC, records)] == [9, 10, 1]


def test_a_resumed_run_posts_only_what_follows_its_checkpoint() -> None:
    stamp = "2026-03-02T10:00:00Z"
    records = [{"id": i, "lastModifiedDateTime": stamp} for i in (1, 2, 3)]
    checkpoint = record_key(SPEC, records[1])
    assert [r["id"] for r in after(SPEC, records, checkpoint)] == [3]
    assert len(after(SPEC, records, None)) == 3


def test_the_store_keeps_a_checkpoint_until_the_run_succeeds(tmp_path: Path) -> None:
    store = PollStore(tmp_path / "s.sqlite3")
    request = Request("GET", "https://x/next")
    store.save_checkpoint("autotask", "TimeEntries", Checkpoint(NOW, request, 1))
    store.close()
    reopened = PollStore(tmp_path / "s.sqlite3")  # a restart finds it
    checkpoint = reopened.checkpoint("autotask", "TimeEntries")
    assert checkpoint == Checkpoint(NOW, request, 1)
    reopened.finish_run("autotask", "TimeEntries", since=NOW, cursor=None, run_started_at=NOW)
    assert reopened.checkpoint("autotask", "TimeEntries") is None
    assert reopened.watermark("autotask", "TimeEntries").since == NOW
