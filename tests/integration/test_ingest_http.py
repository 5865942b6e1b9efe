"""Ingest through real HTTP (uvicorn) and a real Kafka-protocol broker (tansu)."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from services.events import topics
from services.events.models import CanonicalEvent, Source
from services.events.tenant import Tenant
from services.ingest.sender import Signer
from services.platform import local_http
from services.runtime.broker import free_port

from ..support.waiting import answers, wait_for
from .conftest import ProxiedBroker, RelayProcess, RunningIngest, event_values, read_topic

pytestmark = pytest.mark.integration

# One representative delivery per source (tests/fixtures/payloads/<source>/<file>).
PRIMARY = {
    Source.connectwise: "ticket_added.json",
    Source.autotask: "ticket_create.json",
    Source.halopsa: "new_ticket_logged.json",
    Source.ninjaone: "condition_triggered.json",
    Source.dattormm: "alert_raised.json",
    Source.tacticalrmm: "check_failure.json",
    Source.canonical: "batch.ndjson",
}


def body_for(payloads: Path, source: Source, key_port: int) -> bytes:
    raw = (payloads / source.value / PRIMARY[source]).read_bytes()
    if source is Source.connectwise:
        # The vendor's key server is played by the Signer on loopback.
        data = json.loads(raw)
        data["Metadata"]["key_url"] = f"http://127.0.0.1:{key_port}/callback-key/primary"
        raw = json.dumps(data).encode()
    return raw


@pytest.fixture
def signer(tenant: Tenant) -> Any:
    s = Signer(tenant)
    yield s
    s.close()


def signed(signer: Signer, source: Source, body: bytes) -> dict[str, str]:
    return {"content-type": "application/json", **signer.headers(source, body)}


def test_signed_deliveries_of_every_source_reach_the_events_topic(
    broker: Any, ingest_factory: Any, payloads: Path, signer: Signer
) -> None:
    ingest: RunningIngest = ingest_factory(broker.bootstrap)
    key_port = free_port()
    expected: dict[str, Source] = {}
    for source in Source:
        body = body_for(payloads, source, key_port)
        response = ingest.post(source.value, body, signed(signer, source, body))
        assert response.status_code == 202, (source, response.text)
        for event_id in response.json()["event_ids"]:
            expected[event_id] = source

    records = read_topic(broker.bootstrap, topics.EVENTS, expect=len(expected))
    events = [CanonicalEvent.model_validate(v) for v in event_values(records)]
    assert sorted(e.event_id for e in events) == sorted(expected)  # all there, each once
    for event, record in zip(events, records, strict=True):
        assert event.source is expected[event.event_id]
        assert record.key == event.client_id.encode()  # keyed by client: per-client order
        assert dict(record.headers)[topics.H_EVENT_ID] == event.event_id.encode()
    assert ingest.metric("partnerpulse_ingest_events_accepted_total", source="connectwise") >= 1


def test_forged_and_unsigned_deliveries_are_refused_counted_and_not_stored(
    broker: Any, ingest_factory: Any, payloads: Path, signer: Signer
) -> None:
    ingest: RunningIngest = ingest_factory(broker.bootstrap)
    key_port = free_port()
    body_signed = {Source.connectwise, Source.autotask, Source.canonical}
    for source in Source:
        body = body_for(payloads, source, key_port)
        headers = signed(signer, source, body)
        forged = {k: v if k == "content-type" else "Zm9yZ2Vk" + v for k, v in headers.items()}
        attempts = [(body, forged), (body, {"content-type": "application/json"})]
        if source in body_signed:
            attempts.append((body.replace(b"}", b" }", 1), headers))  # other bytes, same JSON
        for attempt_body, attempt_headers in attempts:
            response = ingest.post(source.value, attempt_body, attempt_headers)
            assert response.status_code == 401, (source, response.text)
            assert "authentication failed" in response.json()["error"]
        assert ingest.metric(
            "partnerpulse_ingest_deliveries_rejected_total",
            source=source.value,
            reason="authentication",
        ) == len(attempts)
    assert ingest.ingest.journal.pending == 0
    assert read_topic(broker.bootstrap, topics.EVENTS, timeout=2) == []
    assert read_topic(broker.bootstrap, topics.DLQ, timeout=1) == []


def test_connectwise_key_url_off_the_allow_list_is_never_fetched(
    ingest_factory: Any, payloads: Path, signer: Signer
) -> None:
    ingest: RunningIngest = ingest_factory(None)  # refused before the journal: no broker
    key_port = free_port()
    body = body_for(payloads, Source.connectwise, key_port)
    headers = signed(signer, Source.connectwise, body)  # serves the key on 127.0.0.1
    data = json.loads(body)
    data["Metadata"]["key_url"] = f"http://localhost:{key_port}/callback-key/primary"
    evil = json.dumps(data).encode()
    response = ingest.post("connectwise", evil, headers)
    assert response.status_code == 401
    assert "key_url" in response.json()["error"]
    # localhost is not on the allow-list (127.0.0.1:* is), though it reaches the same server
    assert signer._servers[("127.0.0.1", key_port)].requests == []


def test_connectwise_key_server_down_answers_429_so_connectwise_retries(
    ingest_factory: Any, payloads: Path, signer: Signer
) -> None:
    ingest: RunningIngest = ingest_factory(None)  # refused before the journal: no broker
    body = body_for(payloads, Source.connectwise, free_port())  # nobody listens there
    headers = signed(signer, Source.connectwise, body)
    signer.close()  # stop the key server the signer started
    response = ingest.post("connectwise", body, headers)
    assert response.status_code == 429
    assert response.headers["retry-after"] == "5"


def test_oversized_body_is_413(ingest_factory: Any) -> None:
    ingest: RunningIngest = ingest_factory(None, ingest_max_body_bytes=2048)  # no broker
    response = ingest.post("ninjaone", b"{" + b" " * 4096 + b"}", {"x-ninja-secret": "x"})
    assert response.status_code == 413
    assert "2048 bytes" in response.json()["error"]
    assert (
        ingest.metric(
            "partnerpulse_ingest_deliveries_rejected_total", source="ninjaone", reason="too_large"
        )
        == 1
    )


def test_invalid_payload_is_422_naming_the_field_and_dead_lettered(
    broker: Any, ingest_factory: Any, payloads: Path, signer: Signer
) -> None:
    ingest: RunningIngest = ingest_factory(broker.bootstrap)
    cases = [
        (
            Source.canonical,
            (payloads / "canonical" / "missing_created_at.ndjson").read_bytes(),
            "created_at",
        ),
        (Source.ninjaone, b'{"activityType": "CONDITION"', "body"),
        (Source.autotask, b"[1, 2, 3]", ""),
    ]
    for source, body, field in cases:
        response = ingest.post(source.value, body, signed(signer, source, body))
        assert response.status_code == 422, (source, response.text)
        assert field in response.json()["error"]
        assert response.json()["field"] is not None

    dead = read_topic(broker.bootstrap, topics.DLQ, expect=len(cases))
    assert sorted(r.value for r in dead) == sorted(body for _, body, _ in cases)  # raw bytes
    for record in dead:
        headers = dict(record.headers)
        assert headers[topics.H_ERROR_REASON] == b"invalid_payload"
        assert headers[topics.H_ERROR_MESSAGE]
    assert read_topic(broker.bootstrap, topics.EVENTS, timeout=1) == []


def test_unknown_source_is_404(ingest_factory: Any) -> None:
    ingest: RunningIngest = ingest_factory(None)  # no broker
    response = ingest.post("syncro", b"{}", {})
    assert response.status_code == 404
    assert "connectwise" in response.json()["error"]


def test_unknown_client_is_accepted_flagged_and_counted(
    broker: Any, ingest_factory: Any, payloads: Path, signer: Signer
) -> None:
    ingest: RunningIngest = ingest_factory(broker.bootstrap)
    body = (payloads / "halopsa" / "ticket_unknown_client.json").read_bytes()
    response = ingest.post("halopsa", body, signed(signer, Source.halopsa, body))
    assert response.status_code == 202
    assert response.json()["unknown_clients"]
    assert ingest.metric("partnerpulse_ingest_unknown_client_events_total", source="halopsa") == 1
    (value,) = event_values(read_topic(broker.bootstrap, topics.EVENTS, expect=1))
    assert value["client_known"] is False
    assert value["client_id"].startswith("unknown:halopsa:")


def test_a_retried_delivery_is_2xx_and_published_once(
    broker: Any, ingest_factory: Any, payloads: Path, signer: Signer
) -> None:
    ingest: RunningIngest = ingest_factory(broker.bootstrap)
    body = (payloads / "autotask" / "ticket_create.json").read_bytes()
    first = ingest.post("autotask", body, signed(signer, Source.autotask, body))
    again = ingest.post("autotask", body, signed(signer, Source.autotask, body))
    assert first.status_code == 202 and again.status_code == 200
    assert again.json()["status"] == "duplicate"
    assert again.json()["event_ids"] == first.json()["event_ids"]
    assert len(read_topic(broker.bootstrap, topics.EVENTS, expect=1, settle=1.5)) == 1
    assert ingest.metric("partnerpulse_ingest_duplicate_events_total", source="autotask") == 1


def test_full_journal_answers_429_with_retry_after(
    ingest_factory: Any, payloads: Path, signer: Signer
) -> None:
    # No relay at all: events wait in the journal until it is full.
    ingest: RunningIngest = ingest_factory(None, ingest_journal_max_pending=2)
    statuses = []
    for name in ("ticket_create.json", "ticket_update_partial.json", "ticket_update_second.json"):
        body = (payloads / "autotask" / name).read_bytes()
        statuses.append(ingest.post("autotask", body, signed(signer, Source.autotask, body)))
    assert [r.status_code for r in statuses] == [202, 202, 429]
    assert statuses[2].headers["retry-after"] == "5"
    assert (
        ingest.metric(
            "partnerpulse_ingest_deliveries_rejected_total",
            source="autotask",
            reason="journal_full",
        )
        == 1
    )
    ready = local_http.get(f"{ingest.url}/readyz")
    assert ready.status_code == 503 and ready.json()["journal_pending"] == 2


def test_health_metrics_and_openapi_are_served(broker: Any, ingest_factory: Any) -> None:
    ingest: RunningIngest = ingest_factory(broker.bootstrap)
    assert ingest.relay is not None
    for url in (ingest.url, ingest.relay.url):
        assert local_http.get(f"{url}/healthz").json() == {"status": "ok"}
        wait_for(f"{url} ready", lambda: answers(f"{url}/readyz"))  # noqa: B023
    served = {
        ingest.url: (
            "partnerpulse_ingest_deliveries_received_total",
            "partnerpulse_ingest_journal_depth",
            "partnerpulse_ingest_journal_capacity",
        ),
        ingest.relay.url: (
            "partnerpulse_ingest_relayed_records_total",
            "partnerpulse_ingest_relay_pending_records",
            "partnerpulse_ingest_relay_lag_seconds",
            "partnerpulse_ingest_relay_broker_errors_total",
            "partnerpulse_ingest_produce_duration_seconds_bucket",
        ),
    }
    for url, names in served.items():
        text = local_http.get(f"{url}/metrics").text
        for name in names:
            assert name in text, (url, name)
    spec = local_http.get(f"{ingest.url}/openapi.json").json()
    # Every source's route declares its body and auth headers (services/ingest/openapi.py).
    routes = [f"/v1/webhooks/{s.value}" for s in Source if s is not Source.canonical]
    for route in [*routes, "/v1/events"]:
        operation = spec["paths"][route]["post"]
        assert "application/json" in operation["requestBody"]["content"], route
        assert any(p["in"] == "header" for p in operation["parameters"]), route


def test_broker_outage_mid_stream_loses_nothing_and_duplicates_nothing(
    proxied_broker: ProxiedBroker, ingest_factory: Any, tenant: Tenant, signer: Signer
) -> None:
    ingest: RunningIngest = ingest_factory(proxied_broker.bootstrap)
    bodies = [canonical_ticket(tenant, i) for i in range(300)]

    def post(batch: list[bytes]) -> list[str]:
        ids = []
        for body in batch:
            response = ingest.post("canonical", body, signed(signer, Source.canonical, body))
            assert response.status_code == 202, response.text
            ids.extend(response.json()["event_ids"])
        return ids

    ids = post(bodies[:100])
    proxied_broker.proxy.cut()
    ids += post(bodies[100:200])  # accepted while the broker is unreachable
    assert ingest.ingest.journal.pending > 0
    time.sleep(2)  # the outage itself (an input of the scenario, not a wait for a condition)
    proxied_broker.proxy.restore()
    ids += post(bodies[200:])

    assert_each_once(proxied_broker.bootstrap, ids)


def assert_each_once(bootstrap: str, ids: Sequence[str], timeout: float = 60) -> None:
    """Every accepted event is on the topic exactly once (counted by event_id)."""
    records = read_topic(bootstrap, topics.EVENTS, expect=len(ids), timeout=timeout)
    seen = Counter(json.loads(r.value)["event_id"] for r in records)
    assert [e for e, n in seen.items() if n > 1] == [], "an event was published twice"
    assert sorted(seen) == sorted(ids), "an accepted event is missing"


def post_canonical(ingest: RunningIngest, signer: Signer, bodies: list[bytes]) -> list[str]:
    ids = []
    for body in bodies:
        response = ingest.post("canonical", body, signed(signer, Source.canonical, body))
        assert response.status_code == 202, response.text
        ids.extend(response.json()["event_ids"])
    return ids


def test_relay_killed_mid_stream_resumes_with_nothing_lost_or_duplicated(
    broker: Any, ingest_factory: Any, relay_process_factory: Any, tenant: Tenant, signer: Signer
) -> None:
    ingest: RunningIngest = ingest_factory(None)  # journals; the relay is its own process
    first: RelayProcess = relay_process_factory(broker.bootstrap).wait_ready()
    ids: list[str] = []
    poster = threading.Thread(
        target=lambda: ids.extend(
            post_canonical(ingest, signer, [canonical_ticket(tenant, i) for i in range(400)])
        )
    )
    poster.start()
    relayed = 'partnerpulse_ingest_relayed_records_total{topic="partnerpulse.events"}'
    try:
        wait_for("100 records relayed", lambda: first.metric(relayed) >= 100, 120, every=0.02)
    except AssertionError:
        poster.join(120)  # no thread left posting into the next test
        raise
    os.kill(first.proc.pid, signal.SIGKILL)  # mid-stream: events still arrive
    assert first.proc.wait(10) == -signal.SIGKILL
    assert poster.is_alive(), "the stream ended before the kill: nothing was mid-stream"

    # The kernel released the dead relay's lock: a new one takes over at once.
    second: RelayProcess = relay_process_factory(broker.bootstrap).wait_ready()
    poster.join(300)  # generous: 400 deliveries on a loaded machine
    assert len(ids) == 400
    assert_each_once(broker.bootstrap, ids)
    assert second.proc.poll() is None


def test_a_second_relay_on_the_same_journal_is_refused(
    broker: Any, relay_process_factory: Any
) -> None:
    first: RelayProcess = relay_process_factory(broker.bootstrap).wait_ready()
    second: RelayProcess = relay_process_factory(broker.bootstrap)
    assert second.proc.wait(30) == 2
    assert "only one relay may run per journal" in second.output()
    assert f"pid {first.proc.pid}" in second.output()
    assert first.proc.poll() is None


def test_records_acknowledged_but_not_marked_are_not_sent_again(
    broker: Any,
    ingest_factory: Any,
    tenant: Tenant,
    signer: Signer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The window a kill -9 may hit: Kafka acknowledged a batch, the journal never heard.
    ingest: RunningIngest = ingest_factory(broker.bootstrap)
    assert ingest.relay is not None
    journal = ingest.relay.relay.journal
    mark_relayed = journal.mark_relayed
    lost_marks: list[int] = []

    def lose_the_first_mark(
        seqs: Sequence[int],
        offsets: dict[tuple[str, int], int],
        placed: dict[int, tuple[int, int]] | None = None,
    ) -> int:
        if seqs and not lost_marks:
            lost_marks.append(len(seqs))
            raise sqlite3.OperationalError("disk I/O error")
        return mark_relayed(seqs, offsets, placed)

    monkeypatch.setattr(journal, "mark_relayed", lose_the_first_mark)
    ids = post_canonical(ingest, signer, [canonical_ticket(tenant, i) for i in range(50)])
    assert_each_once(broker.bootstrap, ids)
    assert lost_marks and lost_marks[0] > 0
    reconciled = "partnerpulse_ingest_relay_reconciled_records_total"
    assert ingest.relay.metric(reconciled) == lost_marks[0]
    with sqlite3.connect(journal.path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM journal WHERE relayed = 0").fetchone() == (0,)


def canonical_ticket(tenant: Tenant, i: int) -> bytes:
    return json.dumps(
        {
            "source": "canonical",
            "action": "created",
            "occurred_at": f"2026-03-02T09:{i // 60:02d}:{i % 60:02d}Z",
            "client_id": "acme",
            "refs": [{"source": "canonical", "entity": "ticket", "id": f"T{i}"}],
            "payload": {
                "kind": "ticket",
                "ticket_id": f"T{i}",
                "created_at": f"2026-03-02T09:{i // 60:02d}:{i % 60:02d}Z",
            },
        }
    ).encode()
