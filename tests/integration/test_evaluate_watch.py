"""`evaluate` never waits in silence: a crash-looping service ends the run within a minute.

Issue 10: the classifier crash-looped and `evaluate` printed nothing for six
minutes. Here the relay cannot bind its port (the test holds it): it exits
after each short attempt, `up` restarts it for ever, and the run must end
within a minute, naming the relay, its last log error and the counts.
"""

from __future__ import annotations

import dataclasses
import io
import socket
import time
from pathlib import Path

import pytest
from rich.console import Console

from services.scenario.evaluate import EvaluationError, evaluate
from services.scenario.files import load_scenario
from services.scenario.stack import Ports

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
SCENARIO = REPO / "tests" / "scenarios" / "families-30d"


def test_a_crash_looping_service_ends_the_run_within_a_minute(tmp_path: Path) -> None:
    files = load_scenario(SCENARIO)
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        ports = dataclasses.replace(Ports.free(), relay=held.getsockname()[1])
        out = io.StringIO()
        started = time.monotonic()
        with pytest.raises(EvaluationError) as raised:
            evaluate(files, Console(file=out, width=120), ports=ports, data_dir=tmp_path / "p")
        took = time.monotonic() - started
    message = str(raised.value)
    assert took < 60, f"took {took:.0f}s\n{out.getvalue()}"
    assert "relay exited 3 times within 60 s" in message, message
    assert "address already in use" in message, message  # its log's last error line
    assert str(tmp_path / "p" / "logs" / "relay.log") in message
    assert "answers (retries included): " in message and "202 x" in message, message
    assert "deliveries sent: " in message or "events processed: " in message, message
    assert "when it stopped" in message, message  # how far it got, in the words of progress
