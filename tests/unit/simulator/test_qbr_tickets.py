"""Autotask and HaloPSA clients whose business reviews are PSA tickets (a QBR queue, a QBR
ticket type): the bodies the adapters read back are review meetings of the status the
persona played, the vendor APIs hold them for the poller, and the skipped reviews in the
truth (the persona's intent) are exactly those the bodies bear out."""

from __future__ import annotations

from collections import defaultdict

import pytest

from services.events.models import CanonicalEvent, Meeting, MeetingKind, Source
from services.events.outputs import Behaviour
from services.events.tenant import Tenant, parse_tenant
from services.ingest.adapters import ADAPTERS
from services.ingest.adapters.base import Delivery
from services.poll.domain import deliveries
from services.poll.domain.specs import spec_for
from services.scenario.model import Meeting as PlayedMeeting
from services.scenario.simulate import Scenario, SimulationConfig, simulate
from services.scenario.vendors import reviews
from tests.unit.scenario_reference import normalise_all, read

CONFIG = SimulationConfig(clients=20, days=90, seed=1, max_endpoints=40)
ON_TICKETS = (Source.autotask, Source.halopsa)


@pytest.fixture(scope="module")
def scenario() -> Scenario:
    return simulate(CONFIG)


@pytest.fixture(scope="module")
def tenant(scenario: Scenario) -> Tenant:
    return parse_tenant(scenario.tenant)


def qbr_tickets(scenario: Scenario) -> list[PlayedMeeting]:
    return [m for m in scenario.records.meetings if m.source in ON_TICKETS]


def played_status(meeting: PlayedMeeting) -> str:
    """The status the persona's last change left, who cancelled included."""
    if not meeting.changes:
        return "scheduled"
    last = meeting.changes[-1]
    if str(last.status) == "cancelled":
        return "cancelled_by_client" if last.by_client else "cancelled_by_msp"
    return str(last.status)


def test_some_clients_keep_their_reviews_on_tickets_in_both_psas(scenario: Scenario) -> None:
    played = qbr_tickets(scenario)
    assert {m.source for m in played} == set(ON_TICKETS)
    assert all(m.kind is MeetingKind.review and ":ticket:" in m.ref for m in played)
    # The other Autotask and HaloPSA clients' reviews stay in the MSP's calendar.
    calendar = [m for m in scenario.records.meetings if m.client.psa in ON_TICKETS]
    assert any(m.source is Source.canonical and m.kind is MeetingKind.review for m in calendar)


def test_the_webhooks_are_review_meetings_of_the_status_played(
    scenario: Scenario, tenant: Tenant
) -> None:
    latest: dict[str, CanonicalEvent] = {}
    for event in normalise_all(tenant, scenario.deliveries):
        ref = str(event.ref)
        if ref not in latest or event.occurred_at >= latest[ref].occurred_at:
            latest[ref] = event
    for played in qbr_tickets(scenario):
        event = latest[played.ref]
        assert isinstance(event.payload, Meeting), played.ref
        assert event.payload.meeting_kind is MeetingKind.review
        assert event.client_id == played.client.id
        assert str(event.payload.status) == played_status(played), played.ref


def test_the_api_holds_them_as_tickets_the_poller_makes_meetings_of(tenant: Tenant) -> None:
    scenario = simulate(SimulationConfig(**{**CONFIG.__dict__, "api": True}))
    queue, kind = reviews.AUTOTASK_QBR_QUEUE, reviews.HALO_QBR_TYPE
    polled = [
        a
        for a in scenario.api
        if a["entity"] == "Tickets"
        and (a["body"].get("queueID") == queue or a["body"].get("tickettype_id") == kind)
    ]
    assert {a["source"] for a in polled} == {"autotask", "halopsa"}
    for line in polled:
        spec = spec_for(line["source"], "Tickets")
        out = (
            deliveries.autotask_ticket(spec, line["body"])
            if line["source"] == "autotask"
            else deliveries.halo_ticket(spec, line["body"])
        )
        delivery = Delivery(source=out.route, body=out.body, headers={})
        (event,) = ADAPTERS[out.route].normalise(delivery, tenant).events
        assert isinstance(event.payload, Meeting)


def test_skipped_reviews_in_the_truth_are_what_the_bodies_bear_out(
    scenario: Scenario, tenant: Tenant
) -> None:
    events = normalise_all(tenant, scenario.deliveries)
    found = read(events, max(e.occurred_at for e in events)).evidence
    refs = {m.ref for m in qbr_tickets(scenario)}
    meant: dict[str, set[str]] = defaultdict(set)
    for item in scenario.records.evidence:
        if item.behaviour is Behaviour.skipped_meeting and item.refs[0] in refs:
            meant[item.client].add(item.refs[0])
    read_back = {
        client: evidence & refs
        for (client, behaviour), evidence in found.items()
        if behaviour is Behaviour.skipped_meeting and evidence & refs
    }
    assert meant  # the seed has reviews skipped on tickets
    assert read_back == meant
