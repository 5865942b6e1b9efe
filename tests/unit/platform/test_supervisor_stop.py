"""`partnerpulse up` stops its services through the platform: SIGTERM to each, newest
first, one shared wait, then SIGKILL for a service that does not stop."""

from __future__ import annotations

import signal
import sys
import time
from pathlib import Path

from services.platform.process import spawn
from services.runtime.settings import CommonSettings
from services.runtime.supervisor import ServiceSpec, Supervisor

OBEYS = "import time; print('ready', flush=True); time.sleep(60)"
IGNORES = (
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
    "print('ready', flush=True); time.sleep(60)"
)


def _ready(log: Path, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while "ready" not in (log.read_text() if log.exists() else ""):
        assert time.monotonic() < deadline, f"{log} never said ready"
        time.sleep(0.02)


def test_stopping_the_services_terminates_each_and_kills_one_that_ignores_sigterm(
    tmp_path: Path,
) -> None:
    settings = CommonSettings(data_dir=tmp_path, kafka_bootstrap="127.0.0.1:9")
    supervisor = Supervisor(settings, [ServiceSpec("ingest"), ServiceSpec("relay")], echo=False)
    ingest, relay = supervisor.children
    ingest.proc = spawn([sys.executable, "-c", OBEYS], log_file=tmp_path / "ingest.log")
    relay.proc = spawn([sys.executable, "-c", IGNORES], log_file=tmp_path / "relay.log")
    _ready(tmp_path / "ingest.log")
    _ready(tmp_path / "relay.log")
    procs = (ingest.proc, relay.proc)

    supervisor._stop_children(timeout=1.0)

    assert [p.returncode for p in procs] == [-signal.SIGTERM, -signal.SIGKILL]
    assert (ingest.proc, relay.proc) == (None, None)
