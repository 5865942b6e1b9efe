"""The skipped-meeting (with the review cadence) and ignored-recommendation detectors
judge the meetings and recommendations an MSP keeps in its PSA: tickets on a QBR board /
queue / ticket type, and appointments, as the adapters and the poller make them."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.classifier.domain.detectors import ignored_recommendation, skipped_meeting
from services.classifier.domain.engine import Engine
from services.events.models import CanonicalEvent, Source
from services.events.tenant import Tenant
from services.ingest.adapters import autotask, connectwise, halopsa
from services.ingest.adapters.base import Delivery
from services.poll.domain import canonical
from services.poll.domain.specs import spec_for
from tests.support import purpose

from .conftest import Feed

DAY0 = datetime(2026, 1, 5, 15, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def psa_tenant() -> Tenant:
    return purpose.purpose_tenant()


@pytest.fixture
def acme(psa_tenant: Tenant) -> Feed:
    return Feed(Engine(psa_tenant), "acme")


def iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def delivered(adapter: Any, source: Source, body: dict[str, Any], tenant: Tenant) -> CanonicalEvent:
    delivery = Delivery(source=source, body=json.dumps(body).encode(), headers={})
    (event,) = adapter.normalise(delivery, tenant).events
    assert event.client_id == "acme"
    return event  # type: ignore[no-any-return]


def cw_qbr_ticket(status: str, starts: datetime, updated: datetime) -> dict[str, Any]:
    entity = {
        "id": 48300,
        "summary": "Q1 business review",
        "board": {"name": purpose.QBR_BOARD},
        "status": {"name": status},
        "company": {"id": 250},
        "requiredDate": iso(starts),
        "_info": {"dateEntered": iso(starts - timedelta(days=20)), "lastUpdated": iso(updated)},
    }
    return {"MessageId": "m", "Action": "updated", "Type": "ticket", "Entity": json.dumps(entity)}


def at_ticket(rid: int, at: datetime, **fields: Any) -> dict[str, Any]:
    return purpose.autotask_ticket_hook(rid, iso(at), title="vCIO", createDate=iso(at), **fields)


def refs(found: list[Any]) -> list[str]:
    return sorted(f.ref for f in found)


def test_a_qbr_ticket_cancelled_at_short_notice_is_a_skipped_meeting(
    acme: Feed, psa_tenant: Tenant
) -> None:
    body = cw_qbr_ticket("Cancelled", DAY0, DAY0 - timedelta(hours=3))
    acme(delivered(connectwise.ADAPTER, Source.connectwise, body, psa_tenant))
    found = skipped_meeting(acme.state, psa_tenant.classifier, acme.watermark)
    assert refs(found) == ["connectwise:ticket:48300"]
    assert "cancelled 3 h before" in found[0].note


def test_a_qbr_ticket_held_is_no_skipped_meeting(acme: Feed, psa_tenant: Tenant) -> None:
    body = cw_qbr_ticket("Completed", DAY0, DAY0 + timedelta(hours=2))
    acme(delivered(connectwise.ADAPTER, Source.connectwise, body, psa_tenant))
    assert skipped_meeting(acme.state, psa_tenant.classifier, acme.watermark) == []


def test_a_halo_review_appointment_missed_is_a_skipped_meeting(
    acme: Feed, psa_tenant: Tenant
) -> None:
    record = {
        "id": 62,
        "subject": "Quarterly review",
        "client_id": 12,
        "appointment_type_id": purpose.HALO_REVIEW_APPOINTMENT,
        "status": "No Show",
        "start_date": "2026-01-05T15:00:00",
        "datecreated": "2025-12-20T09:00:00",
        "last_update": "2026-01-05T16:00:00",
    }
    out = canonical.halo_appointment(
        psa_tenant, spec_for("halopsa", "Appointment"), record, canonical.Links()
    )
    data = json.loads(out.body)
    acme(CanonicalEvent.model_validate({**data, "tenant": "t", "received_at": data["occurred_at"]}))
    found = skipped_meeting(acme.state, psa_tenant.classifier, acme.watermark)
    assert refs(found) == ["halopsa:appointment:62"]


def test_the_review_cadence_counts_reviews_held_on_the_qbr_queue(
    acme: Feed, psa_tenant: Tenant
) -> None:
    """Acme reviews every 90 days: with its last QBR ticket held on day 0, the review is
    overdue after 90 + 14 days of grace, and not before."""
    body = at_ticket(7400, DAY0, queueID=purpose.QBR_QUEUE, status=5, dueDateTime=iso(DAY0))
    acme(delivered(autotask.ADAPTER, Source.autotask, body, psa_tenant))
    acme.state.review_cadence_days = 90  # as the engine sets it from the tenant file
    acme.watermark = (DAY0 + timedelta(days=100)).timestamp()
    assert skipped_meeting(acme.state, psa_tenant.classifier, acme.watermark) == []
    acme.watermark = (DAY0 + timedelta(days=105)).timestamp()
    found = skipped_meeting(acme.state, psa_tenant.classifier, acme.watermark)
    assert refs(found) == ["autotask:ticket:7400"]
    assert "reviews are due every 90 days" in found[0].note


def test_recommendation_tickets_open_past_due_or_declined_are_ignored(
    acme: Feed, psa_tenant: Tenant
) -> None:
    kind = purpose.RECOMMENDATION_TYPE
    acme(
        delivered(
            autotask.ADAPTER,
            Source.autotask,
            at_ticket(7500, DAY0, ticketType=kind, status=1, dueDateTime=iso(DAY0 + timedelta(10))),
            psa_tenant,
        ),
        delivered(
            autotask.ADAPTER,
            Source.autotask,
            at_ticket(7501, DAY0, ticketType=kind, status=5, dueDateTime=iso(DAY0 + timedelta(10))),
            psa_tenant,
        ),
    )
    halo_declined = purpose.halo_ticket_hook(
        2300,
        summary="Move backups to the cloud",
        tickettype_id=purpose.HALO_RECOMMENDATION_TYPE,
        status_id=purpose.HALO_DECLINED,
        datecreated="2026-01-05T09:00:00",
        lastactiondate="2026-01-08T09:00:00",
    )
    acme(delivered(halopsa.ADAPTER, Source.halopsa, halo_declined, psa_tenant))
    acme.watermark = (DAY0 + timedelta(days=5)).timestamp()
    before_due = ignored_recommendation(acme.state, psa_tenant.classifier, acme.watermark)
    assert refs(before_due) == ["halopsa:ticket:2300"]  # declined: at once
    acme.watermark = (DAY0 + timedelta(days=11)).timestamp()
    found = ignored_recommendation(acme.state, psa_tenant.classifier, acme.watermark)
    # The open one past its due date; the done one (status 5, Complete) is no concern.
    assert refs(found) == ["autotask:ticket:7500", "halopsa:ticket:2300"]


def test_a_qbr_ticket_updated_without_its_queue_stays_the_meeting(
    acme: Feed, psa_tenant: Tenant
) -> None:
    """Autotask pushes only the subscribed fields: the status change of a QBR ticket can
    come without `queueID`. It updates the meeting; it never becomes a ticket."""
    booked = at_ticket(7410, DAY0 - timedelta(days=20), queueID=purpose.QBR_QUEUE, status=1)
    booked["Fields"]["dueDateTime"] = iso(DAY0)
    acme(delivered(autotask.ADAPTER, Source.autotask, booked, psa_tenant))
    held = at_ticket(7410, DAY0 + timedelta(hours=2), status=5)  # 5: Complete
    del held["Fields"]["createDate"]
    acme(delivered(autotask.ADAPTER, Source.autotask, held, psa_tenant))
    assert "autotask:ticket:7410" not in acme.state.tickets
    assert "autotask:ticket:7410" not in acme.work  # no work item: a meeting, not work
    assert acme.state.meetings["autotask:ticket:7410"].status == "held"
    assert acme.state.meetings["autotask:ticket:7410"].starts == DAY0.timestamp()


def test_a_halo_qbr_ticket_cancelled_by_an_update_without_its_type_is_skipped(
    acme: Feed, psa_tenant: Tenant
) -> None:
    def halo(status: int, updated: str, **extra: Any) -> dict[str, Any]:
        created = "2025-12-20T09:00:00"
        return purpose.halo_ticket_hook(
            2400,
            summary="Q1 review",
            status_id=status,
            datecreated=created,
            lastactiondate=updated,
            **extra,
        )

    booked = halo(1, "2025-12-20T09:00:00", tickettype_id=purpose.HALO_QBR_TYPE)
    booked["ticket"]["deadlinedate"] = "2026-01-05T15:00:00"
    acme(delivered(halopsa.ADAPTER, Source.halopsa, booked, psa_tenant))
    start = acme.state.meetings["halopsa:ticket:2400"].starts
    cancelled = halo(purpose.HALO_CANCELLED, "2026-01-05T13:00:00")
    acme(delivered(halopsa.ADAPTER, Source.halopsa, cancelled, psa_tenant))
    assert "halopsa:ticket:2400" not in acme.state.tickets
    assert acme.state.meetings["halopsa:ticket:2400"].starts == start
    found = skipped_meeting(acme.state, psa_tenant.classifier, acme.watermark)
    assert refs(found) == ["halopsa:ticket:2400"]


def test_a_recommendation_ticket_done_by_an_update_without_its_type_is_not_ignored(
    acme: Feed, psa_tenant: Tenant
) -> None:
    due = iso(DAY0 + timedelta(days=10))
    made = at_ticket(7510, DAY0, ticketType=purpose.RECOMMENDATION_TYPE, status=1, dueDateTime=due)
    acme(delivered(autotask.ADAPTER, Source.autotask, made, psa_tenant))
    done = at_ticket(7510, DAY0 + timedelta(days=3), status=5)
    del done["Fields"]["createDate"]
    acme(delivered(autotask.ADAPTER, Source.autotask, done, psa_tenant))
    acme.watermark = (DAY0 + timedelta(days=40)).timestamp()
    assert ignored_recommendation(acme.state, psa_tenant.classifier, acme.watermark) == []
    assert "autotask:ticket:7510" not in acme.state.tickets


def test_an_update_read_as_a_ticket_before_its_meeting_is_dropped_with_it(
    acme: Feed, psa_tenant: Tenant
) -> None:
    """Out of order: the partial update (no queue) first, the QBR ticket's creation after."""
    early = at_ticket(7420, DAY0 - timedelta(days=1), status=1)
    acme(delivered(autotask.ADAPTER, Source.autotask, early, psa_tenant))
    assert "autotask:ticket:7420" in acme.state.tickets  # nothing says otherwise yet
    booked = at_ticket(7420, DAY0 - timedelta(days=20), queueID=purpose.QBR_QUEUE, status=1)
    acme(delivered(autotask.ADAPTER, Source.autotask, booked, psa_tenant))
    assert "autotask:ticket:7420" not in acme.state.tickets
    assert "autotask:ticket:7420" in acme.state.meetings
