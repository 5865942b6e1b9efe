"""Freshness (replay) and future-time checks through real HTTP and the broker.

The tenant file's defaults (7 days back, 6 hours ahead) on: the shared test tenant
turns them off for its March-2026 fixtures.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.events import topics
from services.events.models import Source
from services.events.tenant import Freshness, Tenant
from services.ingest.sender import Signer

from .conftest import RunningIngest, event_values, read_topic

pytestmark = pytest.mark.integration

REJECTED = "partnerpulse_ingest_deliveries_rejected_total"


@pytest.fixture
def tenant(tenant: Tenant) -> Tenant:
    webhooks = tenant.webhooks.model_copy(update={"freshness": Freshness()})
    return tenant.model_copy(update={"webhooks": webhooks})


@pytest.fixture
def signer(tenant: Tenant) -> Iterator[Signer]:
    s = Signer(tenant)
    yield s
    s.close()


def post(ingest: RunningIngest, signer: Signer, source: Source, body: bytes) -> httpx.Response:
    headers = {"content-type": "application/json", **signer.headers(source, body)}
    return ingest.post(source.value, body, headers)


def autotask(payloads: Path, at: datetime | None) -> bytes:
    data = json.loads((payloads / "autotask" / "ticket_create.json").read_bytes())
    if at is not None:
        stamp = at.isoformat().replace("+00:00", "Z")
        data["EventTime"] = stamp
        data["Fields"]["createDate"] = stamp
    return json.dumps(data).encode()


def test_a_replayed_old_delivery_is_refused_counted_and_dead_lettered_once(
    broker: Any, ingest_factory: Any, signer: Signer, payloads: Path
) -> None:
    ingest: RunningIngest = ingest_factory(broker.bootstrap)
    old = autotask(payloads, None)  # dated 2026-03-02: months old
    for _ in range(2):  # the replay, and the replay again
        response = post(ingest, signer, Source.autotask, old)
        assert response.status_code == 422, response.text
        assert response.json()["problem"] == "stale_event_time"
        assert "freshness.max_event_age_hours" in response.json()["error"]
    assert ingest.metric(REJECTED, source="autotask", reason="stale_event_time") == 2

    fresh = autotask(payloads, datetime.now(UTC) - timedelta(minutes=3))
    response = post(ingest, signer, Source.autotask, fresh)
    assert response.status_code == 202, response.text

    (letter,) = read_topic(broker.bootstrap, topics.DLQ, expect=1)  # once: deduplicated
    assert dict(letter.headers)[topics.H_ERROR_REASON] == b"stale_event_time"
    assert len(read_topic(broker.bootstrap, topics.EVENTS, expect=1)) == 1


def test_an_event_from_the_future_is_refused_and_dead_lettered_as_future_event_time(
    broker: Any, ingest_factory: Any, signer: Signer, payloads: Path
) -> None:
    ingest: RunningIngest = ingest_factory(broker.bootstrap)
    event = {
        "source": "canonical",
        "action": "created",
        "occurred_at": "2099-01-01T00:00:00Z",
        "client_id": "acme",
        "refs": [{"source": "canonical", "entity": "ticket", "id": "T-2099"}],
        "payload": {"kind": "ticket", "ticket_id": "T-2099", "created_at": "2099-01-01T00:00:00Z"},
    }
    response = post(ingest, signer, Source.canonical, json.dumps(event).encode())
    assert response.status_code == 422, response.text
    assert response.json()["problem"] == "future_event_time"

    ninja = json.loads((payloads / "ninjaone" / "condition_triggered.json").read_bytes())
    ninja["activityTime"] = (datetime.now(UTC) + timedelta(hours=7)).timestamp()
    response = post(ingest, signer, Source.ninjaone, json.dumps(ninja).encode())
    assert response.status_code == 422, response.text
    ninja["activityTime"] = (datetime.now(UTC) + timedelta(hours=1)).timestamp()  # clock skew
    response = post(ingest, signer, Source.ninjaone, json.dumps(ninja).encode())
    assert response.status_code == 202, response.text

    for source in ("canonical", "ninjaone"):
        assert ingest.metric(REJECTED, source=source, reason="future_event_time") == 1
    letters = read_topic(broker.bootstrap, topics.DLQ, expect=2)
    assert [dict(r.headers)[topics.H_ERROR_REASON] for r in letters] == [b"future_event_time"] * 2
    (accepted,) = event_values(read_topic(broker.bootstrap, topics.EVENTS, expect=1))
    assert accepted["source"] == "ninjaone"
