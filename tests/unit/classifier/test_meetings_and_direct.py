"""Who skipped a meeting, and who went around the service desk (issue 12, causes 5, 6).

The tenant maps its own statuses to `cancelled_by_msp` / `cancelled_by_client`: the
MSP's own cancellations never count as the client skipping. A co-managed client's own
IT staff entering tickets in the PSA, and a technician's own follow-up of earlier work,
are not the client going around the service desk.
"""

from __future__ import annotations

from typing import Any

from services.classifier.domain.detectors import direct_to_tech, skipped_meeting
from services.classifier.domain.engine import Engine
from services.classifier.domain.labels import ticket_initiator
from services.events.models import IdentityRole, MeetingStatus, Source
from services.events.outputs import Initiator
from services.events.policy import ClassifierPolicy
from services.events.tenant import Tenant, parse_tenant

from .conftest import Feed
from .factory import DESK, TECH, at, meeting, person, ticket, time_entry


def refs(found: list[Any]) -> list[str]:
    return sorted(f.ref for f in found)


def with_meetings(policy: ClassifierPolicy, **changes: Any) -> ClassifierPolicy:
    p = policy.detectors.skipped_meeting.model_copy(update=changes)
    return policy.model_copy(
        update={"detectors": policy.detectors.model_copy(update={"skipped_meeting": p})}
    )


# -- who cancelled -------------------------------------------------------------------


def test_the_msps_own_short_notice_cancellation_is_not_the_client_skipping(
    feed: Feed, tenant: Tenant
) -> None:
    feed(
        meeting("m1", at(10), status="cancelled_by_msp", changed=at(10, -2)),
        meeting("m2", at(20), status="cancelled_by_client", changed=at(20, -2)),
        # The status the tenant mapped says whose side it was, whatever the source adds.
        meeting(
            "m3",
            at(30),
            status="cancelled_by_client",
            changed=at(30, -2),
            cancelled_by="technician",
        ),
        meeting("m4", at(40), status="no_show", cancelled_by="technician"),  # the tech's no-show
    )
    assert refs(skipped_meeting(feed.state, tenant.classifier, feed.watermark)) == [
        "connectwise:schedule:m2",
        "connectwise:schedule:m3",
    ]


def test_the_msps_reschedules_do_not_add_up_to_a_skip(feed: Feed, tenant: Tenant) -> None:
    feed(
        meeting("m1", at(10), status="rescheduled_by_msp", changed=at(5)),
        meeting("m1", at(12), status="rescheduled_by_msp", changed=at(9)),
        meeting("m2", at(20), status="rescheduled_by_client", changed=at(15)),
        meeting("m2", at(22), status="rescheduled_by_client", changed=at(19)),
    )
    assert refs(skipped_meeting(feed.state, tenant.classifier, feed.watermark)) == [
        "connectwise:schedule:m2"
    ]


def test_unattributed_cancellations_follow_the_tenant(feed: Feed, tenant: Tenant) -> None:
    feed(meeting("m1", at(10), status="cancelled", changed=at(10, -2)))
    assert refs(skipped_meeting(feed.state, tenant.classifier, feed.watermark)) == [
        "connectwise:schedule:m1"
    ]
    msp = with_meetings(tenant.classifier, unattributed_cancellations="msp")
    assert skipped_meeting(feed.state, msp, feed.watermark) == []


def test_a_tenant_maps_its_statuses_to_whose_side_without_writing_a_default() -> None:
    t = parse_tenant(
        {
            "tenant": "msp",
            "clients": [{"id": "a", "name": "A", "account_lead": {"name": "L", "email": "l@x.y"}}],
            "mappings": {
                "connectwise": {
                    "meeting_status": {
                        "values": {
                            "Cancelled by us": "cancelled_by_msp",
                            "Abgesagt (Kunde)": "cancelled_by_client",
                        }
                    }
                },
                "halopsa": {"meeting_status": {"values": {"Abgesagt": "cancelled_by_client"}}},
            },
        }
    )
    assert t.map(Source.connectwise, "meeting_status", "cancelled by us") is (
        MeetingStatus.cancelled_by_msp
    )
    assert t.map(Source.connectwise, "meeting_status", "Firm") is MeetingStatus.scheduled
    assert t.map(Source.halopsa, "meeting_status", "Abgesagt") is MeetingStatus.cancelled_by_client
    # No shipped or written default: an unmapped status is a scheduled meeting, not an error.
    assert t.map(Source.halopsa, "meeting_status", "Geplant") is MeetingStatus.scheduled


# -- co-managed staff and technicians' follow-ups ----------------------------------


CO_MANAGED = person("jit", IdentityRole.co_managed_staff)


def test_co_managed_staff_entering_tickets_is_not_going_around_the_desk(
    feed: Feed, tenant: Tenant
) -> None:
    feed(
        ticket("1", at(0), channel="unknown", entered_by=CO_MANAGED),
        ticket("2", at(1), entered_by=CO_MANAGED, addressed_to=TECH),
        ticket("3", at(2), channel="unknown", entered_by=TECH),  # a client call taken by a tech
    )
    assert refs(direct_to_tech(feed.state, tenant.classifier, feed.watermark)) == [
        "connectwise:ticket:3"
    ]
    assert ticket_initiator(feed.state.tickets["connectwise:ticket:1"]) == (
        Initiator.service_desk,
        "initiator:co_managed_staff",
    )


def test_technicians_follow_ups_are_not_direct_requests(feed: Feed, tenant: Tenant) -> None:
    feed(
        ticket("1", at(0), entered_by=DESK, summary="Printer offline"),
        ticket("2", at(1), channel="unknown", entered_by=TECH, follows="1"),  # linked
        ticket("3", at(2), channel="follow_up", entered_by=TECH),  # the tenant's mapped source
        ticket("4", at(3), channel="unknown", entered_by=TECH, summary="Follow-up: printer driver"),
        ticket("5", at(4), channel="unknown", entered_by=TECH, summary="Nachtrag zu #1"),
        ticket("6", at(5), channel="unknown", entered_by=TECH, summary="Printer offline again"),
    )
    assert refs(direct_to_tech(feed.state, tenant.classifier, feed.watermark)) == [
        "connectwise:ticket:6"
    ]
    assert {ticket_initiator(feed.state.tickets[f"connectwise:ticket:{n}"]) for n in "2345"} == {
        (Initiator.service_desk, "initiator:follow_up")
    }


def test_a_technicians_next_step_of_a_desk_ticket_is_not_a_direct_request(
    feed: Feed, tenant: Tenant
) -> None:
    """A technician opening the next step of a request the client raised through the
    desk (naming its subject, reporting no failure, within `next_step_days`) continues
    desk work. A technician-entered failure report, a ticket naming nothing the desk saw,
    one addressed to the technician, or one past the days, stays direct-to-tech."""
    feed(
        ticket("1", at(0), entered_by=DESK, summary="Hafenbüro WLAN langsam"),
        ticket("2", at(2), channel="unknown", entered_by=TECH,
               summary="Hafenbüro: zweiten Access Point montieren"),
        ticket("3", at(3), channel="unknown", entered_by=TECH, summary="Hafenbüro Drucker defekt"),
        ticket("4", at(4), channel="unknown", entered_by=TECH, summary="Install the DATEV update"),
        ticket("5", at(5), channel="unknown", entered_by=DESK, addressed_to=TECH,
               summary="Hafenbüro: Telefon umstellen"),
        ticket("6", at(9), channel="unknown", entered_by=TECH,
               summary="Hafenbüro: Access Points beschriften"),
        ticket("7", at(20), entered_by=DESK, summary="Rechner in der Buchhaltung langsam"),
        ticket("8", at(22), channel="unknown", entered_by=TECH,
               summary="Arbeitsspeicher aufrüsten (16 GB)"),  # one topic: performance
    )  # fmt: skip
    assert refs(direct_to_tech(feed.state, tenant.classifier, feed.watermark)) == [
        "connectwise:ticket:3",
        "connectwise:ticket:4",
        "connectwise:ticket:5",
        "connectwise:ticket:6",  # 9 days after the desk ticket; ticket 2 is no desk ticket
    ]
    assert feed.state.tickets["connectwise:ticket:8"].follows == "connectwise:ticket:7"
    next_step = feed.state.tickets["connectwise:ticket:2"]
    assert next_step.follows == "connectwise:ticket:1"
    assert ticket_initiator(next_step) == (Initiator.service_desk, "initiator:follow_up")

    detectors = tenant.classifier.detectors
    never = detectors.direct_to_tech.model_copy(update={"next_step_days": 0})
    classifier = tenant.classifier.model_copy(
        update={"detectors": detectors.model_copy(update={"direct_to_tech": never})}
    )
    strict = Feed(Engine(tenant.model_copy(update={"classifier": classifier})))
    strict(
        ticket("1", at(0), entered_by=DESK, summary="Hafenbüro WLAN langsam"),
        ticket("2", at(2), channel="unknown", entered_by=TECH,
               summary="Hafenbüro: zweiten Access Point montieren"),
    )  # fmt: skip
    assert refs(direct_to_tech(strict.state, classifier, strict.watermark)) == [
        "connectwise:ticket:2"
    ]


def test_planned_work_a_technician_opens_or_logs_is_not_a_direct_request(
    feed: Feed, tenant: Tenant
) -> None:
    """The MSP's own maintenance, reviews and projects: a technician opening the ticket
    (a firmware update) or logging the time on a charge code under a maintenance work
    type is its plan, not a client who went around the desk. Unplanned work entered or
    logged the same way still is."""
    feed(
        ticket("1", at(0), nature="maintenance", channel="unknown", entered_by=TECH),
        ticket("2", at(1), nature="project", channel="unknown", entered_by=TECH),
        ticket("3", at(2), nature="incident", channel="unknown", entered_by=TECH),
        time_entry("t1", at(3), 3.0, nature="maintenance"),  # on a charge code
        time_entry("t2", at(4), 1.0, nature="unknown"),
    )
    assert refs(direct_to_tech(feed.state, tenant.classifier, feed.watermark)) == [
        "connectwise:ticket:3",
        "connectwise:time:t2",
    ]
    assert ticket_initiator(feed.state.tickets["connectwise:ticket:1"]) == (
        Initiator.msp_scheduled,
        "initiator:technician_planned",
    )
    assert feed.work["connectwise:time:t1"] == "proactive"


def test_follow_up_words_are_the_tenants(tenant: Tenant) -> None:
    policy = tenant.classifier.detectors.direct_to_tech.model_copy(
        update={"follow_up_terms": ["wv"]}
    )
    classifier = tenant.classifier.model_copy(
        update={
            "detectors": tenant.classifier.detectors.model_copy(update={"direct_to_tech": policy})
        }
    )
    feed = Feed(Engine(tenant.model_copy(update={"classifier": classifier})))
    feed(
        ticket("1", at(0), channel="unknown", entered_by=TECH, summary="WV: Druckertreiber"),
        ticket("2", at(1), channel="unknown", entered_by=TECH, summary="Follow-up: printer"),
    )
    assert refs(direct_to_tech(feed.state, classifier, feed.watermark)) == ["connectwise:ticket:2"]


def test_a_tenant_names_a_co_managed_clients_it_staff() -> None:
    t = parse_tenant(
        {
            "tenant": "msp",
            "clients": [
                {
                    "id": "a",
                    "name": "A",
                    "account_lead": {"name": "L", "email": "l@x.y"},
                    "email_domains": ["a.example"],
                    "co_managed_staff": {
                        "emails": ["it@a.example"],
                        "identities": {"connectwise": ["jit"]},
                    },
                }
            ],
            # Their PSA login was also listed as a technician: they are still the client's.
            "technicians": [{"name": "J", "identities": {"connectwise": ["jit"]}}],
        }
    )
    for ref in ("jit", "IT@a.example"):
        identity = t.identity(Source.connectwise, ref)
        assert identity is not None and identity.role is IdentityRole.co_managed_staff, ref
    other = t.identity(Source.connectwise, "bob@a.example")
    assert other is not None and other.role is IdentityRole.client_contact
