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
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaProducer

from services.events import topics
from services.events.models import CanonicalEvent, Source
from services.events.tenant import Tenant
from services.ingest.sender import Signer
from services.platform import local_http
from services.runtime.broker import EmbeddedBroker, free_port

from ..unit.classifier.streams import DIRECT, LATE, PARTNER, shuffled_within, three_clients
from .classifier_support import (
    Worker,
    expected_state,
    get_json,
    metric,
    wait_processed,
    worker_env,
)
from .conftest import read_topic

pytestmark = pytest.mark.acceptance  # the slow tier: `make test-acceptance`

REPO = Path(__file__).resolve().parents[2]
TENANT_FILE = REPO / "tests" / "fixtures" / "tenant.yaml"


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
    env = worker_env(
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
        response = local_http.post(
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
    # Every request through the habit: the client's rule, red on its own (docs/classifier.md).
    assert {c: clients[c]["band"] for c in (DIRECT, LATE, PARTNER)} == {
        DIRECT: "red",
        LATE: "red",
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
