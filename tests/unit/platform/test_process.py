"""Processes: spawned with their output in a log, stopped with a signal, a bounded wait,
then SIGKILL."""

from __future__ import annotations

import signal
import sys
import time
from pathlib import Path

from services.platform.process import (
    free_port,
    spawn,
    start_service,
    stop_process,
    stop_processes,
    wait_healthy,
)

SLEEPER = "import time, sys; print('started', flush=True); time.sleep(60)"
STUBBORN = (
    "import signal, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
    "print('ready', flush=True); time.sleep(60)"
)


def _wait_for_line(log: Path, line: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while line not in (log.read_text() if log.exists() else ""):
        assert time.monotonic() < deadline, f"{line!r} never appeared in {log}"
        time.sleep(0.02)


def test_a_process_that_obeys_sigterm_stops_with_it(tmp_path: Path) -> None:
    log = tmp_path / "logs" / "sleeper.log"
    proc = spawn([sys.executable, "-c", SLEEPER], log_file=log)
    _wait_for_line(log, "started")
    assert stop_process(proc, timeout=30) == -signal.SIGTERM


def test_a_process_that_ignores_sigterm_is_killed_after_the_wait(tmp_path: Path) -> None:
    log = tmp_path / "stubborn.log"
    proc = spawn([sys.executable, "-c", STUBBORN], log_file=log)
    _wait_for_line(log, "ready")
    assert stop_process(proc, timeout=0.5) == -signal.SIGKILL


def test_stop_processes_signals_all_then_waits_once(tmp_path: Path) -> None:
    logs = [tmp_path / f"{i}.log" for i in range(3)]
    procs = [spawn([sys.executable, "-c", SLEEPER], log_file=log) for log in logs]
    for log in logs:
        _wait_for_line(log, "started")
    codes = stop_processes(procs, timeout=30)
    assert [codes[id(p)] for p in procs] == [-signal.SIGTERM] * 3


def test_stopping_nothing_or_what_has_exited_is_harmless(tmp_path: Path) -> None:
    assert stop_process(None) is None
    proc = spawn([sys.executable, "-c", "pass"])
    proc.wait(30)
    assert stop_process(proc) == 0


def test_a_service_is_started_once_it_listens_and_answers(tmp_path: Path) -> None:
    port = free_port()
    server = (
        "import http.server as h; "
        f"h.test(h.SimpleHTTPRequestHandler, port={port}, bind='127.0.0.1')"
    )
    proc = start_service([sys.executable, "-c", server], port=port, log_file=tmp_path / "http.log")
    try:
        assert proc.poll() is None
        assert wait_healthy(f"http://127.0.0.1:{port}/", timeout=30, proc=proc)
    finally:
        stop_process(proc, timeout=30)
    assert not wait_healthy(f"http://127.0.0.1:{port}/", timeout=0.2)
