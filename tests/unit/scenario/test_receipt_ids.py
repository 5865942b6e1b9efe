"""`evaluate` confirms polled events while the replay runs, as it does webhooks' events.

The classifier forgets an event's id once the event falls out of its retention (about
100 days of event time), so on a year-long scenario an event the poller posted early and
asked about only at the end reads as lost. The poller's receipts are read as they come.
"""

from __future__ import annotations

import json
from pathlib import Path

from services.scenario.polled import ReceiptIds


def receipt(*ids: str, status: int = 202) -> bytes:
    return json.dumps({"route": "autotask", "status": status, "event_ids": list(ids)}).encode()


def test_each_receipt_is_read_once_and_a_line_being_written_waits(tmp_path: Path) -> None:
    path = tmp_path / "poll-receipts.jsonl"
    read = ReceiptIds(path)
    assert read() == []  # no post yet
    path.write_bytes(receipt("a", "b") + b"\n" + receipt("c")[:10])
    assert read() == ["a", "b"]
    with path.open("ab") as f:
        f.write(receipt("c")[10:] + b"\n" + receipt("d", status=200) + b"\n")
    assert read() == ["c", "d"]
    assert read() == []


def test_a_line_cut_short_by_a_killed_poller_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "poll-receipts.jsonl"
    path.write_bytes(b'{"event_ids": ["x"\n' + receipt("y") + b"\n")
    assert ReceiptIds(path)() == ["y"]
