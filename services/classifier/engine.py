"""The classifier's pure core: fold an event into a client's state; judge a client.

`Engine.apply` deduplicates by event id, merges the event into the client's
state and returns the work items it labelled (including earlier time entries
and visits whose ticket just became known). `Engine.judge` runs the detectors
and the health score as of the watermark and returns what changed: new or
updated signals and a new health snapshot. Both are plain functions of their
inputs, unit-tested without a broker; the Faust agent only calls them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from services.classifier import detectors as det
from services.classifier.devices import alert_keys, change_keys, ticket_keys
from services.classifier.health import (
    WINDOWS,
    endpoints,
    score,
    ticket_class_of,
    window_health,
)
from services.classifier.labels import client_reschedule, label_ticket, label_work
from services.classifier.state import (
    DAY,
    AlertRec,
    ChangeRec,
    ClientState,
    EmittedSignal,
    MeetingRec,
    RecommendationRec,
    TicketRec,
    WorkRec,
)
from services.events.models import (
    Action,
    CanonicalEvent,
    ChargeTo,
    DeviceChange,
    DeviceChangeKind,
    Meeting,
    MeetingStatus,
    Recommendation,
    RmmAlert,
    Source,
    Ticket,
    TimeEntry,
    Visit,
)
from services.events.outputs import (
    Behaviour,
    Evidence,
    HealthSnapshot,
    Initiator,
    Signal,
    WindowHealth,
    WorkClass,
    WorkItem,
)
from services.events.policy import DetectorPolicy
from services.events.tenant import Tenant

EVIDENCE_SHOWN = 20  # evidence items a signal carries (the count covers all)


def ts(value: datetime) -> float:
    return value.timestamp()


def dt(value: float) -> datetime:
    return datetime.fromtimestamp(value, UTC)


@dataclass
class Applied:
    work: list[WorkItem] = field(default_factory=list)
    duplicate: bool = False
    too_late: bool = False


@dataclass
class Judgement:
    signals: list[Signal]  # new or changed since last emitted
    health: HealthSnapshot | None  # when score, band or components changed, or a new day
    view: ClientView
    dirty: bool  # the state changed and must be written back


@dataclass
class ClientView:
    """The latest judgement of one client, for metrics and the query API."""

    client_id: str
    name: str | None
    score: float
    band: str
    components: dict[str, float]
    windows: dict[str, WindowHealth]
    open_signals: list[Signal]
    signals: list[Signal]  # every current episode, open or resolved
    snapshot: HealthSnapshot


def ticket_ref_of(event: CanonicalEvent) -> str | None:
    """The ticket a time entry, visit or meeting points at (its second reference)."""
    return next((str(r) for r in event.refs[1:] if r.entity == "ticket"), None)


# The state collection each kind of payload files its record in.
_COLLECTION: dict[type[Any], str] = {
    Ticket: "tickets",
    TimeEntry: "work",
    Visit: "work",
    Meeting: "meetings",
    RmmAlert: "alerts",
    DeviceChange: "changes",
    Recommendation: "recommendations",
}


class Engine:
    def __init__(self, tenant: Tenant) -> None:
        self.tenant = tenant
        self.policy = tenant.classifier
        longest = max(
            [
                *WINDOWS,
                self.policy.health.window_days,
                *(
                    max(p.window_days, p.episode_gap_days)
                    for p in (det.detector_policy(self.policy, b) for b in Behaviour)
                ),
            ]
        )
        # Beyond this, behind the watermark, nothing can change a window or an episode.
        self.retention = (longest + self.policy.allowed_lateness_days) * DAY
        self._names = {c.id: c.name for c in tenant.clients}
        self._endpoints = {c.id: c.endpoints for c in tenant.clients}
        self._review_cadence = {c.id: c.review_cadence for c in tenant.clients}

    def is_known(self, client_id: str) -> bool:
        return client_id in self._names

    # -- folding events in ---------------------------------------------------

    def apply(self, state: ClientState, event: CanonicalEvent, watermark: float) -> Applied:
        if event.event_id in state.seen:
            return Applied(duplicate=True)
        at = ts(event.occurred_at)
        too_late = at < watermark - self.retention
        # A too-late event is still labelled, against a scratch state, and not kept.
        target = ClientState(state.client_id) if too_late else state
        p = event.payload
        collection = _COLLECTION.get(type(p))
        if not too_late:
            state.seen[event.event_id] = at
            state.touch(at)
            if collection is not None:
                state.touch_record(collection, str(event.ref))  # its day before
        work: list[WorkItem] = []
        if isinstance(p, Ticket):
            work = self._ticket(target, event, p)
        elif isinstance(p, TimeEntry | Visit):
            work = self._work(target, event, p)
        elif isinstance(p, Meeting):
            self._meeting(target, event, p)
        elif isinstance(p, RmmAlert):
            self._alert(target, event, p)
        elif isinstance(p, DeviceChange):
            self._device_change(target, event, p)
        elif isinstance(p, Recommendation):
            self._recommendation(target, event, p)
        if not too_late and collection is not None:
            state.touch_record(collection, str(event.ref))  # and after
        return Applied(work=work, too_late=too_late)

    def _ticket(self, state: ClientState, event: CanonicalEvent, p: Ticket) -> list[WorkItem]:
        ref = str(event.ref)
        if event.action is Action.deleted:
            state.tickets.pop(ref, None)
            return []
        at = ts(event.occurred_at)
        rec = state.tickets.get(ref)
        before = None if rec is None else (rec.initiator, rec.work_class, rec.nature)
        if rec is None:
            rec = state.tickets[ref] = TicketRec(ref=ref, created=ts(p.created_at), updated=at)
        _merge_ticket(rec, p, newer=at >= rec.updated, source=event.source)
        rec.created = min(rec.created, ts(p.created_at))
        rec.updated = max(rec.updated, at)
        rec.event_id = event.event_id
        rec.follows = ticket_ref_of(event) or rec.follows  # a ticket's linked ticket
        label_ticket(rec, self.policy.detectors.direct_to_tech.follow_up_terms)
        work = [self._ticket_item(state.client_id, rec, event)]
        if before != (rec.initiator, rec.work_class, rec.nature):
            # Time entries and visits labelled before this ticket was known follow it now.
            work += [
                self._work_item(state, state.work[r], event.tenant)
                for r in state.work_of_ticket(ref)
            ]
        return work

    def _work(
        self, state: ClientState, event: CanonicalEvent, p: TimeEntry | Visit
    ) -> list[WorkItem]:
        ref = str(event.ref)
        if event.action is Action.deleted:
            state.work.pop(ref, None)
            return []
        ticket_ref = ticket_ref_of(event)
        if isinstance(p, TimeEntry):
            no_ticket = (
                ticket_ref is None
                and event.client_known
                and p.charge_to not in (ChargeTo.project, ChargeTo.ticket)
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
        return [self._work_item(state, rec, event.tenant)]

    def _ticket_item(self, client_id: str, t: TicketRec, event: CanonicalEvent) -> WorkItem:
        return WorkItem(
            tenant=event.tenant,
            client_id=client_id,
            ref=t.ref,
            event_id=t.event_id,
            kind="ticket",
            occurred_at=dt(t.created),
            nature=t.nature,
            initiator=Initiator(t.initiator),
            work_class=WorkClass(t.work_class),
            rule=t.rule,
            location=t.location,
        )

    def _work_item(self, state: ClientState, w: WorkRec, tenant: str) -> WorkItem:
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

    def _meeting(self, state: ClientState, event: CanonicalEvent, p: Meeting) -> None:
        ref = str(event.ref)
        at = ts(event.occurred_at)
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

    def _alert(self, state: ClientState, event: CanonicalEvent, p: RmmAlert) -> None:
        at = ts(event.occurred_at)
        if p.device_id:
            state.devices[p.device_id] = max(state.devices.get(p.device_id, 0.0), at)
        if p.help_request:
            return  # an end user's help request is a request, not an alert
        ref = str(event.ref)
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

    def _device_change(self, state: ClientState, event: CanonicalEvent, p: DeviceChange) -> None:
        at = ts(event.occurred_at)
        if p.change is DeviceChangeKind.removed_agent:
            state.devices.pop(p.device_id, None)
            return
        state.devices[p.device_id] = max(state.devices.get(p.device_id, 0.0), at)
        state.changes[str(event.ref)] = ChangeRec(
            ref=str(event.ref),
            at=at,
            change=p.change.value,
            device=p.device_name or p.device_id,
            tool=p.tool,
            keys=change_keys(p),
            device_type=p.device_type,
            user=p.last_user,
        )

    def _recommendation(self, state: ClientState, event: CanonicalEvent, p: Recommendation) -> None:
        ref = str(event.ref)
        at = ts(event.occurred_at)
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

    # -- judging a client ---------------------------------------------------------

    def judge(self, state: ClientState, tenant: str, watermark: float, now: float) -> Judgement:
        client_id = state.client_id
        name = self._names.get(client_id)
        pruned = state.prune(watermark - self.retention)
        changed: list[Signal] = []
        open_signals: list[Signal] = []
        all_signals: list[Signal] = []
        counts: dict[int, dict[Behaviour, int]] = {d: {} for d in WINDOWS}
        current: set[str] = set()
        state.review_cadence_days = self._review_cadence.get(client_id)  # review_cadence.py
        for behaviour, detect in det.DETECTORS.items():
            policy = det.detector_policy(self.policy, behaviour)
            found = detect(state, self.policy, watermark)
            for days in WINDOWS:
                counts[days][behaviour] = sum(1 for f in found if f.at > watermark - days * DAY)
            for episode in det.episodes(behaviour, found, policy, watermark):
                if not episode.raised:
                    continue
                signal, is_new = self._signal(state, tenant, name, episode, policy, watermark, now)
                current.add(signal.signal_id)
                all_signals.append(signal)
                if is_new:
                    changed.append(signal)
                if signal.status == "open":
                    open_signals.append(signal)
        for signal_id in [s for s in state.signals if s not in current]:
            # Its evidence no longer stands (a late change ticket announced the device).
            gone = state.signals.pop(signal_id)
            changed.append(self._withdrawn(state, tenant, name, gone, now))

        ep = endpoints(state, self._endpoints.get(client_id))
        class_of = ticket_class_of(
            state.tickets,
            lambda w: label_work(w, None, self.policy.same_day_visit_hours)[0],
        )
        windows = {
            f"{d}d": window_health(state, d, watermark, class_of, counts[d], ep) for d in WINDOWS
        }
        hp = self.policy.health
        judged = windows.get(f"{hp.window_days}d") or window_health(
            state, hp.window_days, watermark, class_of, counts[90], ep
        )
        result = score(
            judged,
            (
                (s.behaviour, det.detector_policy(self.policy, s.behaviour).weight)
                for s in open_signals
            ),
            hp,
        )
        memo = state.health
        day = int(watermark // DAY)
        past = [v for k, v in memo.daily_scores.items() if int(k) < day]
        baseline = round(sum(past) / len(past), 1) if past else None
        dirty = bool(changed) or memo.daily_scores.get(str(day)) != result.score
        memo.daily_scores[str(day)] = result.score
        for k in [k for k in memo.daily_scores if int(k) <= day - hp.baseline_snapshots]:
            del memo.daily_scores[k]
        # A snapshot when the judgement changes, and at least one per client per day.
        fresh = (result.score, result.band.value, result.components, day) != (
            memo.score,
            memo.band,
            memo.components,
            memo.as_of_day,
        )
        if fresh:
            memo.seq += 1
            memo.score, memo.band = result.score, result.band.value
            memo.components, memo.as_of_day = result.components, day
        snapshot = HealthSnapshot(
            tenant=tenant,
            client_id=client_id,
            client_name=name,
            as_of=dt(watermark),
            seq=memo.seq,
            score=result.score,
            band=result.band,
            components=result.components,
            baseline_score=baseline,
            change=round(result.score - baseline, 1) if baseline is not None else None,
            endpoints=ep,
            windows=windows,
        )
        view = ClientView(
            client_id=client_id,
            name=name,
            score=result.score,
            band=result.band.value,
            components=result.components,
            windows=windows,
            open_signals=open_signals,
            signals=all_signals,
            snapshot=snapshot,
        )
        return Judgement(
            signals=changed,
            health=snapshot if fresh else None,
            view=view,
            dirty=dirty or fresh or pruned,
        )

    def _signal(
        self,
        state: ClientState,
        tenant: str,
        name: str | None,
        episode: det.Episode,
        policy: DetectorPolicy,
        watermark: float,
        now: float,
    ) -> tuple[Signal, bool]:
        refs = [f.ref for f in episode.evidence]
        ref_set = set(refs)
        known = next(
            (
                s
                for s in state.signals.values()
                if s.behaviour == episode.behaviour.value and ref_set.intersection(s.evidence)
            ),
            None,
        )
        signal_id = (
            known.signal_id
            if known
            else det.signal_id(state.client_id, episode.behaviour, episode.evidence[0].ref)
        )
        status = "open" if episode.open else "resolved"
        severity = det.severity(episode, policy)
        changed = known is None or (known.evidence, known.status, known.severity) != (
            refs,
            status,
            severity.value,
        )
        version = (known.version if known else 0) + (1 if changed else 0)
        state.signals[signal_id] = EmittedSignal(
            signal_id=signal_id,
            behaviour=episode.behaviour.value,
            version=version,
            evidence=refs,
            status=status,
            severity=severity.value,
            first=episode.first,
            last=episode.last,
        )
        signal = Signal(
            tenant=tenant,
            client_id=state.client_id,
            client_name=name,
            signal_id=signal_id,
            version=version,
            behaviour=episode.behaviour,
            severity=severity,
            status=status,
            explanation=_explain(episode, name or state.client_id, policy),
            evidence=[
                Evidence(ref=f.ref, at=dt(f.at), note=f.note)
                for f in episode.evidence[-EVIDENCE_SHOWN:]
            ],
            evidence_count=len(episode.evidence),
            first_seen_at=dt(episode.first),
            last_seen_at=dt(episode.last),
            detected_at=dt(now),
        )
        return signal, changed

    def _withdrawn(
        self, state: ClientState, tenant: str, name: str | None, gone: EmittedSignal, now: float
    ) -> Signal:
        return Signal(
            tenant=tenant,
            client_id=state.client_id,
            client_name=name,
            signal_id=gone.signal_id,
            version=gone.version + 1,
            behaviour=Behaviour(gone.behaviour),
            severity=gone.severity,
            status="withdrawn",
            explanation="Withdrawn: later events showed the evidence did not hold.",
            evidence=[],
            evidence_count=0,
            first_seen_at=dt(gone.first),
            last_seen_at=dt(gone.last),
            detected_at=dt(now),
        )


_WHAT = {
    Behaviour.direct_to_tech: "requests went straight to a technician instead of the service desk",
    Behaviour.late_reporting: "problems were reported late, after they had become severe",
    Behaviour.skipped_meeting: "scheduled meetings or reviews were skipped or cancelled late",
    Behaviour.ignored_recommendation: "recommendations were declined or left unanswered",
    Behaviour.unannounced_change: "devices or remote-access tools appeared without a request",
}


def _explain(episode: det.Episode, client: str, policy: DetectorPolicy) -> str:
    n = len(episode.evidence)
    days = max(1, round((episode.last - episode.first) / DAY))
    span = f"in {days} days" if n > 1 else f"on {dt(episode.last):%Y-%m-%d}"
    latest = episode.evidence[-1].note
    times = "once" if n == 1 else f"{n} times"
    return f"{client}: {_WHAT[episode.behaviour]} ({times} {span}); latest: {latest}."


def _merge_ticket(rec: TicketRec, p: Ticket, *, newer: bool, source: Source) -> None:
    """Merge a (possibly partial) ticket update: never let an unknown erase a known value."""

    def put(name: str, value: object, empty: tuple[object, ...] = (None, "unknown", [])) -> None:
        if value in empty:
            return
        if newer or getattr(rec, name) in empty:
            setattr(rec, name, value)

    put("number", p.number)
    put("summary", p.summary)
    put("nature", p.nature.value)
    put("channel", p.channel.value)
    put("priority", p.priority.value)
    if p.entered_by is not None:
        put("entered_by_role", p.entered_by.role.value)
        put("entered_by", p.entered_by.name or p.entered_by.id)
    if p.addressed_to is not None:
        put("addressed_to_role", p.addressed_to.role.value)
        put("addressed_to", p.addressed_to.name or p.addressed_to.id)
    put("issue_started", ts(p.issue_started_at) if p.issue_started_at else None)
    put("rmm_alert_id", p.rmm_alert_id)
    put("devices", ticket_keys(p, source))
    put("board", p.board)
    put("site", p.site.casefold() if p.site else None)
    put("location", p.location.value)


def owner_needed(event: CanonicalEvent) -> str | None:
    """The ticket whose client this event belongs to, when the source did not name one.

    ConnectWise schedule entries carry no company: their client is their ticket's.
    """
    if event.client_known or not isinstance(event.payload, TimeEntry | Visit | Meeting):
        return None
    return ticket_ref_of(event)
