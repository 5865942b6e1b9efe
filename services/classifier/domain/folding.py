"""Folding one event into a client's state: the records it changes, the work it labels.

`Folder` holds one method per kind of payload (tickets, time entries and visits,
meetings, RMM alerts, device changes, recommendations). Each merges the event into
the client's records, never letting an unknown value erase a known one, and returns
the work items (re)labelled by it: a ticket that becomes known relabels the time
entries and visits filed before it. Pure: no I/O, no clock.
"""

from __future__ import annotations

from typing import Any

from services.classifier.domain.devices import alert_keys, change_keys, ticket_keys
from services.classifier.domain.labels import (
    client_reschedule,
    desk_ticket_continued,
    label_ticket,
    label_work,
)
from services.classifier.domain.state import (
    AlertRec,
    ChangeRec,
    ClientState,
    MeetingRec,
    RecommendationRec,
    TicketRec,
    WorkRec,
)
from services.classifier.domain.times import dt, ts
from services.events.models import (
    Action,
    CanonicalEvent,
    ChargeTo,
    DeviceChange,
    DeviceChangeKind,
    Meeting,
    MeetingStatus,
    Nature,
    Recommendation,
    RmmAlert,
    Source,
    Ticket,
    TimeEntry,
    Visit,
)
from services.events.outputs import Initiator, WorkItem
from services.events.policy import ClassifierPolicy


def ticket_ref_of(event: CanonicalEvent) -> str | None:
    """The ticket a time entry, visit or meeting points at (its second reference)."""
    refs = event.refs
    for i in range(1, len(refs)):
        if refs[i].entity == "ticket":
            return str(refs[i])
    return None


_PLANNED_NATURES = frozenset({Nature.maintenance, Nature.review, Nature.project})

# The state collection each kind of payload files its record in.
COLLECTION: dict[type[Any], str] = {
    Ticket: "tickets",
    TimeEntry: "work",
    Visit: "work",
    Meeting: "meetings",
    RmmAlert: "alerts",
    DeviceChange: "changes",
    Recommendation: "recommendations",
}


class Folder:
    """The classifier policy's rules for merging events into a client's records."""

    def __init__(self, policy: ClassifierPolicy) -> None:
        self.policy = policy

    def ticket(
        self, state: ClientState, event: CanonicalEvent, p: Ticket, ref: str, at: float
    ) -> list[WorkItem]:
        """`ref`: the event's record (str of `event.ref`); `at`: its event time."""
        if event.action is Action.deleted:
            state.tickets.pop(ref, None)
            return []
        rec = state.tickets.get(ref)
        before = None if rec is None else (rec.initiator, rec.work_class, rec.nature)
        if rec is None:
            rec = state.tickets[ref] = TicketRec(ref=ref, created=ts(p.created_at), updated=at)
        merge_ticket(rec, p, newer=at >= rec.updated, source=event.source)
        rec.created = min(rec.created, ts(p.created_at))
        rec.updated = max(rec.updated, at)
        rec.event_id = event.event_id
        rec.follows = ticket_ref_of(event) or rec.follows  # a ticket's linked ticket
        direct = self.policy.detectors.direct_to_tech
        label_ticket(rec, direct.follow_up_terms)
        if rec.initiator == Initiator.direct_to_tech and rec.follows is None:
            desk = desk_ticket_continued(
                rec,
                state.tickets.values(),
                direct.next_step_days,
                self.policy.detectors.late_reporting.failure_terms,
                self.policy.detectors.late_reporting.topics,
            )
            if desk is not None:
                # The technician's next step of the client's desk ticket: linked as such.
                rec.follows = desk.ref
                label_ticket(rec, direct.follow_up_terms)
        work = [self.ticket_item(state.client_id, rec, event)]
        if before != (rec.initiator, rec.work_class, rec.nature):
            # Time entries and visits labelled before this ticket was known follow it now.
            work += [
                self.work_item(state, state.work[r], event.tenant)
                for r in state.work_of_ticket(ref)
            ]
        return work

    def work(
        self, state: ClientState, event: CanonicalEvent, p: TimeEntry | Visit, ref: str
    ) -> list[WorkItem]:
        if event.action is Action.deleted:
            state.work.pop(ref, None)
            return []
        ticket_ref = ticket_ref_of(event)
        if isinstance(p, TimeEntry):
            # Time logged on no ticket is a client going around the desk, unless its work
            # type says it is the MSP's planned work (maintenance on a charge code).
            no_ticket = (
                ticket_ref is None
                and event.client_known
                and p.charge_to not in (ChargeTo.project, ChargeTo.ticket)
                and p.nature not in _PLANNED_NATURES
            )
            rec = WorkRec(
                ref=ref,
                kind="time_entry",
                at=ts(p.started_at),
                event_id=event.event_id,
                hours=p.hours,
                nature=p.nature.value,
                ticket_ref=ticket_ref,
                location=p.location.value,
                no_ticket=no_ticket,
                technician=p.technician.name or p.technician.id if p.technician else None,
            )
        else:
            hours = (ts(p.ends_at) - ts(p.starts_at)) / 3600 if p.ends_at else 0.0
            rec = WorkRec(
                ref=ref,
                kind="visit",
                at=ts(p.starts_at),
                event_id=event.event_id,
                hours=max(hours, 0.0),
                nature=p.nature.value,
                ticket_ref=ticket_ref,
                location=p.location.value,
                booked=ts(p.booked_at) if p.booked_at else None,
                technician=p.technician.name or p.technician.id if p.technician else None,
            )
        state.put_work(rec)
        return [self.work_item(state, rec, event.tenant)]

    def ticket_item(self, client_id: str, t: TicketRec, event: CanonicalEvent) -> WorkItem:
        return WorkItem(
            tenant=event.tenant,
            client_id=client_id,
            ref=t.ref,
            event_id=t.event_id,
            kind="ticket",
            occurred_at=dt(t.created),
            nature=t.nature,  # the record's values: pydantic makes them the enums
            initiator=t.initiator,
            work_class=t.work_class,
            rule=t.rule,
            location=t.location,
        )

    def work_item(self, state: ClientState, w: WorkRec, tenant: str) -> WorkItem:
        ticket = state.tickets.get(w.ticket_ref) if w.ticket_ref else None
        work_class, initiator, nature, rule = label_work(
            w, ticket, self.policy.same_day_visit_hours
        )
        return WorkItem(
            tenant=tenant,
            client_id=state.client_id,
            ref=w.ref,
            event_id=w.event_id,
            kind=w.kind,
            occurred_at=dt(w.at),
            nature=nature,
            initiator=initiator,
            work_class=work_class,
            rule=rule,
            hours=round(w.hours, 4),
            location=w.location,
            ticket_ref=w.ticket_ref,
        )

    def meeting(self, state: ClientState, p: Meeting, ref: str, at: float) -> None:
        rec = state.meetings.get(ref)
        if rec is None:
            rec = state.meetings[ref] = MeetingRec(ref=ref, starts=ts(p.starts_at), updated=at)
        if client_reschedule(p.status, p.cancelled_by):
            rec.client_reschedules += 1  # each distinct event (deduplicated) is one reschedule
        if at >= rec.updated or rec.status == MeetingStatus.scheduled:
            rec.status = p.status.value
            rec.cancelled_by = p.cancelled_by.value if p.cancelled_by else None
            rec.changed = ts(p.changed_at) if p.changed_at else None
            rec.starts = ts(p.starts_at)
        rec.kind = p.meeting_kind.value
        rec.title = p.title or rec.title
        rec.updated = max(rec.updated, at)

    def alert(self, state: ClientState, p: RmmAlert, ref: str, at: float) -> None:
        if p.device_id:
            state.devices[p.device_id] = max(state.devices.get(p.device_id, 0.0), at)
        if p.help_request:
            return  # an end user's help request is a request, not an alert
        known = state.alerts.get(ref)
        if p.status != "triggered":
            # A reset ends the alert: kept (even before its trigger arrives) so that an
            # alert resolved minutes after it fired, or long before the ticket, is told apart.
            if known is None:
                state.alerts[ref] = AlertRec(ref, at, [], None, resolved=at, pending=True)
            elif known.pending or at >= known.at:
                known.resolved = at if known.resolved is None else min(known.resolved, at)
            return
        resolved = known.resolved if known is not None else None
        state.alerts[ref] = AlertRec(
            ref=ref,
            at=at,
            devices=alert_keys(p),
            site=p.site.casefold() if p.site else None,
            severity=p.severity.value,
            message=p.message,
            category=p.category,
            resolved=resolved if resolved is not None and resolved >= at else None,
        )

    def device_change(self, state: ClientState, p: DeviceChange, ref: str, at: float) -> None:
        if p.change is DeviceChangeKind.removed_agent:
            state.devices.pop(p.device_id, None)
            return
        state.devices[p.device_id] = max(state.devices.get(p.device_id, 0.0), at)
        state.changes[ref] = ChangeRec(
            ref=ref,
            at=at,
            change=p.change.value,
            device=p.device_name or p.device_id,
            tool=p.tool,
            keys=change_keys(p),
            device_type=p.device_type,
            user=p.last_user,
        )

    def recommendation(self, state: ClientState, p: Recommendation, ref: str, at: float) -> None:
        rec = state.recommendations.get(ref)
        if rec is None:
            rec = state.recommendations[ref] = RecommendationRec(ref=ref, title=p.title, updated=at)
        elif at < rec.updated:
            return  # an older version of a recommendation we already know better
        rec.title = p.title
        rec.status = p.status.value
        rec.presented = ts(p.presented_at) if p.presented_at else rec.presented
        rec.due = ts(p.due_at) if p.due_at else rec.due
        rec.answered = ts(p.answered_at) if p.answered_at else rec.answered
        rec.updated = at


def merge_ticket(rec: TicketRec, p: Ticket, *, newer: bool, source: Source) -> None:
    """Merge a (possibly partial) ticket update: never let an unknown erase a known value."""
    entered, addressed = p.entered_by, p.addressed_to
    values: list[tuple[str, object]] = [
        ("number", p.number),
        ("summary", p.summary),
        ("nature", p.nature.value),
        ("channel", p.channel.value),
        ("priority", p.priority.value),
    ]
    if entered is not None:
        values.append(("entered_by_role", entered.role.value))
        values.append(("entered_by", entered.name or entered.id))
    if addressed is not None:
        values.append(("addressed_to_role", addressed.role.value))
        values.append(("addressed_to", addressed.name or addressed.id))
    values += [
        ("issue_started", ts(p.issue_started_at) if p.issue_started_at else None),
        ("rmm_alert_id", p.rmm_alert_id),
        ("devices", ticket_keys(p, source)),
        ("board", p.board),
        ("site", p.site.casefold() if p.site else None),
        ("location", p.location.value),
    ]
    for name, value in values:  # in one loop: this runs for every ticket event
        if value in _EMPTY:
            continue
        if newer or getattr(rec, name) in _EMPTY:
            setattr(rec, name, value)


# What a merge never writes over a value, nor counts as one (an unknown).
_EMPTY: tuple[object, ...] = (None, "unknown", [])


def owner_needed(event: CanonicalEvent) -> str | None:
    """The ticket whose client this event belongs to, when the source did not name one.

    ConnectWise schedule entries carry no company: their client is their ticket's.
    """
    if event.client_known or not isinstance(event.payload, TimeEntry | Visit | Meeting):
        return None
    return ticket_ref_of(event)
