"""Labelling rules: the two axes of domain.md, and the rule that decided each label."""

from __future__ import annotations

import pytest

from services.classifier.domain.labels import class_of_nature, label_ticket, ticket_initiator
from services.classifier.domain.state import TicketRec
from services.events.outputs import Initiator, WorkClass

from .conftest import Feed
from .factory import DESK, RMM, TECH, at, ticket, time_entry, visit


def rec(**fields: object) -> TicketRec:
    return TicketRec(ref="connectwise:ticket:1", created=0.0, updated=0.0, **fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("fields", "initiator"),
    [
        ({"channel": "monitoring"}, Initiator.rmm),
        ({"rmm_alert_id": "a-1", "channel": "email"}, Initiator.rmm),
        ({"entered_by_role": "automation", "channel": "unknown"}, Initiator.rmm),
        ({"entered_by_role": "automation", "channel": "scheduled"}, Initiator.msp_scheduled),
        ({"channel": "internal", "entered_by_role": "technician"}, Initiator.msp_scheduled),
        ({"channel": "direct_email"}, Initiator.direct_to_tech),
        ({"channel": "email", "addressed_to_role": "technician"}, Initiator.direct_to_tech),
        ({"channel": "phone", "entered_by_role": "technician"}, Initiator.direct_to_tech),
        ({"channel": "phone", "entered_by_role": "service_desk"}, Initiator.service_desk),
        ({"channel": "portal", "entered_by_role": "client_contact"}, Initiator.service_desk),
        ({"channel": "unknown", "entered_by_role": "client_contact"}, Initiator.service_desk),
        ({}, Initiator.unknown),
        # A co-managed client's IT staff entering a ticket: their intake path.
        ({"entered_by_role": "co_managed_staff", "channel": "unknown"}, Initiator.service_desk),
        (
            {"entered_by_role": "co_managed_staff", "addressed_to_role": "technician"},
            Initiator.service_desk,
        ),
        # A technician's follow-up: mapped source, link, or its summary says so.
        ({"channel": "follow_up", "entered_by_role": "technician"}, Initiator.service_desk),
        (
            {"follows": "connectwise:ticket:0", "entered_by_role": "technician"},
            Initiator.service_desk,
        ),
        (
            {"summary": "Suivi: imprimante", "entered_by_role": "technician", "channel": "phone"},
            Initiator.service_desk,
        ),
        # ... but a client who writes "follow-up" to a technician's own mailbox went direct,
        # and a client's linked ticket addressed to a technician is still addressed to them.
        ({"channel": "direct_email", "summary": "Follow-up"}, Initiator.direct_to_tech),
        (
            {
                "follows": "connectwise:ticket:0",
                "entered_by_role": "client_contact",
                "addressed_to_role": "technician",
            },
            Initiator.direct_to_tech,
        ),
    ],
)
def test_ticket_initiator(fields: dict[str, object], initiator: Initiator) -> None:
    assert ticket_initiator(rec(**fields))[0] is initiator


@pytest.mark.parametrize(
    ("nature", "initiator", "expected"),
    [
        ("incident", Initiator.rmm, WorkClass.reactive),  # found first, still break/fix
        ("problem", Initiator.service_desk, WorkClass.reactive),
        ("maintenance", Initiator.service_desk, WorkClass.proactive),
        ("review", Initiator.msp_scheduled, WorkClass.proactive),
        ("project", Initiator.direct_to_tech, WorkClass.proactive),
        ("request", Initiator.service_desk, WorkClass.reactive),
        ("change", Initiator.msp_scheduled, WorkClass.proactive),
        ("change", Initiator.direct_to_tech, WorkClass.reactive),
        ("unknown", Initiator.msp_scheduled, WorkClass.proactive),
        ("unknown", Initiator.service_desk, WorkClass.reactive),
    ],
)
def test_class_of_nature(nature: str, initiator: Initiator, expected: WorkClass) -> None:
    assert class_of_nature(nature, initiator)[0] is expected


def test_label_names_the_deciding_rule() -> None:
    t = rec(nature="unknown", channel="scheduled")
    label_ticket(t)
    assert (t.work_class, t.initiator, t.rule) == (
        "proactive",
        "msp_scheduled",
        "initiator:msp_channel",
    )
    t = rec(nature="incident", channel="direct_phone")
    label_ticket(t)
    assert (t.work_class, t.rule) == ("reactive", "nature:break_fix")


def test_time_and_visits_take_their_tickets_class(feed: Feed) -> None:
    feed(
        ticket("100", at(0), nature="maintenance", channel="scheduled", entered_by=RMM),
        time_entry("t1", at(0, 2), 1.5, ticket_id="100"),
        visit("v1", at(3), booked=at(2, 23), ticket_id="100"),  # booked late, still maintenance
    )
    assert feed.work == {
        "connectwise:ticket:100": "proactive",
        "connectwise:time:t1": "proactive",
        "connectwise:schedule:v1": "proactive",
    }


def test_work_before_its_ticket_is_relabelled_when_the_ticket_arrives(feed: Feed) -> None:
    feed(time_entry("t1", at(0, 2), 1.0, ticket_id="100"))
    assert feed.work["connectwise:time:t1"] == "reactive"  # nothing known yet
    feed(ticket("100", at(0), nature="maintenance", channel="scheduled", entered_by=RMM))
    assert feed.work["connectwise:time:t1"] == "proactive"


def test_visit_without_ticket_judged_by_booking_lead_time(feed: Feed) -> None:
    feed(
        visit("ahead", at(5), booked=at(1)),
        visit("sameday", at(5, 4), booked=at(5, 1)),
    )
    assert feed.work["connectwise:schedule:ahead"] == "proactive"
    assert feed.work["connectwise:schedule:sameday"] == "reactive"


def test_time_without_ticket_uses_its_work_type(feed: Feed) -> None:
    feed(
        time_entry("t1", at(1), 2, nature="maintenance"),
        time_entry("t2", at(1), 2, nature="incident"),
    )
    assert feed.work["connectwise:time:t1"] == "proactive"
    assert feed.work["connectwise:time:t2"] == "reactive"


def test_partial_update_does_not_erase_known_fields(feed: Feed) -> None:
    feed(ticket("7", at(0), nature="maintenance", channel="scheduled", entered_by=DESK))
    # An Autotask-style partial update: unknown picklists, no identity.
    feed(
        ticket(
            "7",
            at(0),
            nature="unknown",
            channel="unknown",
            entered_by=None,
            occurred=at(1),
            action="updated",  # type: ignore[arg-type]
        )
    )
    t = feed.state.tickets["connectwise:ticket:7"]
    assert (t.nature, t.channel, t.work_class) == ("maintenance", "scheduled", "proactive")


def test_older_update_arriving_late_does_not_override_newer(feed: Feed) -> None:
    feed(
        ticket("8", at(0), priority="high", occurred=at(2), action="updated"),  # type: ignore[arg-type]
        ticket("8", at(0), priority="low", occurred=at(1), action="updated"),  # type: ignore[arg-type]
    )
    assert feed.state.tickets["connectwise:ticket:8"].priority == "high"


def test_technician_entered_ticket_is_direct(feed: Feed) -> None:
    feed(ticket("9", at(0), channel="phone", entered_by=TECH))
    assert feed.state.tickets["connectwise:ticket:9"].initiator == "direct_to_tech"
