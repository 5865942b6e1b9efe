"""Size limits that compose, a relay no record can stop, and the journal's retention.

Through real HTTP (uvicorn) and the embedded Kafka-protocol broker (tansu).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.events import topics
from services.events.models import CanonicalEvent, Source
from services.events.tenant import Tenant
from services.ingest.records import H_ERROR_ORIGINAL_SIZE, H_ERROR_SHA256, H_ERROR_TRUNCATED
from services.ingest.sender import Signer
from services.platform import local_http

from ..support.waiting import wait_for
from .conftest import RunningIngest, event_values, read_topic

pytestmark = pytest.mark.integration

PRODUCER_MAX_REQUEST = 1_048_576  # kafka-python's max_request_size, the relay's default
AT = datetime.now(UTC) - timedelta(minutes=5)  # one time: a re-post is the same event


@pytest.fixture
def signer(tenant: Tenant) -> Any:
    s = Signer(tenant)
    yield s
    s.close()


def canonical_ticket(ticket_id: str, summary: str, occurred_at: datetime | None = None) -> bytes:
    at = (occurred_at or AT).isoformat()
    return json.dumps(
        {
            "source": "canonical",
            "action": "created",
            "occurred_at": at,
            "client_id": "acme",
            "refs": [{"source": "canonical", "entity": "ticket", "id": ticket_id}],
            "payload": {
                "kind": "ticket",
                "ticket_id": ticket_id,
                "summary": summary,
                "created_at": at,
            },
        },
        separators=(",", ":"),
    ).encode()


def post(ingest: RunningIngest, signer: Signer, source: Source, body: bytes) -> httpx.Response:
    headers = {"content-type": "application/json", **signer.headers(source, body)}
    return ingest.post(source.value, body, headers)


def test_one_huge_delivery_cannot_stop_later_events_reaching_the_topic(
    broker: Any, ingest_factory: Any, signer: Signer
) -> None:
    """The issue's reproduction: an authenticated invalid ~1 MiB NinjaOne body and a
    canonical event with a 1,048,100-character summary, then an ordinary event."""
    ingest: RunningIngest = ingest_factory(broker.bootstrap)

    invalid = json.dumps({"filler": "x" * 1_048_400}).encode()  # no id, no activityType
    assert len(invalid) <= 1_048_576
    response = post(ingest, signer, Source.ninjaone, invalid)
    assert response.status_code == 422, response.text

    huge = canonical_ticket("T-huge", "s" * 1_048_100)
    assert len(huge) <= 1_048_576  # under the body limit: it reaches the adapter
    response = post(ingest, signer, Source.canonical, huge)
    assert response.status_code == 202, response.text
    (huge_id,) = response.json()["event_ids"]

    response = post(ingest, signer, Source.canonical, canonical_ticket("T-after", "ordinary"))
    assert response.status_code == 202, response.text
    (after_id,) = response.json()["event_ids"]

    records = read_topic(broker.bootstrap, topics.EVENTS, expect=2)
    events = {e.event_id: e for e in map(CanonicalEvent.model_validate, event_values(records))}
    assert set(events) == {huge_id, after_id}  # both delivered: nothing stuck behind
    summary = events[huge_id].payload.summary  # type: ignore[union-attr]
    assert summary is not None and len(summary) == 4096 and summary.endswith("…")
    assert all(len(r.value) <= 65_536 for r in records)  # what the classifier derives fits

    (letter,) = read_topic(broker.bootstrap, topics.DLQ, expect=1)
    headers = dict(letter.headers)
    assert len(letter.value) == 65_536  # cut to the documented size ...
    assert headers[H_ERROR_ORIGINAL_SIZE] == str(len(invalid)).encode()  # ... saying so
    assert headers[H_ERROR_SHA256] == hashlib.sha256(invalid).hexdigest().encode()
    assert headers[H_ERROR_TRUNCATED] == b"true"
    assert headers[topics.H_ERROR_REASON] == b"invalid_payload"
    assert ingest.relay is not None
    wait_for("the relay's count of pending rows", lambda: ingest.relay.relay.pending == 0)


def test_an_event_over_the_event_cap_is_refused_413_before_any_202(
    broker: Any, ingest_factory: Any, signer: Signer
) -> None:
    ingest: RunningIngest = ingest_factory(broker.bootstrap, ingest_max_event_bytes=4096)
    body = canonical_ticket("T-wide", "fits")
    event = json.loads(body)
    event["refs"] += [
        {"source": "canonical", "entity": "device", "id": f"DEVICE-{i:05d}"} for i in range(200)
    ]
    response = post(ingest, signer, Source.canonical, json.dumps(event).encode())
    assert response.status_code == 413, response.text
    assert "4096 bytes" in response.json()["error"]
    assert (
        ingest.metric(
            "partnerpulse_ingest_deliveries_rejected_total",
            source="canonical",
            reason="event_too_large",
        )
        == 1
    )
    (letter,) = read_topic(broker.bootstrap, topics.DLQ, expect=1)
    assert dict(letter.headers)[topics.H_ERROR_REASON] == b"event_too_large"
    assert read_topic(broker.bootstrap, topics.EVENTS, timeout=1) == []


def journal_path(tmp_path: Path) -> Path:
    return tmp_path / "var" / "ingest" / "journal.sqlite3"


def test_a_record_kafka_refuses_is_dead_lettered_by_the_relay_which_moves_on(
    broker: Any, ingest_factory: Any, signer: Signer, tmp_path: Path
) -> None:
    """A journal row over the producer's limit (written by an older ingest, say)."""
    ingest: RunningIngest = ingest_factory(broker.bootstrap)
    assert ingest.relay is not None
    value = b'{"summary": "' + b"x" * PRODUCER_MAX_REQUEST + b'"}'
    with sqlite3.connect(journal_path(tmp_path)) as db:
        db.execute(
            "INSERT INTO journal (topic, key, value, headers, event_id, source, received_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                topics.EVENTS,
                b"acme",
                value,
                json.dumps([[topics.H_EVENT_ID, "too-big"], [topics.H_SOURCE, "canonical"]]),
                "too-big",
                "canonical",
                time.time(),
            ),
        )
    response = post(ingest, signer, Source.canonical, canonical_ticket("T-next", "ordinary"))
    assert response.status_code == 202, response.text

    (record,) = read_topic(broker.bootstrap, topics.EVENTS, expect=1)
    assert json.loads(record.value)["event_id"] == response.json()["event_ids"][0]
    (letter,) = read_topic(broker.bootstrap, topics.DLQ, expect=1)
    headers = dict(letter.headers)
    assert headers[topics.H_ERROR_STAGE] == b"relay"
    assert headers[topics.H_ERROR_REASON] == b"MessageSizeTooLargeError"
    assert headers[H_ERROR_ORIGINAL_SIZE] == str(len(value)).encode()
    assert headers[topics.H_EVENT_ID] == b"too-big"
    assert len(letter.value) == 65_536

    relay = ingest.relay
    assert (
        relay.metric(
            "partnerpulse_ingest_relay_dead_lettered_records_total",
            reason="MessageSizeTooLargeError",
        )
        == 1
    )
    wait_for(
        "no pending record", lambda: relay.metric("partnerpulse_ingest_relay_pending_records") == 0
    )
    ready = local_http.get(f"{relay.url}/readyz")
    assert ready.status_code == 200
    assert ready.json()["dead_lettered_by_relay"] == 1
    assert "MessageSizeTooLargeError" in ready.json()["last_dead_letter"]


def test_relayed_rows_past_the_retention_are_pruned_pending_rows_never(
    broker: Any, ingest_factory: Any, signer: Signer, tmp_path: Path
) -> None:
    ingest: RunningIngest = ingest_factory(
        broker.bootstrap,
        ingest_journal_retention_days=35,
        relay_housekeeping_interval_seconds=0.2,
    )
    assert ingest.relay is not None
    relay = ingest.relay
    ids = []
    for n in range(3):
        response = post(ingest, signer, Source.canonical, canonical_ticket(f"T-{n}", "x"))
        assert response.status_code == 202
        ids += response.json()["event_ids"]
    wait_for(
        "three records relayed",
        lambda: relay.metric("partnerpulse_ingest_relayed_records_total", topic=topics.EVENTS) == 3,
    )

    old = (datetime.now(UTC) - timedelta(days=36)).timestamp()
    with sqlite3.connect(journal_path(tmp_path)) as db:
        # One row received 36 days ago (pending rows are never pruned: tests/unit/ingest).
        db.execute("UPDATE journal SET received_at = ? WHERE event_id = ?", (old, ids[0]))
    wait_for(
        "a pruned row", lambda: relay.metric("partnerpulse_ingest_journal_pruned_rows_total") >= 1
    )
    with sqlite3.connect(journal_path(tmp_path)) as db:
        kept = {row[0] for row in db.execute("SELECT event_id FROM journal")}
    assert kept == set(ids[1:])  # the old relayed row went, the newer ones stay
    assert relay.metric("partnerpulse_ingest_journal_pruned_rows_total") == 1
    wait_for("two rows left", lambda: relay.metric("partnerpulse_ingest_journal_rows") == 2)
    assert relay.metric("partnerpulse_ingest_journal_bytes") > 0

    # The dedupe window is the retention: the pruned event, delivered again, is new.
    again = post(ingest, signer, Source.canonical, canonical_ticket("T-0", "x"))
    assert again.status_code == 202 and again.json()["accepted"] == 1
