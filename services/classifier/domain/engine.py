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

from services.classifier.domain import daily
from services.classifier.domain import detectors as det
from services.classifier.domain.emit import signal_of, withdrawn
from services.classifier.domain.folding import COLLECTION, Folder, owner_needed, ticket_ref_of
from services.classifier.domain.health import (
    WINDOWS,
    endpoints,
    score,
    ticket_class_of,
    window_health,
)
from services.classifier.domain.labels import label_work
from services.classifier.domain.purpose_updates import purpose_update
from services.classifier.domain.state import DAY, ClientState, DayTotals, WorkRec
from services.classifier.domain.times import dt, ts
from services.events.models import (
    CanonicalEvent,
    DeviceChange,
    Meeting,
    Recommendation,
    RmmAlert,
    Ticket,
    TimeEntry,
    Visit,
)
from services.events.outputs import (
    Behaviour,
    HealthSnapshot,
    Signal,
    SignalStatus,
    WindowHealth,
    WorkClass,
    WorkItem,
)
from services.events.policy import ClassifierPolicy
from services.events.tenant import Tenant

# Re-exported: the shell and the tests import them from here.
__all__ = [
    "Applied",
    "ClientView",
    "Engine",
    "Judgement",
    "dt",
    "owner_needed",
    "ticket_ref_of",
    "ts",
]


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
        # Beyond this, behind the watermark, nothing can change a window or an episode:
        # evidence older than it is no longer judged.
        self.evidence_span = (longest + self.policy.allowed_lateness_days) * DAY
        # The detectors read records up to this long before a piece of evidence (the
        # ticket that announced a change, the alert before a report, the client's previous
        # contact): those are kept that much longer, so no verdict turns when the records
        # that decided it are pruned.
        self.context = context_days(self.policy) * DAY
        # What the state keeps (event time behind the watermark): evidence and its context.
        self.retention = self.evidence_span + self.context
        self._fold = Folder(self.policy)
        self._names = {c.id: c.name for c in tenant.clients}
        self._endpoints = {c.id: c.endpoints for c in tenant.clients}
        self._review_cadence = {c.id: c.review_cadence for c in tenant.clients}

    def is_known(self, client_id: str) -> bool:
        return client_id in self._names

    # -- folding events in ---------------------------------------------------

    def apply(self, state: ClientState, event: CanonicalEvent, watermark: float) -> Applied:
        event_id = event.event_id
        if event_id in state.seen:
            return Applied(duplicate=True)
        at = ts(event.occurred_at)
        too_late = at < watermark - self.retention
        # A too-late event is still labelled, against a scratch state, and not kept.
        target = ClientState(state.client_id) if too_late else state
        p = event.payload
        ref = str(event.ref)  # once: every fold below files under it
        if isinstance(p, Ticket) and (ref in state.meetings or ref in state.recommendations):
            # A review meeting or recommendation kept on a ticket, updated without the
            # key that says so (services/classifier/domain/purpose_updates.py).
            p = purpose_update(self.tenant, state, event, p, ref) or p
        collection = COLLECTION.get(type(p))
        if not too_late and isinstance(p, Meeting | Recommendation) and ref in state.tickets:
            # Its purpose is known now: an update read as a plain ticket before it is not one.
            state.touch_record("tickets", ref)
            del state.tickets[ref]
        if not too_late:
            state.seen[event_id] = at
            state.touch_day(at)
            if collection is not None:
                state.touch_record(collection, ref)  # its day before
        work: list[WorkItem] = []
        fold = self._fold
        if isinstance(p, Ticket):
            work = fold.ticket(target, event, p, ref, at)
        elif isinstance(p, (TimeEntry, Visit)):
            work = fold.work(target, event, p, ref)
        elif isinstance(p, Meeting):
            fold.meeting(target, p, ref, at)
        elif isinstance(p, RmmAlert):
            fold.alert(target, p, ref, at)
        elif isinstance(p, DeviceChange):
            fold.device_change(target, p, ref, at)
        elif isinstance(p, Recommendation):
            fold.recommendation(target, p, ref, at)
        if not too_late and collection is not None:
            state.touch_record(collection, ref)  # and after
        return Applied(work=work, too_late=too_late)

    # -- judging a client ---------------------------------------------------------

    def judged_from(self, state: ClientState, watermark: float) -> float:
        """The oldest evidence judged: what the detectors read before it is still held.
        It moves with the pruning (weekly), as the evidence did when it was pruned with
        its context; a state this process has not pruned (read for a report) from its
        watermark."""
        if state.pruned_at:
            return state.pruned_at + self.context
        return watermark - self.evidence_span

    def judge(self, state: ClientState, tenant: str, watermark: float, now: float) -> Judgement:
        client_id = state.client_id
        name = self._names.get(client_id)
        horizon = watermark - self.retention
        if state.prune_due(horizon):
            # The days about to leave the detail keep their totals (daily.py); the
            # detectors' evidence is found only when there is such a day.
            daily.freeze(
                state,
                horizon,
                self.class_of(state),
                lambda: self.evidence_times(state, watermark),
            )
        pruned = state.prune(horizon, watermark - daily.TOTALS_DAYS * DAY)
        evidence_from = self.judged_from(state, watermark)
        changed: list[Signal] = []
        open_signals: list[Signal] = []
        weights: list[tuple[Behaviour, float]] = []  # what each open signal costs the score
        all_signals: list[Signal] = []
        counts: dict[int, dict[Behaviour, int]] = {d: {} for d in WINDOWS}
        current: set[str] = set()
        hp = self.policy.health
        state.review_cadence_days = self._review_cadence.get(client_id)  # review_cadence.py
        for behaviour, detect in det.DETECTORS.items():
            policy = det.detector_policy(self.policy, behaviour)
            found = [f for f in detect(state, self.policy, watermark) if f.at >= evidence_from]
            for days in WINDOWS:
                counts[days][behaviour] = sum(1 for f in found if f.at > watermark - days * DAY)
            for episode in det.episodes(behaviour, found, policy, watermark):
                if not episode.raised:
                    continue
                signal, is_new = signal_of(state, tenant, name, episode, policy, watermark, now)
                current.add(signal.signal_id)
                all_signals.append(signal)
                if is_new:
                    changed.append(signal)
                if signal.status is SignalStatus.open:
                    open_signals.append(signal)
                    factor = hp.critical_weight_factor if det.as_a_rule(episode, policy) else 1.0
                    weights.append((behaviour, policy.weight * factor))
        for signal_id in [s for s in state.signals if s not in current]:
            gone = state.signals.pop(signal_id)
            if gone.last >= evidence_from:
                # Its evidence no longer stands (a late change ticket announced the device).
                changed.append(withdrawn(state, tenant, name, gone, now))
            # else its evidence aged out of judging: forgotten, as when it was pruned.

        ep = endpoints(state, self._endpoints.get(client_id))
        class_of = ticket_class_of(
            state.tickets,
            lambda w: label_work(w, None, self.policy.same_day_visit_hours)[0],
        )
        windows = {
            f"{d}d": window_health(state, d, watermark, class_of, counts[d], ep) for d in WINDOWS
        }
        judged = windows.get(f"{hp.window_days}d") or window_health(
            state, hp.window_days, watermark, class_of, counts[90], ep
        )
        result = score(judged, weights, hp)
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

    def class_of(self, state: ClientState) -> daily.ClassOf:
        """The class of a client's time entry or visit, by its ticket's labels."""
        same_day = self.policy.same_day_visit_hours

        def of(w: WorkRec) -> WorkClass:
            ticket = state.tickets.get(w.ticket_ref) if w.ticket_ref else None
            return label_work(w, ticket, same_day)[0]

        return of

    def evidence_times(self, state: ClientState, watermark: float) -> dict[Behaviour, list[float]]:
        """When each behaviour's evidence happened, as the detectors find it now."""
        return {
            b: [f.at for f in detect(state, self.policy, watermark)]
            for b, detect in det.DETECTORS.items()
        }

    def daily_totals(
        self, state: ClientState, first_day: int, last_day: int, watermark: float
    ) -> list[DayTotals]:
        """A client's totals per event-time day (daily.series)."""
        return daily.series(
            state, first_day, last_day, self.class_of(state), self.evidence_times(state, watermark)
        )


def context_days(policy: ClassifierPolicy) -> float:
    """How far before a piece of evidence a detector reads other records, in days."""
    d = policy.detectors
    return max(
        d.unannounced_change.announce_days,
        d.unannounced_change.named_announce_days,
        d.late_reporting.alert_lookback_days,
        d.late_reporting.quiet_days,
        d.direct_to_tech.next_step_days,
    )
