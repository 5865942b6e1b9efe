"""`partnerpulse up` as a user runs it: a full stop and start loses nothing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from services.events import topics
from services.events.models import Source
from services.events.tenant import Tenant
from services.ingest.sender import Signer
from services.platform import local_http
from services.runtime.auth import read_local_token
from services.runtime.broker import free_port

from .conftest import read_topic
from .test_ingest_http import canonical_ticket

pytestmark = pytest.mark.acceptance  # the slow tier: `make test-acceptance`

REPO = Path(__file__).resolve().parents[2]


class Stack:
    def __init__(self, data_dir: Path, ingest_port: int, broker_port: int) -> None:
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("PARTNERPULSE_")}
        self.relay_port = free_port()
        self.env.update(
            PARTNERPULSE_DATA_DIR=str(data_dir),
            PARTNERPULSE_TENANT_FILE=str(REPO / "tests" / "fixtures" / "tenant.yaml"),
            PARTNERPULSE_INGEST_PORT=str(ingest_port),
            PARTNERPULSE_RELAY_PORT=str(self.relay_port),
            PARTNERPULSE_ALERTS_PORT=str(free_port()),
            PARTNERPULSE_CLASSIFIER_PORT=str(free_port()),
        )
        self.data_dir = data_dir
        self.broker_port = broker_port
        self.url = f"http://127.0.0.1:{ingest_port}"
        self.proc: subprocess.Popen[str] | None = None
        self.output: list[str] = []

    def cli(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "services.cli", *args]

    def start(self) -> None:
        self.proc = subprocess.Popen(
            self.cli("up", "--broker-port", str(self.broker_port)),
            env=self.env,
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,  # its own process group, like a terminal's foreground job
        )
        assert self.proc.stdout is not None
        deadline = time.monotonic() + 180  # a loaded 2-core machine starts slowly
        for line in self.proc.stdout:
            self.output.append(line)
            if "running; Ctrl+C stops everything" in line:
                return
            assert time.monotonic() < deadline, "".join(self.output)
        raise AssertionError("up exited early:\n" + "".join(self.output))

    def stop(self) -> int:
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGINT)  # Ctrl+C: the whole foreground group gets it
        out, _ = self.proc.communicate(timeout=60)
        self.output.append(out)
        code = self.proc.returncode
        self.proc = None
        return code


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    s = Stack(tmp_path / "var", free_port(), free_port())
    yield s
    if s.proc is not None:
        s.proc.kill()
        s.proc.wait()


def post_all(stack: Stack, signer: Signer, bodies: list[bytes]) -> list[str]:
    ids = []
    for body in bodies:
        headers = {"content-type": "application/json", **signer.headers(Source.canonical, body)}
        response = local_http.post(
            f"{stack.url}/v1/webhooks/canonical", content=body, headers=headers, trust_env=False
        )
        assert response.status_code == 202, response.text
        ids.extend(response.json()["event_ids"])
    return ids


def test_full_stop_and_start_of_up_loses_nothing(stack: Stack, tenant: Tenant) -> None:
    signer = Signer(tenant)
    # Tables in memory: the classifier keeps nothing across the restart, so the relay
    # replays the whole journal (the classifier's RocksDB store: see the next test).
    stack.env["PARTNERPULSE_CLASSIFIER_STORE"] = "memory://"
    stack.start()
    output = "".join(stack.output)
    assert f"webhooks at {stack.url}/v1/webhooks/<source>" in output
    assert f"relay up - journal to Kafka, metrics at http://127.0.0.1:{stack.relay_port}" in output
    ids = post_all(stack, signer, [canonical_ticket(tenant, i) for i in range(25)])
    assert stack.stop() == 0
    assert "stopped" in stack.output[-1]
    assert "broker died" not in "".join(stack.output)  # Ctrl+C is a stop, not a crash

    # The embedded broker is memory only: at the restart the relay replays the journal into it.
    stack.start()
    ids += post_all(stack, signer, [canonical_ticket(tenant, i) for i in range(25, 50)])
    bootstrap = f"127.0.0.1:{stack.broker_port}"
    seen = [
        json.loads(r.value)["event_id"]
        for r in read_topic(bootstrap, topics.EVENTS, expect=50, timeout=30)
    ]
    assert len(seen) == len(set(seen)), "an event was published twice"
    assert sorted(seen) == sorted(ids), "an accepted event is missing"

    # What the README shows a user: `partnerpulse tail` finds the running stack's broker.
    tail = subprocess.run(
        stack.cli("tail", topics.EVENTS, "--count", "50"),
        env=stack.env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    lines = [json.loads(line) for line in tail.stdout.splitlines()]
    assert sorted(line["value"]["event_id"] for line in lines) == sorted(ids)
    assert stack.stop() == 0


def processed(stack: Stack, ids: list[str]) -> list[str]:
    """The ids among `ids` the classifier has not folded yet."""
    token = read_local_token(stack.data_dir)
    answer = local_http.post(
        f"http://127.0.0.1:{stack.env['PARTNERPULSE_CLASSIFIER_PORT']}/v1/processed",
        json={"event_ids": ids},
        headers={"authorization": f"Bearer {token}"},
        trust_env=False,
        timeout=30,
    )
    answer.raise_for_status()
    return list(answer.json()["missing"])


def wait_for(what: str, condition: Callable[[], bool], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.3)


def covered_offsets(stack: Stack) -> int:
    files = list((stack.data_dir / "classifier").glob("*/covered.json"))
    if len(files) != 1:
        return 0
    return sum(json.loads(files[0].read_text())["partitions"].values())


def test_a_restart_replays_only_what_the_classifier_store_does_not_hold(
    stack: Stack, tenant: Tenant
) -> None:
    """The classifier's RocksDB store outlives the memory-only broker: the relay leaves
    out of the replay every event a checkpoint recorded there, and nothing is lost."""
    signer = Signer(tenant)
    stack.start()
    first = post_all(stack, signer, [canonical_ticket(tenant, i) for i in range(25)])
    wait_for("the classifier folded every event", lambda: not processed(stack, first))
    # Offsets of the first broker start at 0: covering all 25 means offsets summing to 25.
    wait_for("a checkpoint covered every event", lambda: covered_offsets(stack) == 25)
    assert stack.stop() == 0

    stack.start()
    relay_log = (stack.data_dir / "logs" / "relay.log").read_text()
    assert "25 the classifier's store already holds are left out" in relay_log
    second = post_all(stack, signer, [canonical_ticket(tenant, i) for i in range(25, 50)])
    bootstrap = f"127.0.0.1:{stack.broker_port}"
    seen = [
        json.loads(r.value)["event_id"]
        for r in read_topic(bootstrap, topics.EVENTS, expect=25, timeout=30)
    ]
    assert sorted(seen) == sorted(second), "only the new events reach the new broker"
    wait_for("the classifier holds all 50 events", lambda: not processed(stack, first + second))
    assert stack.stop() == 0
