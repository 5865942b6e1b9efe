"""Updates of a ticket that the tenant's `ticket_purpose` made a meeting or a recommendation.

The adapters read a ticket's purpose from its board, queue or ticket type
(services/ingest/adapters/purpose.py). An update that does not carry that key reads
as a plain ticket: Autotask webhooks hold only the subscribed and "display always"
fields, so a QBR ticket's status change can come without its `queueID`. The client's
state knows better: a ticket it holds as a review meeting or a recommendation stays
one, and the update changes that record (its status through the tenant's
`ticket_meeting_status` / `recommendation_status`, as the adapter would have mapped it).
Pure: no I/O, no clock.
"""

from __future__ import annotations

from services.classifier.domain.state import ClientState
from services.classifier.domain.times import dt
from services.events.models import (
    Action,
    CanonicalEvent,
    Meeting,
    MeetingKind,
    MeetingStatus,
    Recommendation,
    RecommendationStatus,
    Ticket,
)
from services.events.tenant import Tenant


def purpose_update(
    tenant: Tenant, state: ClientState, event: CanonicalEvent, p: Ticket, ref: str
) -> Meeting | Recommendation | None:
    """The meeting or recommendation this ticket update changes; None when the state
    holds the ticket as neither (it is a ticket)."""
    meeting = state.meetings.get(ref)
    if meeting is not None:
        status = MeetingStatus(meeting.status)
        if event.action is Action.deleted:
            status = MeetingStatus.cancelled
        elif p.status is not None:
            status = tenant.map(event.source, "ticket_meeting_status", p.status)
        return Meeting(
            meeting_id=p.ticket_id,
            meeting_kind=MeetingKind(meeting.kind),
            title=p.summary or meeting.title,
            status=status,
            changed_at=None if status is MeetingStatus.scheduled else event.occurred_at,
            starts_at=dt(meeting.starts),
        )
    rec = state.recommendations.get(ref)
    if rec is not None:
        answer = RecommendationStatus(rec.status)
        if p.status is not None:
            answer = tenant.map(event.source, "recommendation_status", p.status)
        answered = None
        if answer is not RecommendationStatus.open:
            answered = p.closed_at or (dt(rec.answered) if rec.answered else event.occurred_at)
        return Recommendation(
            recommendation_id=p.ticket_id,
            title=p.summary or rec.title,
            status=answer,
            presented_at=dt(rec.presented) if rec.presented is not None else None,
            due_at=dt(rec.due) if rec.due is not None else None,
            answered_at=answered,
        )
    return None
