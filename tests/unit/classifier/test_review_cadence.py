"""A client's review cadence (tenant file): a review that lapsed is a skipped meeting."""

from __future__ import annotations

import pytest

from services.classifier.domain.detectors import skipped_meeting
from services.classifier.domain.state import DAY, ClientState, MeetingRec
from services.events.policy import ClassifierPolicy
from services.events.tenant_people import Client

POLICY = ClassifierPolicy()


def state(cadence: float | None, *meetings: MeetingRec) -> ClientState:
    s = ClientState("acme")
    s.meetings = {m.ref: m for m in meetings}
    s.review_cadence_days = cadence
    return s


def review(ref: str, day: float, status: str = "held") -> MeetingRec:
    return MeetingRec(ref=ref, starts=day * DAY, updated=day * DAY, status=status, kind="review")


def test_a_lapsed_quarterly_review_is_skipped_past_the_cadence_and_its_grace() -> None:
    held = review("canonical:meeting:q1", 10)
    assert skipped_meeting(state(90, held), POLICY, (10 + 90 + 13) * DAY) == []
    (found,) = skipped_meeting(state(90, held), POLICY, (10 + 90 + 15) * DAY)
    assert found.ref == "canonical:meeting:q1" and found.at == 100 * DAY
    assert "due every 90 days" in found.note


def test_the_evidence_is_the_review_that_did_not_take_place() -> None:
    """A client-cancelled review with notice is no skip on its own; the lapse it leaves is,
    and it points at that review."""
    held = review("canonical:meeting:q1", 10)
    cancelled = MeetingRec(
        ref="canonical:meeting:q2",
        starts=95 * DAY,
        updated=60 * DAY,
        status="cancelled_by_client",
        kind="review",
        changed=60 * DAY,
    )
    found = skipped_meeting(state(90, held, cancelled), POLICY, 120 * DAY)
    assert [f.ref for f in found] == ["canonical:meeting:q2"]


def test_without_a_cadence_or_with_reviews_on_time_nothing_is_found() -> None:
    meetings = (review("canonical:meeting:q1", 10), review("canonical:meeting:q2", 100))
    assert skipped_meeting(state(None, meetings[0]), POLICY, 200 * DAY) == []
    assert skipped_meeting(state(90, *meetings), POLICY, 200 * DAY) == []
    other = MeetingRec(ref="canonical:meeting:m", starts=10 * DAY, updated=10 * DAY)
    assert skipped_meeting(state(30, other), POLICY, 200 * DAY) == []  # not a review


@pytest.mark.parametrize("days", [3, 400])
def test_the_tenant_file_bounds_the_cadence(days: int) -> None:
    lead = {"name": "A Lead", "email": "lead@example.com"}
    assert Client(id="acme", name="Acme", account_lead=lead, review_cadence=90).review_cadence == 90
    with pytest.raises(ValueError, match="review_cadence"):
        Client(id="acme", name="Acme", account_lead=lead, review_cadence=days)
