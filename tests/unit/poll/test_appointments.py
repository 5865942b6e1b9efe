"""Polled Autotask and HaloPSA appointments: which are meetings (and of what kind and
status), which stay visits, and whose client they are."""

from __future__ import annotations

import json
from typing import Any

import pytest

from services.events.models import CanonicalEvent, MeetingKind, MeetingStatus
from services.events.tenant import Tenant
from services.poll.domain import canonical
from services.poll.domain.canonical import Links
from services.poll.domain.specs import spec_for
from tests.support import purpose


@pytest.fixture(scope="module")
def tenant() -> Tenant:
    return purpose.purpose_tenant()


def event_of(body: bytes, tenant: Tenant) -> CanonicalEvent:
    """The posted canonical event as ingest would accept it."""
    data = json.loads(body)
    return CanonicalEvent.model_validate(
        {**data, "tenant": tenant.tenant, "received_at": data["occurred_at"]}
    )


def autotask(title: str, **fields: Any) -> dict[str, Any]:
    return {
        "id": 880,
        "title": title,
        "resourceID": 29682844,
        "startDateTime": "2026-03-10T15:00:00.000Z",
        "endDateTime": "2026-03-10T16:00:00.000Z",
        "createDateTime": "2026-02-20T09:00:00.000Z",
        "updateDateTime": "2026-03-09T17:00:00.000Z",
        **fields,
    }


def polled_autotask(record: dict[str, Any], tenant: Tenant) -> CanonicalEvent:
    spec = spec_for("autotask", "Appointments")
    return event_of(canonical.autotask_appointment(tenant, spec, record, Links()).body, tenant)


def test_an_autotask_appointment_titled_qbr_is_a_review_of_the_client_it_names(
    tenant: Tenant,
) -> None:
    event = polled_autotask(autotask("QBR - Acme Dental"), tenant)
    p = event.payload
    assert p.kind == "meeting"
    assert (p.meeting_kind, p.status) == (MeetingKind.review, MeetingStatus.scheduled)
    assert event.client_id == "acme"  # Autotask appointments carry no company
    assert p.organiser is not None and p.organiser.id == "29682844"


def test_a_cancelled_title_is_a_cancellation_noticed_at_the_last_update(tenant: Tenant) -> None:
    p = polled_autotask(autotask("CANCELLED: Globex Logistics business review"), tenant).payload
    assert (p.meeting_kind, p.status) == (MeetingKind.review, MeetingStatus.cancelled)
    assert p.changed_at is not None and p.changed_at.isoformat() == "2026-03-09T17:00:00+00:00"


def test_an_ordinary_autotask_appointment_is_a_plain_meeting_of_no_known_client(
    tenant: Tenant,
) -> None:
    event = polled_autotask(autotask("Dentist"), tenant)
    assert event.payload.meeting_kind is MeetingKind.meeting
    assert event.client_id == "unknown:autotask:none"


def halo(**fields: Any) -> dict[str, Any]:
    return {
        "id": 61,
        "subject": "Quarterly review",
        "client_id": 12,
        "agent_id": 4,
        "start_date": "2026-03-10T15:00:00",
        "end_date": "2026-03-10T16:00:00",
        "datecreated": "2026-02-20T09:00:00",
        "last_update": "2026-03-10T17:00:00",
        **fields,
    }


def polled_halo(record: dict[str, Any], tenant: Tenant) -> CanonicalEvent:
    spec = spec_for("halopsa", "Appointment")
    return event_of(canonical.halo_appointment(tenant, spec, record, Links()).body, tenant)


def test_a_halo_appointment_of_a_review_type_is_a_meeting_held_once_complete(
    tenant: Tenant,
) -> None:
    event = polled_halo(
        halo(appointment_type_id=purpose.HALO_REVIEW_APPOINTMENT, complete_status=1), tenant
    )
    p = event.payload
    assert p.kind == "meeting"
    assert (p.meeting_kind, p.status) == (MeetingKind.review, MeetingStatus.held)
    assert event.client_id == "acme"
    assert str(event.ref) == "halopsa:appointment:61"


def test_a_halo_review_by_type_name_and_a_deleted_one_is_cancelled(tenant: Tenant) -> None:
    p = polled_halo(halo(appointment_type_name="QBR", deleted=True), tenant).payload
    assert (p.kind, p.meeting_kind, p.status) == ("meeting", MeetingKind.review, "cancelled")


def test_an_onsite_halo_appointment_stays_a_visit(tenant: Tenant) -> None:
    p = polled_halo(
        halo(appointment_type_id=3, appointment_type_name="Onsite", is_onsite=True), tenant
    ).payload
    assert p.kind == "visit"
    assert p.location == "onsite"


def test_halos_unset_completion_date_is_no_completion(tenant: Tenant) -> None:
    record = halo(appointment_type_id=purpose.HALO_REVIEW_APPOINTMENT)
    unset = polled_halo({**record, "complete_date": "1900-01-01T00:00:00"}, tenant).payload
    assert unset.status is MeetingStatus.scheduled
    done = polled_halo({**record, "complete_date": "2026-03-10T16:05:00"}, tenant).payload
    assert done.status is MeetingStatus.held


@pytest.mark.parametrize(
    ("title", "kind"),
    [
        ("QBR call with Acme Dental", MeetingKind.review),  # the earliest key in the title
        ("Call about the QBR", MeetingKind.call),
        ("Quarterly Business Review", MeetingKind.review),
        ("Acme Dental: Business Review (Q1)", MeetingKind.review),
        ("Recall the printers", MeetingKind.meeting),  # whole words only: no "call"
    ],
)
def test_an_autotask_title_is_read_by_whole_words_earliest_first(
    title: str, kind: MeetingKind, tenant: Tenant
) -> None:
    assert polled_autotask(autotask(title), tenant).payload.meeting_kind is kind
