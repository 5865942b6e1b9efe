"""`evaluate` never waits in silence: a crash-looping service ends the run within a minute.

Issue 10: the classifier crash-looped and `evaluate` printed nothing for six
minutes. Here a service cannot bind its port (the test holds it): it exits at
each start, `up` restarts it for ever, and the run must end within a minute of
its first exit (however long the machine takes to start the pipeline), naming
the service, its last log error and the counts.
"""

from __future__ import annotations

import dataclasses
import io
import shutil
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from rich.console import Console

from services.runtime.supervisor import read_status
from services.scenario.evaluate import EvaluationError, evaluate
from services.scenario.files import load_scenario
from services.scenario.stack import Ports, StackError

pytestmark = pytest.mark.acceptance  # the slow tier: `make test-acceptance`

REPO = Path(__file__).resolve().parents[2]
SCENARIO = REPO / "tests" / "scenarios" / "families-30d"


@contextmanager
def held_port() -> Iterator[int]:
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        yield held.getsockname()[1]


def first_exit(data_dir: Path, service: str) -> float:
    """When `up` saw the service exit first (its record, `services.json`)."""
    exits = read_status(data_dir / "services.json")[service]
    return min(float(e["at"]) for e in exits)


def long_scenario(folder: Path) -> Path:
    """The committed scenario sent ten times over (the repeats are vendor retries), so
    that the replay outlasts a service's first three exits on any machine (three times
    over, 2,184 deliveries, was replayed whole before the third exit once `up` and the
    replay stopped building an HTTP client per probe)."""
    folder.mkdir()
    for name in ("tenant.yaml", "truth.json"):
        shutil.copy(SCENARIO / name, folder / name)
    deliveries = (SCENARIO / "deliveries.jsonl").read_text()
    (folder / "deliveries.jsonl").write_text(deliveries * 10)
    return folder


def test_a_service_crash_looping_mid_run_ends_the_run_within_a_minute(tmp_path: Path) -> None:
    files = load_scenario(long_scenario(tmp_path / "scenario"))
    out = io.StringIO()
    with held_port() as port:
        ports = dataclasses.replace(Ports.free(), relay=port)
        with pytest.raises(EvaluationError) as raised:
            evaluate(files, Console(file=out, width=120), ports=ports, data_dir=tmp_path / "p")
        ended = time.time()
    message = str(raised.value)
    took = ended - first_exit(tmp_path / "p", "relay")
    assert took < 60, f"took {took:.0f}s from its first exit\n{out.getvalue()}"
    assert "relay exited 3 times within 60 s" in message, message
    assert "address already in use" in message, message  # its log's last error line
    assert str(tmp_path / "p" / "logs" / "relay.log") in message
    assert "answers (retries included): " in message and "202 x" in message, message
    assert "deliveries sent: " in message, message  # how far it got, as progress says it
    assert "deliveries sent: 0/" in out.getvalue()  # progress was printed from the start


def test_a_service_crash_looping_at_start_ends_the_wait_within_a_minute(tmp_path: Path) -> None:
    """The classifier never comes up: the wait for it ends on its third exit, not after
    the three minutes a start may take."""
    files = load_scenario(SCENARIO)
    with held_port() as port:
        ports = dataclasses.replace(Ports.free(), classifier=port)
        with pytest.raises(StackError) as raised:
            evaluate(files, Console(file=io.StringIO()), ports=ports, data_dir=tmp_path / "p")
        ended = time.time()
    message = str(raised.value)
    took = ended - first_exit(tmp_path / "p", "classifier")
    assert took < 60, f"took {took:.0f}s from its first exit: {message}"
    assert "classifier exited 3 times within 60 s" in message, message
    assert str(tmp_path / "p" / "logs" / "classifier.log") in message
