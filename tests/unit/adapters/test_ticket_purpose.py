"""Tickets on a board / queue / ticket type the tenant maps to `review_meeting` or
`recommendation` are review meetings and recommendations, not tickets; every other ticket
stays a ticket. The same bodies the poller posts (services/poll/domain/deliveries.py) go
through these adapters, so polling and webhooks agree."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from services.cli import app
from services.events.models import (
    Action,
    CanonicalEvent,
    Meeting,
    MeetingKind,
    MeetingStatus,
    Recommendation,
    RecommendationStatus,
    Source,
    Ticket,
)
from services.events.tenant import Tenant, TenantConfigError, parse_tenant
from services.ingest.adapters import autotask, connectwise, halopsa
from services.ingest.adapters.base import Delivery
from services.poll.domain import deliveries
from services.poll.domain.specs import spec_for
from tests.support import purpose

RECEIVED = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def tenant() -> Tenant:
    return purpose.purpose_tenant()


def one(adapter: Any, source: Source, body: dict[str, Any], tenant: Tenant) -> CanonicalEvent:
    delivery = Delivery(source=source, body=json.dumps(body).encode(), headers={})
    events = adapter.normalise(delivery, tenant).events
    assert len(events) == 1
    event: CanonicalEvent = events[0]
    return event


# -- ConnectWise: board.name -----------------------------------------------------------


def cw_ticket(board: str, status: str, **fields: Any) -> dict[str, Any]:
    entity = {
        "id": 48300,
        "summary": "Q1 business review",
        "board": {"id": 9, "name": board},
        "status": {"id": 3, "name": status},
        "company": {"id": 250, "identifier": "AcmeDental", "name": "Acme Dental"},
        "owner": {"id": 7, "identifier": "stech", "name": "Sam Tech"},
        "_info": {"dateEntered": "2026-03-01T09:00:00Z", "lastUpdated": "2026-03-16T08:00:00Z"},
        **fields,
    }
    return {
        "MessageId": "m-1",
        "Action": "updated",
        "Type": "ticket",
        "ID": entity["id"],
        "Entity": json.dumps(entity),
        "Metadata": {"key_url": "https://api-na.myconnectwise.net/key"},
    }


def test_a_ticket_on_the_qbr_board_is_a_review_meeting(tenant: Tenant) -> None:
    body = cw_ticket(purpose.QBR_BOARD, "Cancelled", requiredDate="2026-03-16T14:00:00Z")
    event = one(connectwise.ADAPTER, Source.connectwise, body, tenant)
    p = event.payload
    assert isinstance(p, Meeting)
    assert p.meeting_kind is MeetingKind.review
    assert p.status is MeetingStatus.cancelled
    assert p.starts_at == datetime(2026, 3, 16, 14, tzinfo=UTC)  # the due date
    assert p.changed_at == datetime(2026, 3, 16, 8, tzinfo=UTC)  # notice: 6 hours
    assert p.title == "Q1 business review"
    assert p.organiser is not None and p.organiser.id == "stech"
    assert event.client_id == "acme"
    assert str(event.ref) == "connectwise:ticket:48300"


def test_a_review_ticket_without_a_date_starts_when_it_was_made(tenant: Tenant) -> None:
    event = one(
        connectwise.ADAPTER, Source.connectwise, cw_ticket("Business Reviews", "New"), tenant
    )
    assert isinstance(event.payload, Meeting)
    assert event.payload.status is MeetingStatus.scheduled
    assert event.payload.starts_at == datetime(2026, 3, 1, 9, tzinfo=UTC)
    assert event.payload.changed_at is None


def test_a_ticket_on_the_roadmap_board_is_a_recommendation(tenant: Tenant) -> None:
    body = cw_ticket(
        purpose.ROADMAP_BOARD,
        "Declined",
        summary="Replace the firewall",
        requiredDate="2026-04-01T00:00:00Z",
        closedDate="2026-03-15T10:00:00Z",
    )
    p = one(connectwise.ADAPTER, Source.connectwise, body, tenant).payload
    assert isinstance(p, Recommendation)
    assert (p.title, p.status) == ("Replace the firewall", RecommendationStatus.declined)
    assert p.presented_at == datetime(2026, 3, 1, 9, tzinfo=UTC)
    assert p.due_at == datetime(2026, 4, 1, tzinfo=UTC)
    assert p.answered_at == datetime(2026, 3, 15, 10, tzinfo=UTC)


def test_tickets_on_other_boards_stay_tickets(tenant: Tenant) -> None:
    body = cw_ticket("Service Desk", "New")
    assert isinstance(one(connectwise.ADAPTER, Source.connectwise, body, tenant).payload, Ticket)


def test_without_a_ticket_purpose_mapping_every_ticket_is_a_ticket() -> None:
    data = purpose.purpose_data()
    del data["mappings"]
    plain = parse_tenant(data)
    body = cw_ticket(purpose.QBR_BOARD, "Cancelled")
    assert isinstance(one(connectwise.ADAPTER, Source.connectwise, body, plain).payload, Ticket)


# -- Autotask: queueID, ticketType -------------------------------------------------------


def at_ticket(action: str = "Update", **fields: Any) -> dict[str, Any]:
    return purpose.autotask_ticket_hook(
        7400,
        "2026-03-16T09:00:00Z",
        action=action,
        sequence=3,
        title="Quarterly business review",
        createDate="2026-03-01T09:00:00Z",
        assignedResourceID=29682844,
        **fields,
    )


def test_a_ticket_in_the_qbr_queue_is_a_review_meeting_held_once_complete(
    tenant: Tenant,
) -> None:
    body = at_ticket(queueID=purpose.QBR_QUEUE, status=5, dueDateTime="2026-03-15T15:00:00Z")
    event = one(autotask.ADAPTER, Source.autotask, body, tenant)
    p = event.payload
    assert isinstance(p, Meeting)
    assert (p.meeting_kind, p.status) == (MeetingKind.review, MeetingStatus.held)
    assert p.starts_at == datetime(2026, 3, 15, 15, tzinfo=UTC)
    assert p.organiser is not None and p.organiser.id == "29682844"
    assert event.client_id == "acme"


def test_a_ticket_of_the_recommendation_type_is_a_recommendation(tenant: Tenant) -> None:
    body = at_ticket(ticketType=purpose.RECOMMENDATION_TYPE, queueID=8, status=1)
    body["Fields"]["dueDateTime"] = "2026-04-30T00:00:00Z"
    p = one(autotask.ADAPTER, Source.autotask, body, tenant).payload
    assert isinstance(p, Recommendation)
    assert p.status is RecommendationStatus.open
    assert p.due_at == datetime(2026, 4, 30, tzinfo=UTC)
    assert p.answered_at is None


def test_a_deleted_review_ticket_is_a_cancelled_meeting(tenant: Tenant) -> None:
    body = at_ticket("Delete", queueID=purpose.QBR_QUEUE, status=1)
    event = one(autotask.ADAPTER, Source.autotask, body, tenant)
    assert event.action is Action.deleted
    assert isinstance(event.payload, Meeting)
    assert event.payload.status is MeetingStatus.cancelled


def test_the_pollers_ticket_reconciliation_makes_the_same_meeting(tenant: Tenant) -> None:
    record = {
        "id": 7401,
        "companyID": 29683,
        "title": "QBR",
        "queueID": purpose.QBR_QUEUE,
        "status": 5,
        "createDate": "2026-03-01T09:00:00Z",
        "lastActivityDate": "2026-03-16T09:00:00Z",
    }
    out = deliveries.autotask_ticket(spec_for("autotask", "Tickets"), record)
    delivery = Delivery(source=Source.autotask, body=out.body, headers={})
    (event,) = autotask.ADAPTER.normalise(delivery, tenant).events
    assert isinstance(event.payload, Meeting)
    assert event.payload.status is MeetingStatus.held


# -- HaloPSA: tickettype_id ---------------------------------------------------------------


def halo_ticket(tickettype: int, status: int, **fields: Any) -> dict[str, Any]:
    return purpose.halo_ticket_hook(
        2300,
        summary="Move backups to the cloud",
        tickettype_id=tickettype,
        status_id=status,
        agent_id=4,
        datecreated="2026-03-01T09:00:00",
        lastactiondate="2026-03-10T09:00:00",
        **fields,
    )


def test_halo_ticket_types_map_to_meetings_and_recommendations(tenant: Tenant) -> None:
    meeting = one(
        halopsa.ADAPTER,
        Source.halopsa,
        halo_ticket(
            purpose.HALO_QBR_TYPE, purpose.HALO_CANCELLED, deadlinedate="2026-03-12T10:00:00"
        ),
        tenant,
    ).payload
    assert isinstance(meeting, Meeting)
    assert (meeting.meeting_kind, meeting.status) == (MeetingKind.review, MeetingStatus.cancelled)
    assert meeting.starts_at == datetime(2026, 3, 12, 10, tzinfo=UTC)
    assert meeting.changed_at == datetime(2026, 3, 10, 9, tzinfo=UTC)

    declined = one(
        halopsa.ADAPTER,
        Source.halopsa,
        halo_ticket(purpose.HALO_RECOMMENDATION_TYPE, purpose.HALO_DECLINED),
        tenant,
    ).payload
    assert isinstance(declined, Recommendation)
    assert declined.status is RecommendationStatus.declined
    assert declined.answered_at == datetime(2026, 3, 10, 9, tzinfo=UTC)

    closed = one(halopsa.ADAPTER, Source.halopsa, halo_ticket(purpose.HALO_QBR_TYPE, 9), tenant)
    assert isinstance(closed.payload, Meeting) and closed.payload.status is MeetingStatus.held

    other = one(halopsa.ADAPTER, Source.halopsa, halo_ticket(1, 1), tenant).payload
    assert isinstance(other, Ticket)


# -- the tenant file ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "key", "named"),
    [
        ("autotask", "QBR queue", "'QBR queue' is not a queueID"),
        ("halopsa", "Reviews", "'Reviews' is not a tickettype_id"),
    ],
)
def test_ticket_purpose_keys_must_be_the_ids_the_vendor_sends(
    source: str, key: str, named: str
) -> None:
    data = purpose.purpose_data()
    data["mappings"] = {source: {"ticket_purpose": {"values": {key: "review_meeting"}}}}
    with pytest.raises(TenantConfigError, match=f"mappings.{source}.ticket_purpose: {named}"):
        parse_tenant(data)


def test_a_ticket_purpose_outside_the_vocabulary_is_refused() -> None:
    data = purpose.purpose_data()
    data["mappings"] = {"connectwise": {"ticket_purpose": {"values": {"QBR": "meeting"}}}}
    with pytest.raises(TenantConfigError, match="'meeting' is not a ticket_purpose"):
        parse_tenant(data)


def test_check_tenant_names_the_key_and_accepts_the_example(tmp_path: Path) -> None:
    bad = purpose.purpose_data()
    bad["mappings"]["halopsa"]["ticket_purpose"]["values"]["QBR"] = "review_meeting"
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(bad))
    result = CliRunner().invoke(app, ["check-tenant", str(tmp_path / "bad.yaml")])
    assert result.exit_code != 0
    assert "mappings.halopsa.ticket_purpose: 'QBR' is not a tickettype_id" in result.output
    (tmp_path / "good.yaml").write_text(yaml.safe_dump(purpose.purpose_data()))
    result = CliRunner().invoke(app, ["check-tenant", str(tmp_path / "good.yaml")])
    assert result.exit_code == 0, result.output
