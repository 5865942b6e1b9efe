"""From a client's classifier state to the partnership review (`Report`): pure.

Only event time counts: the period, the state and the tenant decide everything, so
the report of a past period is the same whenever it is made. The classifier keeps
about seven months of event-level records; for an older period the report shows what
is left and says so (`Report.notes`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime

from services.classifier.domain import detectors as det
from services.classifier.domain.engine import Engine
from services.classifier.domain.health import band_of, endpoints, ticket_class_of
from services.classifier.domain.labels import label_work
from services.classifier.domain.state import DAY, ClientState, TicketRec, WorkRec
from services.events.outputs import Behaviour, WorkClass
from services.events.tenant import Tenant
from services.events.tenant_people import Client
from services.events.wording import WORDS
from services.report.model import (
    EvidenceLine,
    Habit,
    Month,
    Period,
    RecommendationLine,
    Report,
    Totals,
    Unasked,
    Visit,
)
from services.report.words import visit_reason

PATCH_WORDS = ("patch", "update", "updates", "windows update", "patching")
EVIDENCE_SHOWN = 20  # per habit, the most recent (as a signal carries); the count covers all
UNASKED_SHOWN = 30  # the most recent items listed; the summary by kind covers all


def _dt(stamp: float) -> datetime:
    return datetime.fromtimestamp(stamp, UTC)


def _month_key(stamp: float) -> str:
    return _dt(stamp).strftime("%Y-%m")


def _month_bounds(period: Period) -> list[tuple[str, float, float]]:
    """Each calendar month of the period, clipped to it: (YYYY-MM, start, end)."""
    out: list[tuple[str, float, float]] = []
    cursor = period.start
    end = period.end
    while cursor < end:
        nxt = datetime(cursor.year + cursor.month // 12, cursor.month % 12 + 1, 1, tzinfo=UTC)
        stop = min(nxt, end)
        out.append((cursor.strftime("%Y-%m"), cursor.timestamp(), stop.timestamp()))
        cursor = stop
    return out


def _per_endpoint(value: float, count: int | None, days: float) -> float | None:
    if not count or days <= 0:
        return None
    return round(value / count / (days / 30), 4)


def _ticket_line(t: TicketRec | None) -> str | None:
    if t is None:
        return None
    number = f"#{t.number}" if t.number else t.ref
    return f"{number} {t.summary}" if t.summary else number


def build_report(state: ClientState, tenant: Tenant, client: Client, period: Period) -> Report:
    """The report of `client` over `period` from its state (never changed here)."""
    policy = tenant.classifier
    start, end = period.start.timestamp(), period.end.timestamp()

    def inside(at: float) -> bool:
        return start <= at < end

    class_of = ticket_class_of(
        state.tickets, lambda w: label_work(w, None, policy.same_day_visit_hours)[0]
    )
    kept_from = min(state.seen.values(), default=None)
    newest = max((t for t in state.seen.values() if t < end), default=None)
    ep = endpoints(state, client.endpoints)
    hp = policy.health

    visits: list[Visit] = []
    work_in: list[tuple[WorkRec, str]] = []
    for w in sorted(state.work.values(), key=lambda w: (w.at, w.ref)):
        if not inside(w.at):
            continue
        work_class = class_of(w).value
        work_in.append((w, work_class))
        if w.kind != "visit":
            continue
        ticket = state.tickets.get(w.ticket_ref) if w.ticket_ref else None
        _, initiator, nature, rule = label_work(w, ticket, policy.same_day_visit_hours)
        visits.append(
            Visit(
                at=_dt(w.at),
                technician=w.technician or "a technician",
                location=w.location,
                work_class=work_class,
                why=visit_reason(w, ticket, rule, initiator.value, nature),
                ticket=_ticket_line(ticket),
                hours=round(w.hours, 2),
            )
        )
    tickets_in = sorted(
        (t for t in state.tickets.values() if inside(t.created)), key=lambda t: (t.created, t.ref)
    )

    months: list[Month] = []
    for key, m_start, m_end in _month_bounds(period):
        hours = {c.value: 0.0 for c in WorkClass}
        visit_count = {c.value: 0 for c in WorkClass}
        for w, work_class in work_in:
            if not m_start <= w.at < m_end:
                continue
            if w.kind == "time_entry":
                hours[work_class] += w.hours
            else:
                visit_count[work_class] += 1
        tickets = sum(1 for t in tickets_in if m_start <= t.created < m_end)
        days = (m_end - m_start) / DAY
        months.append(
            Month(
                month=key,
                days=round(days, 2),
                hours_proactive=round(hours["proactive"], 2),
                hours_reactive=round(hours["reactive"], 2),
                visits_proactive=visit_count["proactive"],
                visits_reactive=visit_count["reactive"],
                tickets=tickets,
                rhem=_per_endpoint(hours["reactive"], ep, days),
                tickets_per_endpoint=_per_endpoint(tickets, ep, days),
            )
        )
    hours_p = sum(w.hours for w, c in work_in if w.kind == "time_entry" and c == "proactive")
    hours_r = sum(w.hours for w, c in work_in if w.kind == "time_entry" and c == "reactive")
    totals = Totals(
        hours_proactive=round(hours_p, 2),
        hours_reactive=round(hours_r, 2),
        visits_proactive=sum(1 for v in visits if v.work_class == "proactive"),
        visits_reactive=sum(1 for v in visits if v.work_class == "reactive"),
        visits_onsite=sum(1 for v in visits if v.location == "onsite"),
        visits_remote=sum(1 for v in visits if v.location == "remote"),
        tickets=len(tickets_in),
        endpoints=ep,
        rhem=_per_endpoint(hours_r, ep, period.days),
        tickets_per_endpoint=_per_endpoint(len(tickets_in), ep, period.days),
        rhem_target=hp.rhem_target,
        tickets_per_endpoint_target=hp.tickets_per_endpoint_target,
        proactive_share_target=hp.proactive_share_target,
        green_at=hp.green_at,
        yellow_at=hp.yellow_at,
    )

    judged_at = min(end, max(state.seen.values(), default=end))
    engine = Engine(tenant)
    # Evidence older than this is no longer judged (its context may be pruned): not a habit.
    judged_from = engine.judged_from(state, max(state.seen.values(), default=end))
    recommendations = _recommendations(state, tenant, start, end, judged_at)
    counts = {s: sum(1 for r in recommendations if r.status == s) for s in _REC_STATUSES}
    counts["presented"] = sum(
        1 for r in recommendations if r.presented is not None and inside(r.presented.timestamp())
    )
    alerts = [a for a in state.alerts.values() if not a.pending and inside(a.at)]
    daily = sorted(
        (_dt(int(k) * DAY).date(), v)
        for k, v in state.health.daily_scores.items()
        if inside(int(k) * DAY)
    )
    return Report(
        tenant=tenant.tenant,
        branding=tenant.branding,
        client_id=client.id,
        client_name=client.name,
        account_lead=client.account_lead.name,
        period=period,
        as_of=_dt(newest) if newest is not None else None,
        kept_from=_dt(kept_from) if kept_from is not None else None,
        notes=_notes(period, kept_from, newest, daily, engine.retention),
        totals=totals,
        visits=visits,
        months=months,
        share_history=_share_history(_hours_by_month(state, class_of, end)),
        unasked=_unasked(tickets_in, state),
        alerts_seen=len(alerts),
        alerts_resolved=sum(1 for a in alerts if a.resolved is not None),
        recommendations=recommendations,
        habits=_habits(state, tenant, start, end, judged_at, judged_from),
        health=daily,
        health_now=daily[-1][1] if daily else None,
        band_now=band_of(daily[-1][1], hp).value if daily else None,
        recommendation_counts=counts,
    )


def _hours_by_month(
    state: ClientState, class_of: Callable[[WorkRec], WorkClass], end: float
) -> dict[str, list[float]]:
    """Proactive and reactive hours per month, for every month the state holds up to `end`."""
    months: dict[str, list[float]] = {}
    for w in state.work.values():
        if w.kind != "time_entry" or w.at >= end:
            continue
        pair = months.setdefault(_month_key(w.at), [0.0, 0.0])
        pair[0 if class_of(w) is WorkClass.proactive else 1] += w.hours
    return months


def _share_history(months: dict[str, list[float]]) -> list[tuple[str, float | None]]:
    return [
        (key, round(p / (p + r), 4) if p + r else None) for key, (p, r) in sorted(months.items())
    ]


def _unasked(tickets: list[TicketRec], state: ClientState) -> list[Unasked]:
    """Work the MSP started: monitoring findings, patch cycles, maintenance, planned work."""
    out: list[Unasked] = []
    for t in tickets:
        if t.initiator == "rmm":
            kind = "monitoring"
        elif t.nature == "maintenance" and any(w in (t.summary or "").lower() for w in PATCH_WORDS):
            kind = "patching"
        elif t.nature == "maintenance":
            kind = "maintenance"
        elif t.initiator == "msp_scheduled":
            kind = "planned"
        else:
            continue
        hours = sum(state.work[r].hours for r in state.work_of_ticket(t.ref))
        out.append(Unasked(_dt(t.created), kind, _ticket_line(t) or t.ref, round(hours, 2)))
    return out


_REC_STATUSES = ("accepted", "declined", "overdue", "open")


def _recommendations(
    state: ClientState, tenant: Tenant, start: float, end: float, judged_at: float
) -> list[RecommendationLine]:
    """Recommendations presented in the period, or still waiting for an answer in it."""
    p = tenant.classifier.detectors.ignored_recommendation
    lines: list[RecommendationLine] = []
    for r in sorted(
        state.recommendations.values(), key=lambda r: (r.presented or r.updated, r.ref)
    ):
        presented = r.presented if r.presented is not None else r.updated
        answered = r.answered if r.answered is not None else r.updated
        if presented >= end:
            continue
        closed = r.status != "open"
        if closed and answered < start and presented < start:
            continue  # answered before the period: last period's business
        due = r.due if r.due is not None else presented + p.default_due_days * DAY
        if r.status in ("accepted", "done"):
            status = "accepted"
        elif r.status == "declined":
            status = "declined"
        elif judged_at >= due + p.grace_days * DAY:
            status = "overdue"
        else:
            status = "open"
        until = min(answered, judged_at) if closed else judged_at
        lines.append(
            RecommendationLine(
                title=r.title,
                status=status,
                presented=_dt(r.presented) if r.presented is not None else None,
                age_days=max(0, int((until - presented) // DAY)),
                due=_dt(due),
            )
        )
    return lines


def _habits(
    state: ClientState,
    tenant: Tenant,
    start: float,
    end: float,
    judged_at: float,
    judged_from: float,
) -> list[Habit]:
    """The behaviours the classifier would signal, with their evidence inside the period
    (and judged: `Engine.judged_from`)."""
    policy = tenant.classifier
    habits: list[Habit] = []
    for behaviour, detect in det.DETECTORS.items():
        p = det.detector_policy(policy, behaviour)
        found = [f for f in detect(state, policy, judged_at) if f.at >= judged_from]
        evidence = [
            f
            for episode in det.episodes(behaviour, found, p, judged_at)
            if episode.raised
            for f in episode.evidence
            if start <= f.at < end
        ]
        if not evidence:
            continue
        words = WORDS[Behaviour(behaviour)]
        habits.append(
            Habit(
                behaviour=behaviour.value,
                title=words.title,
                text=words.habit(len(evidence)),
                occurrences=len(evidence),
                evidence=[
                    EvidenceLine(_dt(f.at), f.note, f.ref) for f in evidence[-EVIDENCE_SHOWN:]
                ],
            )
        )
    return habits


def _notes(
    period: Period,
    kept_from: float | None,
    newest: float | None,
    daily: list[tuple[date, float]],
    retention: float,
) -> list[str]:
    notes: list[str] = []
    start, end = period.start.timestamp(), period.end.timestamp()
    if kept_from is None or newest is None or newest < start:
        notes.append("No activity was recorded for this period.")
    elif kept_from > start + DAY and newest - retention > start:
        days = round(retention / DAY)
        notes.append(
            f"partnerpulse keeps about {days} days of detailed records; this report shows the "
            f"period from {_dt(kept_from):%Y-%m-%d} on. Earlier work is not included."
        )
    elif kept_from > start + DAY:
        notes.append(f"The first records of this client are of {_dt(kept_from):%Y-%m-%d}.")
    if newest is not None and start <= newest and newest < end - DAY:
        notes.append(f"The period is not over: figures as of {_dt(newest):%Y-%m-%d %H:%M} UTC.")
    if not daily:
        notes.append("No daily health scores are kept for this period.")
    return notes
