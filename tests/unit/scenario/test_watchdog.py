"""When a run stops waiting: the watchdog's rules on a fake clock."""

from __future__ import annotations

import io
import json
from pathlib import Path

from rich.console import Console

from services.scenario.watch import Monitor
from services.scenario.watchdog import Exit, Watchdog, WatchPolicy, last_errors


class Clock:
    def __init__(self, now: float = 1_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_three_exits_of_one_service_within_a_minute_end_the_run() -> None:
    clock = Clock()
    dog = Watchdog(WatchPolicy(), clock)
    dog.service_exits("classifier", [Exit(960.0, 1), Exit(975.0, 1)])
    assert dog.check() is None  # twice is a restart, not yet a loop
    dog.service_exits("classifier", [Exit(960.0, 1), Exit(975.0, 1), Exit(999.0, 1)])
    trip = dog.check()
    assert trip is not None
    assert trip.service == "classifier"
    assert "exited 3 times within 60 s" in trip.reason
    assert "exit codes 1, 1, 1" in trip.reason


def test_exits_spread_over_more_than_the_window_are_ordinary_restarts() -> None:
    clock = Clock()
    dog = Watchdog(WatchPolicy(restarts=3, restart_window=60.0), clock)
    dog.service_exits("relay", [Exit(700.0, 1), Exit(850.0, 1), Exit(990.0, -9)])
    assert dog.check() is None
    clock.now = 2_000.0  # long after a loop that did happen, it no longer counts
    dog.service_exits("relay", [Exit(900.0, 1), Exit(910.0, 1), Exit(920.0, 1)])
    assert dog.check() is None


def test_the_restart_rule_is_configurable() -> None:
    dog = Watchdog(WatchPolicy(restarts=5, restart_window=10.0), Clock())
    dog.service_exits("alerts", [Exit(1_000.0 - i, 1) for i in range(4)])
    assert dog.check() is None
    dog.service_exits("alerts", [Exit(1_000.0 - i, 1) for i in range(5)])
    assert dog.check() is not None


def test_a_source_refused_for_thirty_seconds_ends_the_run_with_its_counts() -> None:
    clock = Clock()
    dog = Watchdog(WatchPolicy(refusals=5, refusal_span=30.0), clock)
    dog.answered("autotask", 202)
    for _ in range(10):  # ConnectWise: key_unavailable, retried every few seconds
        dog.answered("connectwise", 429, "429 cannot verify the signature now")
        clock.now += 2.9
    assert dog.check() is None  # 29 s: not yet persistent
    clock.now += 1.5
    trip = dog.check()
    assert trip is not None
    assert trip.source == "connectwise"
    assert trip.service == "ingest"
    assert "429 x10" in trip.reason
    assert trip.last_error == "429 cannot verify the signature now"
    assert dog.totals()["answers"] == {"202": 1, "429": 10}


def test_one_accepted_delivery_breaks_a_run_of_refusals() -> None:
    clock = Clock()
    dog = Watchdog(WatchPolicy(refusals=5, refusal_span=30.0), clock)
    for i in range(20):
        dog.answered("connectwise", 200 if i == 15 else 503)
        clock.now += 2.0
    # 40 s of answers, but the last 4 refusals came after an acceptance 8 s ago
    assert dog.check() is None


def test_a_few_slow_refusals_are_not_a_wall() -> None:
    """Back-pressure (a 429 now and then over a long time) is not persistent refusal."""
    clock = Clock()
    dog = Watchdog(WatchPolicy(refusals=5, refusal_span=30.0), clock)
    for _ in range(4):
        dog.answered("halopsa", 429)
        clock.now += 20.0
    assert dog.check() is None  # 80 s, but 4 answers: fewer than the 5 needed


def test_invalid_payloads_are_answers_not_refusals() -> None:
    clock = Clock()
    dog = Watchdog(WatchPolicy(refusals=2, refusal_span=1.0), clock)
    for _ in range(10):
        dog.answered("tacticalrmm", 422, "invalid payload")
        clock.now += 5.0
    assert dog.check() is None


def test_no_answer_at_all_counts_as_a_refusal() -> None:
    clock = Clock()
    dog = Watchdog(WatchPolicy(refusals=3, refusal_span=10.0), clock)
    for _ in range(4):
        dog.answered("ninjaone", 0, "ConnectError: refused")
        clock.now += 4.0
    trip = dog.check()
    assert trip is not None and "no answer x4" in trip.reason


def test_the_last_error_lines_include_a_tracebacks_exception(tmp_path: Path) -> None:
    log = tmp_path / "classifier.log"
    log.write_text(
        "[2026-11-30 09:00:00] INFO started\n"
        "[2026-11-30 09:00:01] ERROR checkpoint failed\n"
        "Traceback (most recent call last):\n"
        '  File "x.py", line 1, in <module>\n'
        "kafka.errors.MessageSizeTooLargeError: [Error 10] the message is 2060000 bytes\n"
        "[2026-11-30 09:00:02] INFO stopping\n"
    )
    assert last_errors(log) == [
        "[2026-11-30 09:00:01] ERROR checkpoint failed",
        "kafka.errors.MessageSizeTooLargeError: [Error 10] the message is 2060000 bytes",
    ]
    repeated = tmp_path / "relay.log"
    repeated.write_text(
        "ERROR: address in use\nINFO retry\nERROR: no broker\nERROR: address in use\n"
    )
    assert last_errors(repeated) == ["ERROR: no broker", "ERROR: address in use"]
    quiet = tmp_path / "quiet.log"
    quiet.write_text("one\ntwo\nthree\nfour\n")
    assert last_errors(quiet) == ["two", "three", "four"]  # no error: its last lines
    assert last_errors(tmp_path / "absent.log") == []


def test_the_verdict_names_the_service_its_log_errors_and_the_counts(tmp_path: Path) -> None:
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "relay.log").write_text(
        "ERROR:    [Errno 98] error while attempting to bind on address: address already in use\n"
    )
    (tmp_path / "services.json").write_text(
        json.dumps(
            {"services": {"relay": {"exits": [{"at": 990.0 + i, "code": 1} for i in range(3)]}}}
        )
    )
    clock = Clock()
    console = Console(file=io.StringIO())
    monitor = Monitor(console, data_dir=tmp_path, clock=clock)
    monitor.phase("events processed", 793)
    monitor.advance(12)
    monitor.answered("connectwise", 200, None)
    monitor.finished("connectwise")
    verdict = monitor.why_stop()
    assert verdict is not None
    assert "relay exited 3 times within 60 s" in verdict
    assert "address already in use" in verdict
    assert str(tmp_path / "logs" / "relay.log") in verdict
    assert "answers (retries included): 200 x1" in verdict
    assert "events processed: 13/793" in verdict  # 12 + the one delivery finished
    clock.now = 5_000.0
    assert monitor.why_stop() is None  # long ago: the service recovered


def test_a_missing_or_half_written_status_file_holds_no_exits(tmp_path: Path) -> None:
    from services.runtime.supervisor import read_status

    path = tmp_path / "services.json"
    assert read_status(path) == {}
    path.write_text('{"services": {"relay": {"exits": [{"at": 1')
    assert read_status(path) == {}
    path.write_text('{"services": {"relay": {"exits": [{"at": 1.5, "code": 3}, 7]}}}')
    assert read_status(path) == {"relay": [{"at": 1.5, "code": 3}]}


def test_a_slow_crash_loop_ends_the_run_once_nothing_moves_for_a_minute() -> None:
    """Issue 10: a classifier that dies at each checkpoint, 40 s apart, never makes 3
    exits in a minute; but it exits while not one event is processed for 60 s."""
    clock = Clock()
    dog = Watchdog(WatchPolicy(), clock)
    dog.progressed()  # the last event processed
    dog.service_exits("classifier", [Exit(clock.now + 20, 1)])
    clock.now += 59
    assert dog.check() is None
    clock.now += 1
    trip = dog.check()
    assert trip is not None and trip.service == "classifier"
    assert "has not moved on for 60 s" in trip.reason


def test_a_long_quiet_wait_with_every_service_up_is_not_ended() -> None:
    clock = Clock()
    dog = Watchdog(WatchPolicy(), clock)
    dog.service_exits("alerts", [Exit(clock.now - 5, 0)])  # before the stall began
    dog.progressed()
    clock.now += 300
    assert dog.check() is None  # slow is not broken: progress lines say it is waiting
