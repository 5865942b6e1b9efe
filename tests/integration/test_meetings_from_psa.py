"""Review meetings and recommendations an MSP keeps in its PSA reach the classifier's
detectors: through real HTTP ingest (signed webhooks) and through the real poller against
the vendor API stand-ins, onto the embedded broker, read back and judged."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from services.classifier.domain.detectors import ignored_recommendation, skipped_meeting
from services.classifier.domain.engine import Engine
from services.classifier.domain.state import ClientState
from services.events import topics
from services.events.models import CanonicalEvent, Source
from services.events.tenant import Tenant
from services.ingest.sender import signer
from services.poll.adapters.vendor import RetryPolicy
from services.poll.bootstrap import build_poller
from services.runtime.broker import free_port
from services.vendorapi.records import ApiRecords, ReplayClock
from services.vendorapi.server import RunningStandIns, start_standins
from tests.support import purpose
from tests.support.polling import T0, iso, line, polling_config, with_polling

from .conftest import RunningIngest, event_values, read_topic

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def tenant() -> Tenant:
    """The fixture tenant with a QBR board / queue / ticket type and a review cadence."""
    return purpose.purpose_tenant()


def judged(events: list[dict[str, Any]], tenant: Tenant) -> dict[str, list[str]]:
    """What the detectors find in Acme's events, judged a day after the last of them."""
    engine, state = Engine(tenant), ClientState("acme")
    parsed = [CanonicalEvent.model_validate(e) for e in events]
    for event in sorted(parsed, key=lambda e: e.occurred_at):
        assert event.client_id == "acme"
        engine.apply(state, event, 0.0)
    watermark = max(e.occurred_at for e in parsed).timestamp() + 86400
    return {
        "skipped_meeting": sorted(
            f.ref for f in skipped_meeting(state, tenant.classifier, watermark)
        ),
        "ignored_recommendation": sorted(
            f.ref for f in ignored_recommendation(state, tenant.classifier, watermark)
        ),
    }


def test_webhooks_of_qbr_and_recommendation_tickets_reach_the_detectors(
    broker: Any, ingest_factory: Any, tenant: Tenant
) -> None:
    ingest: RunningIngest = ingest_factory(broker.bootstrap)
    qbr = purpose.autotask_ticket_hook(
        7400,
        iso(T0),
        sequence=2,
        title="Q1 business review",
        queueID=purpose.QBR_QUEUE,
        status=1,
        createDate=iso(T0 - timedelta(days=20)),
        dueDateTime=iso(T0 + timedelta(hours=4)),
    )
    # An hour later the QBR ticket is deleted: the meeting is off, three hours before.
    cancelled = {**qbr, "Action": "Delete", "EventTime": iso(T0 + timedelta(hours=1))}
    cancelled["SequenceNumber"] = 3
    recommendation = purpose.halo_ticket_hook(
        2300,
        summary="Move backups to the cloud",
        tickettype_id=purpose.HALO_RECOMMENDATION_TYPE,
        status_id=purpose.HALO_DECLINED,
        datecreated="2026-02-20T09:00:00",
        lastactiondate="2026-03-01T09:00:00",
    )
    no_show = {
        "id": 48300,
        "summary": "Technical review",
        "board": {"name": purpose.QBR_BOARD},
        "status": {"name": "No Show"},
        "company": {"id": 250, "identifier": "AcmeDental"},
        "requiredDate": iso(T0 - timedelta(days=3)),
        "_info": {"dateEntered": iso(T0 - timedelta(days=30)), "lastUpdated": iso(T0)},
    }
    callback = {
        "MessageId": "cw-1",
        "Action": "updated",
        "Type": "ticket",
        "ID": 48300,
        "Entity": json.dumps(no_show),
        # The vendor's key server is played by the Signer on loopback.
        "Metadata": {"key_url": f"http://127.0.0.1:{free_port()}/callback-key/qbr"},
    }
    deliveries = [
        (Source.autotask, qbr),
        (Source.autotask, cancelled),
        (Source.halopsa, recommendation),
        (Source.connectwise, callback),
    ]
    with signer(tenant) as sign:
        for source, document in deliveries:
            body = json.dumps(document).encode()
            headers = {"content-type": "application/json", **sign.headers(source, body)}
            assert ingest.post(str(source), body, headers).status_code == 202
    events = event_values(read_topic(broker.bootstrap, topics.EVENTS, expect=4, settle=0.5))
    kinds = sorted((str(e["payload"]["kind"]), e["refs"][0]["id"]) for e in events)
    assert kinds == [
        ("meeting", "48300"),
        ("meeting", "7400"),
        ("meeting", "7400"),
        ("recommendation", "2300"),
    ]
    assert judged(events, tenant) == {
        "skipped_meeting": ["autotask:ticket:7400", "connectwise:ticket:48300"],
        "ignored_recommendation": ["halopsa:ticket:2300"],
    }


def psa_records() -> list[dict[str, Any]]:
    """Acme's reviews and recommendations as Autotask and HaloPSA hold them."""
    t = T0 - timedelta(minutes=30)
    return [
        line(
            t,
            "autotask",
            "Appointments",
            881,
            {
                "id": 881,
                "title": "CANCELLED: Acme Dental business review",
                "resourceID": 29682844,
                "startDateTime": iso(T0 + timedelta(hours=2)),
                "endDateTime": iso(T0 + timedelta(hours=3)),
                "createDateTime": iso(T0 - timedelta(days=14)),
                "updateDateTime": iso(t),
            },
        ),
        line(
            t,
            "autotask",
            "Tickets",
            7600,
            {
                "id": 7600,
                "companyID": 29683,
                "title": "Q4 business review",
                "queueID": purpose.QBR_QUEUE,
                "status": 5,
                "createDate": iso(T0 - timedelta(days=9)),
                "dueDateTime": iso(T0 - timedelta(days=2)),
                "lastActivityDate": iso(t),
            },
        ),
        line(
            t,
            "halopsa",
            "Appointment",
            63,
            {
                "id": 63,
                "subject": "Technical review",
                "client_id": 12,
                "agent_id": 4,
                "appointment_type_id": purpose.HALO_REVIEW_APPOINTMENT,
                "complete_status": 1,
                "start_date": "2026-03-01T14:00:00",
                "end_date": "2026-03-01T15:00:00",
                "datecreated": "2026-02-10T09:00:00",
                "last_update": "2026-03-02T08:30:00",
            },
        ),
        line(
            t,
            "halopsa",
            "Tickets",
            2400,
            {
                "id": 2400,
                "summary": "Replace the end-of-life firewall",
                "tickettype_id": purpose.HALO_RECOMMENDATION_TYPE,
                "status_id": purpose.HALO_DECLINED,
                "client_id": 12,
                "datecreated": "2026-02-20T09:00:00",
                "dateclosed": "2026-03-02T08:30:00",
                "last_update": "2026-03-02T08:30:00",
                "lastactiondate": "2026-03-02T08:30:00",
            },
        ),
    ]


@pytest.fixture
def psa_standins() -> Iterator[RunningStandIns]:
    started = start_standins(ApiRecords(psa_records()), ReplayClock(T0, speed=0), None)
    yield started
    started.stop()


def test_the_poller_brings_appointments_and_qbr_tickets_to_the_detectors(
    broker: Any,
    ingest_factory: Any,
    tenant: Tenant,
    psa_standins: RunningStandIns,
    tmp_path: Path,
) -> None:
    ingest: RunningIngest = ingest_factory(broker.bootstrap)
    others = {s: None for s in ("connectwise", "ninjaone", "dattormm", "tacticalrmm")}
    polling = polling_config(psa_standins.base_urls, **others)
    psa_standins.state.polling = polling  # the stand-ins accept these credentials
    poller = build_poller(
        with_polling(tenant, polling),
        data_dir=tmp_path / "poll",
        ingest_url=ingest.url,
        retry=RetryPolicy(attempts=3, backoff_seconds=0.01, max_wait_seconds=5),
        sleep=lambda _: None,
    )
    try:
        poller.run_cycle()
    finally:
        poller.stop()
    events = event_values(read_topic(broker.bootstrap, topics.EVENTS, expect=4, settle=0.5))
    payloads = {
        ":".join(e["refs"][0][k] for k in ("source", "entity", "id")): e["payload"] for e in events
    }
    assert {
        ref: (p["kind"], p.get("meeting_kind"), p["status"]) for ref, p in payloads.items()
    } == {
        "autotask:appointment:881": ("meeting", "review", "cancelled"),
        "autotask:ticket:7600": ("meeting", "review", "held"),
        "halopsa:appointment:63": ("meeting", "review", "held"),
        "halopsa:ticket:2400": ("recommendation", None, "declined"),
    }
    assert judged(events, tenant) == {
        "skipped_meeting": ["autotask:appointment:881"],  # cancelled two hours before
        "ignored_recommendation": ["halopsa:ticket:2400"],
    }
