"""The classifier as a real Faust worker process against the real broker.

- Through `partnerpulse up`: a three-client stream posted to ingest over HTTP
  yields the right signals with evidence for the direct-to-tech and the
  late-reporting client and none for the partner; the query API, the topics
  and the metrics agree.
- A worker stopped mid-stream (SIGTERM, and kill -9) and restarted leaves
  every count exactly what the pure engine computes from the same events.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from kafka import KafkaProducer

from services.classifier.engine import Engine
from services.classifier.state import ClientState
from services.events import topics
from services.events.models import CanonicalEvent, Source
from services.events.tenant import Tenant
from services.ingest.sender import Signer
from services.runtime.auth import bearer, new_token
from services.runtime.broker import EmbeddedBroker, free_port

from ..unit.classifier.streams import DIRECT, LATE, PARTNER, shuffled_within, three_clients
from .conftest import read_topic

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
TENANT_FILE = REPO / "tests" / "fixtures" / "tenant.yaml"
TOKEN, TOKEN_ENTRY = new_token("tests")  # the query API's reader
AUTH = bearer(TOKEN)


def _env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARTNERPULSE_")}
    env.update(PARTNERPULSE_DATA_DIR=str(data_dir), PARTNERPULSE_TENANT_FILE=str(TENANT_FILE))
    env.update(PARTNERPULSE_API_TOKENS=TOKEN_ENTRY.line())
    env.update(extra)
    return env


def get_json(url: str) -> Any:
    response = httpx.get(url, headers=AUTH, trust_env=False, timeout=10)
    assert response.status_code == 200, f"{url}: {response.status_code} {response.text[:500]}"
    return response.json()


def metric(url: str, name: str, **labels: str) -> float:
    text = httpx.get(f"{url}/metrics", trust_env=False, timeout=10).text
    want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        m = re.match(rf"^{re.escape(name)}\{{(.*)\}} (\S+)$", line)
        if m and ",".join(sorted(m.group(1).split(","))) == want:
            return float(m.group(2))
    raise AssertionError(f"{name}{{{want}}} not exported")


def wait_processed(url: str, ids: list[str], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    missing: list[str] = ids
    while time.monotonic() < deadline:
        try:
            answer = httpx.post(
                f"{url}/v1/processed",
                json={"event_ids": ids},
                headers=AUTH,
                trust_env=False,
                timeout=30,
            ).json()
            missing = answer["missing"]
            if not missing:
                return
        except httpx.HTTPError:
            pass  # a restarting worker
        time.sleep(0.5)
    status = httpx.get(f"{url}/v1/status", headers=AUTH, trust_env=False, timeout=10).text
    raise AssertionError(
        f"{len(missing)} of {len(ids)} events never processed ({missing[:5]}...); {status}"
    )


def latest(records: list[Any], key: str) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for record in records:
        value = json.loads(record.value)
        out[value[key]] = value
    return out


# -- through `partnerpulse up` ---------------------------------------------------


@pytest.fixture
def up(tmp_path: Path) -> Iterator[dict[str, str]]:
    ingest_port, classifier_port, broker_port = free_port(), free_port(), free_port()
    env = _env(
        tmp_path / "var",
        PARTNERPULSE_INGEST_PORT=str(ingest_port),
        PARTNERPULSE_CLASSIFIER_PORT=str(classifier_port),
        PARTNERPULSE_RELAY_PORT=str(free_port()),
        PARTNERPULSE_ALERTS_PORT=str(free_port()),
        PARTNERPULSE_CLASSIFIER_TICK_SECONDS="1",
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "services.cli", "up", "--broker-port", str(broker_port)],
        env=env,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    assert proc.stdout is not None
    output: list[str] = []
    deadline = time.monotonic() + 90
    for line in proc.stdout:
        output.append(line)
        if "running; Ctrl+C stops everything" in line:
            break
        assert time.monotonic() < deadline, "".join(output)
    else:
        raise AssertionError("up exited early:\n" + "".join(output))
    try:
        yield {
            "ingest": f"http://127.0.0.1:{ingest_port}",
            "classifier": f"http://127.0.0.1:{classifier_port}",
            "bootstrap": f"127.0.0.1:{broker_port}",
        }
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        proc.communicate(timeout=60)


def test_up_flags_the_vendor_clients_with_evidence_and_not_the_partner(
    up: dict[str, str], tenant: Tenant
) -> None:
    events = shuffled_within(three_clients(days=45), window=20)
    signer = Signer(tenant)
    ids: list[str] = []
    for start in range(0, len(events), 50):
        body = "\n".join(e.model_dump_json() for e in events[start : start + 50]).encode()
        response = httpx.post(
            f"{up['ingest']}/v1/webhooks/canonical",
            content=body,
            headers=signer.headers(Source.canonical, body),
            trust_env=False,
            timeout=30,
        )
        assert response.status_code == 202, response.text
        ids += response.json()["event_ids"]
    assert sorted(ids) == sorted(e.event_id for e in events)
    # A record no ingest would write: dead-lettered with the reason, and the agent goes on.
    producer = KafkaProducer(bootstrap_servers=up["bootstrap"])
    producer.send(topics.EVENTS, key=b"acme", value=b'{"not": "an event"}').get(30)
    producer.close()
    wait_processed(up["classifier"], ids)
    time.sleep(2)  # one tick: every client judged at the final watermark

    signals = latest(read_topic(up["bootstrap"], topics.SIGNALS, expect=2), "signal_id")
    by_client: dict[str, set[str]] = {}
    for s in signals.values():
        if s["status"] == "open":
            by_client.setdefault(s["client_id"], set()).add(s["behaviour"])
            assert s["evidence"] and s["explanation"]
    assert by_client == {DIRECT: {"direct_to_tech"}, LATE: {"late_reporting"}}
    late = next(s for s in signals.values() if s["behaviour"] == "late_reporting")
    assert all(e["ref"].startswith("connectwise:ticket:i-globex-") for e in late["evidence"])
    assert "the RMM alerted" in late["evidence"][0]["note"]

    clients = {c["client_id"]: c for c in get_json(f"{up['classifier']}/v1/clients")}
    assert {c: clients[c]["band"] for c in (DIRECT, LATE, PARTNER)} == {
        DIRECT: "yellow",
        LATE: "yellow",
        PARTNER: "green",
    }
    for client in (DIRECT, LATE, PARTNER):
        api = clients[client]
        url = up["classifier"]
        assert metric(url, "partnerpulse_client_health_score", client=client) == api["score"]
        assert metric(url, "partnerpulse_client_health_band", client=client, band=api["band"]) == 1
        open_signals = {s["behaviour"] for s in api["open_signals"]}
        for behaviour in ("direct_to_tech", "late_reporting"):
            assert metric(
                url, "partnerpulse_client_open_signals", client=client, behaviour=behaviour
            ) == (1 if behaviour in open_signals else 0)
    detail = get_json(f"{up['classifier']}/v1/clients/{PARTNER}?days=30")
    assert detail["health"]["band"] == "green" and detail["signals"] == []
    assert detail["work"]["hours"]["proactive"] > detail["work"]["hours"]["reactive"] > 0

    dead = [
        r
        for r in read_topic(up["bootstrap"], topics.DLQ, expect=1)
        if (topics.H_ERROR_STAGE, b"classifier") in r.headers
    ]
    assert [r.value for r in dead] == [b'{"not": "an event"}']
    assert (topics.H_ERROR_REASON, b"invalid_event") in dead[0].headers
    assert (
        metric(
            up["classifier"], "partnerpulse_classifier_events_failed_total", reason="invalid_event"
        )
        == 1
    )

    work = latest(read_topic(up["bootstrap"], topics.WORK, expect=1), "ref")
    assert work["connectwise:ticket:i-acme-0"]["initiator"] == "direct_to_tech"
    assert work["connectwise:ticket:pm-vandelay-0"]["work_class"] == "proactive"
    assert work["connectwise:time:ti-globex-0"]["work_class"] == "reactive"


# -- worker restarts ---------------------------------------------------------------


class Worker:
    def __init__(self, bootstrap: str, data_dir: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = data_dir / f"classifier-{self.port}.log"
        data_dir.mkdir(parents=True, exist_ok=True)
        self.env = _env(
            data_dir,
            PARTNERPULSE_KAFKA_BOOTSTRAP=bootstrap,
            PARTNERPULSE_CLASSIFIER_PORT=str(self.port),
            PARTNERPULSE_CLASSIFIER_BATCH_SIZE="25",  # many batches: a stop lands mid-stream
        )
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Worker:
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "services.cli", "classifier"],
                env=self.env,
                cwd=REPO,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        return self

    def status(self) -> dict[str, Any]:
        try:
            return dict(get_json(f"{self.url}/v1/status"))
        except httpx.HTTPError:
            return {}

    def stop(self, sig: signal.Signals) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)
        self.proc.wait(60)
        self.proc = None


@pytest.fixture
def produced(broker: EmbeddedBroker) -> list[CanonicalEvent]:
    """A backlog on the events topic, keyed by client as ingest keys it, with redeliveries."""
    events = shuffled_within(three_clients(days=90), window=30)
    producer = KafkaProducer(bootstrap_servers=broker.bootstrap, acks="all", linger_ms=5)
    for e in [*events, *events[:200]]:  # the first 200 delivered twice
        producer.send(topics.EVENTS, key=e.client_id.encode(), value=e.model_dump_json().encode())
    producer.flush()
    producer.close()
    return events


def expected_state(tenant: Tenant, events: list[CanonicalEvent]) -> dict[str, Any]:
    engine = Engine(tenant)
    states: dict[str, ClientState] = {}
    watermark = 0.0
    for e in events:
        state = states.setdefault(e.client_id, ClientState(e.client_id))
        engine.apply(state, e, watermark)
        watermark = max(watermark, e.occurred_at.timestamp())
    return {
        c: engine.judge(s, tenant.tenant, watermark, 0).view.windows["90d"].model_dump(mode="json")
        for c, s in states.items()
    }


@pytest.fixture
def worker(broker: EmbeddedBroker, tmp_path: Path) -> Iterator[Worker]:
    w = Worker(broker.bootstrap, tmp_path / "var")
    yield w
    if w.proc is not None:  # never leave a worker behind, whatever the test's outcome
        w.stop(signal.SIGKILL)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "kill-9"])
def test_worker_restart_mid_stream_keeps_every_count_exact(
    worker: Worker,
    produced: list[CanonicalEvent],
    tenant: Tenant,
    sig: signal.Signals,
) -> None:
    worker.start()
    deadline = time.monotonic() + 90
    while worker.status().get("events_processed", 0) < len(produced) // 5:
        assert time.monotonic() < deadline, worker.log.read_text()
        time.sleep(0.05)
    before = worker.status()["events_processed"]
    assert before < len(produced), "the worker finished before it could be stopped"
    worker.stop(sig)
    worker.start()
    try:
        wait_processed(worker.url, [e.event_id for e in produced], timeout=150)
    except AssertionError as exc:
        refs = {e.event_id: f"{e.ref}@{e.occurred_at}" for e in produced}
        missing = [refs[i] for i in refs if i in str(exc)]
        raise AssertionError(f"{exc}\nmissing: {missing}\nstopped at {before}") from None
    time.sleep(1.5)
    expected = expected_state(tenant, produced)
    for client, window in expected.items():
        got = get_json(f"{worker.url}/v1/clients/{client}")["health"]["windows"]["90d"]
        assert got == window, client
