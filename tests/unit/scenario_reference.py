"""A reference reading of the domain rules over canonical events, for the simulator's tests.

It applies the labelling rules and the evidence rules of issue 4's brief, as
issue 12 corrected them, to what the adapters make of a scenario's deliveries,
independently of how the simulator decided them, so a test can check that the
vendor bodies say what the truth claims. It is not the classifier: no windows,
episodes or state. Late reporting is left out of the exact comparison: PSA
asset ids never equal RMM device ids (issue 12, rule 3), and the canonical
ticket carries no host name yet, so a reading of canonical events cannot pair
a ticket with its device's alert (tests/unit/simulator/ checks those records).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from services.events.models import (
    CanonicalEvent,
    Channel,
    ChargeTo,
    DeviceChange,
    DeviceChangeKind,
    IdentityRole,
    Meeting,
    MeetingStatus,
    Nature,
    Priority,
    Recommendation,
    RecommendationStatus,
    RmmAlert,
    Source,
    Ticket,
    TimeEntry,
    Visit,
)
from services.events.outputs import Behaviour, Initiator, WorkClass
from services.events.tenant import Tenant
from services.ingest.adapters import ADAPTERS
from services.ingest.adapters.base import Delivery
from services.scenario.habits.catalogue import NEXT_STEPS

SIGNING_KEY = b"reference-signing-key"
NEXT_STEP_SUMMARIES = frozenset(NEXT_STEPS.values())
DIRECT = (Channel.direct_email, Channel.direct_phone, Channel.direct_chat)
# A ticket about a device: names it, its type or the starter it is for (issue 12, rule 4).
DEVICE_WORDS = ("laptop", "workstation", "monitor", "printer", "access point", "new starter")


def normalise_all(
    tenant: Tenant, deliveries: list[dict[str, Any]], *, in_delivery_order: bool = False
) -> list[CanonicalEvent]:
    """Every delivery authenticated and normalised as ingest would; retries deduplicated.
    In event-time order, or with `in_delivery_order` in the order they first arrived."""
    events: dict[str, CanonicalEvent] = {}
    for item in deliveries:
        source = Source(item["source"])
        body = item["body"].encode()
        adapter = ADAPTERS[source]
        signed = {k.lower(): v for k, v in adapter.sign(body, tenant, SIGNING_KEY).items()}
        delivery = Delivery(source=source, body=body, headers={**item["headers"], **signed})
        adapter.authenticate(delivery, tenant, [SIGNING_KEY])
        for event in adapter.normalise(delivery, tenant).events:
            events.setdefault(event.event_id, event)
    if in_delivery_order:
        return list(events.values())
    return sorted(events.values(), key=lambda e: (e.occurred_at, e.event_id))


def initiator(ticket: Ticket) -> Initiator:
    entered = ticket.entered_by.role if ticket.entered_by else IdentityRole.unknown
    if (
        ticket.channel is Channel.monitoring
        or entered is IdentityRole.automation
        or ticket.rmm_alert_id
    ):
        return Initiator.rmm
    if ticket.channel in (Channel.scheduled, Channel.internal):
        return Initiator.msp_scheduled
    if (ticket.summary or "").startswith("Follow-up of #"):
        return Initiator.msp_scheduled  # a technician's own follow-up (issue 12, rule 6)
    if ticket.summary in NEXT_STEP_SUMMARIES:
        return Initiator.service_desk  # a technician's next step of a client's desk ticket
    if ticket.channel in DIRECT or entered is IdentityRole.technician or ticket.addressed_to:
        return Initiator.direct_to_tech
    return Initiator.service_desk


def nature_class(nature: Nature, who: Initiator) -> WorkClass:
    if nature in (Nature.incident, Nature.problem):
        return WorkClass.reactive
    if nature in (Nature.maintenance, Nature.review, Nature.project):
        return WorkClass.proactive
    return WorkClass.proactive if who is Initiator.msp_scheduled else WorkClass.reactive


@dataclass
class Reading:
    work: dict[str, WorkClass]
    evidence: dict[tuple[str, Behaviour], set[str]]


def read(events: list[CanonicalEvent], as_of: datetime) -> Reading:
    tickets: dict[str, tuple[CanonicalEvent, Ticket]] = {}
    for event in events:
        if isinstance(event.payload, Ticket):
            tickets[str(event.ref)] = (event, event.payload)  # the latest version wins
    work: dict[str, WorkClass] = {}
    evidence: dict[tuple[str, Behaviour], set[str]] = defaultdict(set)

    def ticket_class(source: Source, ticket_id: str | None) -> WorkClass | None:
        found = tickets.get(f"{source}:ticket:{ticket_id}")
        if found is None:
            return None
        return nature_class(found[1].nature, initiator(found[1]))

    for ref, (event, ticket) in tickets.items():
        who = initiator(ticket)
        if event.client_known:
            work[ref] = nature_class(ticket.nature, who)
        if who is Initiator.direct_to_tech and event.client_known:
            evidence[(event.client_id, Behaviour.direct_to_tech)].add(ref)
    for event in events:
        payload = event.payload
        ref = str(event.ref)
        if isinstance(payload, TimeEntry):
            found = ticket_class(event.source, payload.ticket_id) if payload.ticket_id else None
            work[ref] = found or nature_class(payload.nature, Initiator.unknown)
            if payload.charge_to is ChargeTo.charge_code or payload.ticket_id is None:
                evidence[(event.client_id, Behaviour.direct_to_tech)].add(ref)
        elif isinstance(payload, Visit):
            found = ticket_class(event.source, payload.ticket_id) if payload.ticket_id else None
            if found is None:
                booked = payload.booked_at or payload.starts_at
                ahead = payload.starts_at - booked >= timedelta(hours=24)
                found = WorkClass.proactive if ahead else WorkClass.reactive
            work[ref] = found
    _late_reporting(events, tickets, evidence)
    _skipped_meetings(events, evidence)
    _ignored_recommendations(events, as_of, evidence)
    _unannounced_changes(events, tickets, evidence)
    return Reading(work, evidence)


def _late_reporting(
    events: list[CanonicalEvent],
    tickets: dict[str, tuple[CanonicalEvent, Ticket]],
    evidence: dict[tuple[str, Behaviour], set[str]],
) -> None:
    alerts: dict[str, list[RmmAlert]] = defaultdict(list)
    alert_times: dict[int, datetime] = {}
    for event in events:
        if isinstance(event.payload, RmmAlert) and event.payload.status == "triggered":
            alerts[event.client_id].append(event.payload)
            alert_times[id(event.payload)] = event.occurred_at
    client_tickets: dict[str, list[Ticket]] = defaultdict(list)
    for event, ticket in tickets.values():
        client_tickets[event.client_id].append(ticket)
    for ref, (event, ticket) in tickets.items():
        if initiator(ticket) not in (Initiator.service_desk, Initiator.direct_to_tech):
            continue
        created = ticket.created_at
        late = False
        devices = {d.casefold() for d in ticket.device_ids}
        for alert in alerts[event.client_id]:
            seen = alert_times[id(alert)]
            if not created - timedelta(days=7) <= seen <= created - timedelta(hours=4):
                continue
            names = {(alert.device_id or "").casefold(), (alert.device_name or "").casefold()}
            if devices & names:  # the same device; another one at the site is no lead
                late = True
        if ticket.issue_started_at and created - ticket.issue_started_at >= timedelta(hours=24):
            late = True
        if ticket.priority is Priority.critical:
            earlier = [
                t.created_at for t in client_tickets[event.client_id] if t.created_at < created
            ]
            if not earlier or created - max(earlier) >= timedelta(days=14):
                late = True
        if late:
            evidence[(event.client_id, Behaviour.late_reporting)].add(ref)


def _skipped_meetings(
    events: list[CanonicalEvent], evidence: dict[tuple[str, Behaviour], set[str]]
) -> None:
    reschedules: dict[str, int] = defaultdict(int)
    for event in events:
        meeting = event.payload
        if not isinstance(meeting, Meeting):
            continue
        ref = str(event.ref)
        by_client = meeting.cancelled_by is IdentityRole.client_contact
        skipped = meeting.status is MeetingStatus.no_show
        if meeting.status is MeetingStatus.cancelled and by_client and meeting.changed_at:
            skipped = meeting.starts_at - meeting.changed_at < timedelta(hours=24)
        if meeting.status is MeetingStatus.rescheduled and by_client:
            reschedules[ref] += 1
            skipped = reschedules[ref] == 2
        if skipped:
            evidence[(event.client_id, Behaviour.skipped_meeting)].add(ref)


def _ignored_recommendations(
    events: list[CanonicalEvent],
    as_of: datetime,
    evidence: dict[tuple[str, Behaviour], set[str]],
) -> None:
    latest: dict[str, tuple[CanonicalEvent, Recommendation]] = {}
    for event in events:
        if isinstance(event.payload, Recommendation):
            latest[str(event.ref)] = (event, event.payload)
    for ref, (event, rec) in latest.items():
        due = rec.due_at or (rec.presented_at or event.occurred_at) + timedelta(days=30)
        if rec.status is RecommendationStatus.declined or (
            rec.status is RecommendationStatus.open and due < as_of
        ):
            evidence[(event.client_id, Behaviour.ignored_recommendation)].add(ref)


def _unannounced_changes(
    events: list[CanonicalEvent],
    tickets: dict[str, tuple[CanonicalEvent, Ticket]],
    evidence: dict[tuple[str, Behaviour], set[str]],
) -> None:
    announcing: dict[str, list[tuple[datetime, str]]] = defaultdict(list)
    for event, ticket in tickets.values():
        if ticket.nature in (Nature.request, Nature.change, Nature.project):
            announcing[event.client_id].append((ticket.created_at, (ticket.summary or "").lower()))
    for event in events:
        change = event.payload
        if not isinstance(change, DeviceChange) or change.change not in (
            DeviceChangeKind.new_device,
            DeviceChangeKind.new_remote_tool,
        ):
            continue
        at = event.occurred_at
        name = (change.device_name or "").lower()
        if not any(
            at - timedelta(days=7) <= t <= at
            and ((name and name in summary) or any(w in summary for w in DEVICE_WORDS))
            for t, summary in announcing[event.client_id]
        ):
            evidence[(event.client_id, Behaviour.unannounced_change)].add(str(event.ref))
