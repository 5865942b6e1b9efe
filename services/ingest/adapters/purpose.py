"""Tickets that are review meetings or recommendations, by the tenant's `ticket_purpose`.

MSPs keep QBRs on a board / queue / ticket type of their PSA, and vCIO recommendations
on another. The tenant maps those keys (ConnectWise `board.name`, Autotask `queueID` or
`type:<ticketType>`, HaloPSA `tickettype_id`) to `review_meeting` or `recommendation`
(services/events/tenant_purpose.py); every adapter's ticket path asks `purpose_of` and,
for such a ticket, builds the payload here instead of a Ticket. The event keeps the
ticket as its record (`<source>:ticket:<id>`), so a webhook and a poll of one version
are still one event.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from services.events.models import (
    Action,
    Identity,
    Meeting,
    MeetingKind,
    MeetingStatus,
    Recommendation,
    RecommendationStatus,
    Source,
)
from services.events.tenant import Tenant
from services.events.tenant_purpose import TicketPurpose


def purpose_of(tenant: Tenant, source: Source, keys: Iterable[str | None]) -> TicketPurpose:
    """The first purpose other than `ticket` that one of the ticket's keys maps to."""
    for key in keys:
        if key is None:
            continue
        purpose: TicketPurpose = tenant.map(source, "ticket_purpose", key)
        if purpose is not TicketPurpose.ticket:
            return purpose
    return TicketPurpose.ticket


@dataclass(frozen=True)
class TicketFacts:
    """What a meeting or a recommendation needs of a ticket, read by its adapter."""

    source: Source
    ticket_id: str
    action: Action
    created_at: datetime
    summary: str | None = None
    status: str | None = None  # the status name or id, as the tenant's picklists key it
    due_at: datetime | None = None  # the due / required / deadline date
    starts_at: datetime | None = None  # a scheduled start, where the ticket has one
    closed_at: datetime | None = None
    updated_at: datetime | None = None  # the last change: a cancellation's notice time
    organiser: Identity | None = None


def purpose_payload(
    tenant: Tenant, purpose: TicketPurpose, facts: TicketFacts
) -> Meeting | Recommendation:
    if purpose is TicketPurpose.review_meeting:
        return review_meeting(tenant, facts)
    if purpose is TicketPurpose.recommendation:
        return recommendation(tenant, facts)
    raise ValueError(f"a {purpose} ticket is a Ticket, not built here")


def review_meeting(tenant: Tenant, f: TicketFacts) -> Meeting:
    """A review held on a ticket: it starts at the scheduled start, else the due date,
    else when the ticket was made; completed is held, a deleted ticket is cancelled."""
    status: MeetingStatus = tenant.map(f.source, "ticket_meeting_status", f.status)
    if f.action is Action.deleted:
        status = MeetingStatus.cancelled
    return Meeting(
        meeting_id=f.ticket_id,
        meeting_kind=MeetingKind.review,
        title=f.summary,
        status=status,
        changed_at=None if status is MeetingStatus.scheduled else f.updated_at,
        starts_at=f.starts_at or f.due_at or f.created_at,
        booked_at=f.created_at,
        organiser=f.organiser,
    )


def recommendation(tenant: Tenant, f: TicketFacts) -> Recommendation:
    """A recommendation tracked on a ticket: presented when made, due when the ticket
    is due, answered when it closed (else at its last change) once no longer open."""
    status: RecommendationStatus = tenant.map(f.source, "recommendation_status", f.status)
    answered = None if status is RecommendationStatus.open else (f.closed_at or f.updated_at)
    return Recommendation(
        recommendation_id=f.ticket_id,
        title=f.summary or f"ticket {f.ticket_id}",
        status=status,
        presented_at=f.created_at,
        due_at=f.due_at,
        answered_at=answered,
    )
