"""Labelling rules: who started a piece of work, and whether it was proactive.

Two axes (../shared/domain.md): the *nature* of the work (break/fix is
reactive; maintenance, review, lifecycle are proactive) and its *initiator*
(service desk, direct to a technician, MSP-scheduled, RMM automation). Each
function returns the label and the name of the rule that decided it, so every
label on `partnerpulse.work` can be explained.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from services.classifier.domain.state import DAY, HOUR, TicketRec, WorkRec
from services.classifier.domain.words import has_term, related, tokens
from services.events.models import Channel, IdentityRole, MeetingStatus, Nature
from services.events.outputs import Initiator, WorkClass
from services.events.policy import DirectToTechPolicy

_DIRECT_CHANNELS = {Channel.direct_email, Channel.direct_phone, Channel.direct_chat}
_DIRECT_CHANNEL_VALUES = frozenset(c.value for c in _DIRECT_CHANNELS)
_MSP_CHANNELS = {Channel.scheduled, Channel.internal}
_BREAK_FIX = {Nature.incident, Nature.problem}
_PLANNED = {Nature.maintenance, Nature.review, Nature.project}
_PLANNED_VALUES = frozenset(n.value for n in _PLANNED)
_CLIENT_ASKED = {Nature.request, Nature.change}

CLIENT_INITIATORS = {Initiator.service_desk, Initiator.direct_to_tech, Initiator.unknown}

_FOLLOW_UP_TERMS: Sequence[str] = DirectToTechPolicy().follow_up_terms


def is_follow_up(t: TicketRec, follow_up_terms: Sequence[str] = _FOLLOW_UP_TERMS) -> bool:
    """A technician's own follow-up of earlier work: the `follow_up` channel, a link to
    an earlier ticket, or a technician-entered ticket whose summary says so."""
    if t.channel == Channel.follow_up:
        return True
    if t.follows is not None and t.entered_by_role != IdentityRole.client_contact:
        return True
    return t.entered_by_role == IdentityRole.technician and (
        has_term(tokens(t.summary), follow_up_terms) is not None
    )


def desk_ticket_continued(
    t: TicketRec,
    tickets: Iterable[TicketRec],
    days: float,
    failure_terms: Sequence[str],
    topics: Mapping[str, Iterable[str]],
) -> TicketRec | None:
    """The client's desk ticket a technician-entered ticket is the next step of, if any.

    A technician who opens a ticket himself for the next step of a request the client
    raised through the desk ("Harbour office: mount a second access point" two days after
    "Harbour office Wi-Fi slow") continues work that came in through the desk: his ticket
    concerns the request's subject (a topic of `late_reporting.topics`, or a significant
    word both summaries use: "add memory" after "PC slow") and reports no failure of its
    own. A client calling its technician about a problem reports that problem (a
    failure word) or names nothing the desk has seen lately; that stays direct-to-tech.
    The newest such desk ticket of the last `days` days is returned.
    """
    if (
        days <= 0
        or t.entered_by_role != IdentityRole.technician
        or t.channel in _DIRECT_CHANNEL_VALUES
        or t.addressed_to_role == IdentityRole.technician
    ):
        return None
    words = tokens(t.summary)
    if not words or has_term(words, failure_terms) is not None:
        return None
    earliest = t.created - days * DAY
    found: TicketRec | None = None
    for desk in tickets:
        if (
            desk is t
            or desk.initiator != Initiator.service_desk
            or desk.entered_by_role == IdentityRole.technician
            or not earliest <= desk.created <= t.created
            or (found is not None and desk.created <= found.created)
        ):
            continue
        if related(words, tokens(desk.summary), topics) is not None:
            found = desk
    return found


def ticket_initiator(
    t: TicketRec, follow_up_terms: Sequence[str] = _FOLLOW_UP_TERMS
) -> tuple[Initiator, str]:
    channel = Channel(t.channel)
    if channel is Channel.monitoring or t.rmm_alert_id:
        return Initiator.rmm, "initiator:monitoring"
    if t.entered_by_role == IdentityRole.automation:
        return (
            (Initiator.msp_scheduled, "initiator:recurring")
            if channel is Channel.scheduled
            else (Initiator.rmm, "initiator:automation")
        )
    if t.entered_by_role == IdentityRole.co_managed_staff:
        # A co-managed client's own IT entering its ticket in the PSA is its intake path.
        return Initiator.service_desk, "initiator:co_managed_staff"
    if channel in _MSP_CHANNELS:
        return Initiator.msp_scheduled, "initiator:msp_channel"
    if channel in _DIRECT_CHANNELS:
        return Initiator.direct_to_tech, "initiator:direct_channel"
    if is_follow_up(t, follow_up_terms):
        # The work came in earlier, through whichever path; a follow-up is not a new request.
        return Initiator.service_desk, "initiator:follow_up"
    if t.addressed_to_role == IdentityRole.technician:
        return Initiator.direct_to_tech, "initiator:addressed_to_technician"
    if t.entered_by_role == IdentityRole.technician:
        if t.nature in _PLANNED_VALUES:
            # Maintenance, a review or project work a technician opened himself is the
            # MSP's own plan (a firmware update, a lifecycle task), not a client's request.
            return Initiator.msp_scheduled, "initiator:technician_planned"
        return Initiator.direct_to_tech, "initiator:entered_by_technician"
    if t.entered_by_role == IdentityRole.service_desk or channel in (
        Channel.email,
        Channel.portal,
        Channel.phone,
        Channel.chat,
        Channel.walk_in,
    ):
        return Initiator.service_desk, "initiator:intake"
    if t.entered_by_role == IdentityRole.client_contact:
        return Initiator.service_desk, "initiator:client_self_service"
    return Initiator.unknown, "initiator:unknown"


def class_of_nature(nature: str, initiator: Initiator) -> tuple[WorkClass, str]:
    n = Nature(nature)
    if n in _BREAK_FIX:
        return WorkClass.reactive, "nature:break_fix"
    if n in _PLANNED:
        return WorkClass.proactive, "nature:planned"
    if n in _CLIENT_ASKED:
        if initiator is Initiator.msp_scheduled:
            return WorkClass.proactive, "nature:msp_planned_" + n.value
        return WorkClass.reactive, "nature:client_" + n.value
    if initiator is Initiator.msp_scheduled:
        return WorkClass.proactive, "initiator:msp_scheduled"
    return WorkClass.reactive, "initiator:unplanned"


def label_ticket(t: TicketRec, follow_up_terms: Sequence[str] = _FOLLOW_UP_TERMS) -> None:
    """Set the ticket's initiator, class and rule from its merged fields."""
    initiator, why = ticket_initiator(t, follow_up_terms)
    work_class, rule = class_of_nature(t.nature, initiator)
    t.initiator = initiator.value
    t.work_class = work_class.value
    t.rule = rule if rule.startswith("nature:") else why


def label_work(
    w: WorkRec, ticket: TicketRec | None, same_day_hours: float
) -> tuple[WorkClass, Initiator, str, str]:
    """(class, initiator, nature, rule) of a time entry or visit."""
    if ticket is not None:
        return (
            WorkClass(ticket.work_class),
            Initiator(ticket.initiator),
            ticket.nature,
            "ticket:" + ticket.rule,
        )
    if w.kind == "time_entry" and w.no_ticket:
        initiator = Initiator.direct_to_tech
    else:
        initiator = Initiator.unknown
    nature = Nature(w.nature)
    if nature is not Nature.unknown:
        work_class, rule = class_of_nature(nature, initiator)
        return work_class, initiator, nature.value, rule
    if w.kind == "visit" and w.booked is not None:
        if w.at - w.booked >= same_day_hours * HOUR:
            return WorkClass.proactive, Initiator.msp_scheduled, nature.value, "visit:booked_ahead"
        return WorkClass.reactive, initiator, nature.value, "visit:same_day"
    return WorkClass.reactive, initiator, nature.value, "unplanned:no_ticket"


# -- whose side a meeting's cancellation or reschedule was -------------------------

_CANCELLED = {
    MeetingStatus.cancelled.value,
    MeetingStatus.cancelled_by_msp.value,
    MeetingStatus.cancelled_by_client.value,
}
_BY_MSP = {MeetingStatus.cancelled_by_msp.value, MeetingStatus.rescheduled_by_msp.value}
_BY_CLIENT = {MeetingStatus.cancelled_by_client.value, MeetingStatus.rescheduled_by_client.value}


def is_cancelled(status: str) -> bool:
    return status in _CANCELLED


def by_client(status: str, cancelled_by: str | None, unattributed: str = "client") -> bool:
    """Was a cancellation or reschedule the client's? The status the tenant maps says so
    first (`cancelled_by_msp`, `cancelled_by_client`), then the source's `cancelled_by`,
    then the tenant's `unattributed_cancellations`."""
    if status in _BY_MSP:
        return False
    if status in _BY_CLIENT:
        return True
    if cancelled_by == IdentityRole.technician:
        return False
    if cancelled_by == IdentityRole.client_contact:
        return True
    return unattributed == "client"


def client_reschedule(status: MeetingStatus, cancelled_by: IdentityRole | None) -> bool:
    """Does this meeting event count as one more reschedule by the client?"""
    if status not in (MeetingStatus.rescheduled, MeetingStatus.rescheduled_by_client):
        return False
    return by_client(status.value, cancelled_by.value if cancelled_by else None)
