"""Partnership health: KPIs over event-time windows, and the 0-100 score.

The score starts at 100 and each component takes points off, so the
components *are* the explanation: an open behaviour signal costs its weight;
RHEM, tickets per endpoint and a low proactive share cost up to their
configured maximum, rising linearly from the target to four times it (or to a
zero proactive share). Bands follow the products MSPs know (green at 70 and
above, yellow from 40, red below), all configurable per tenant.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from services.classifier.domain.labels import label_work
from services.classifier.domain.state import DAY, ClientState, TicketRec, WorkRec
from services.events.outputs import Band, Behaviour, WindowHealth, WorkClass
from services.events.policy import ClassifierPolicy, HealthPolicy

if TYPE_CHECKING:
    from services.classifier.domain.engine import ClientView, Engine

WINDOWS = (30, 90)
# The component a client with no work, tickets or visits in the judged window carries:
# zero points, so it is green, and the reason is written where the points are.
NO_ACTIVITY = "no_activity"

ClassOf = Callable[[WorkRec], WorkClass]


@dataclass(frozen=True)
class Score:
    score: float
    band: Band
    components: dict[str, float]


def endpoints(state: ClientState, configured: int | None) -> int | None:
    if configured:
        return configured
    return len(state.devices) or None


def window_health(
    state: ClientState,
    days: int,
    watermark: float,
    class_of: ClassOf,
    behaviour_counts: dict[Behaviour, int],
    endpoint_count: int | None,
) -> WindowHealth:
    start = watermark - days * DAY
    hours = {WorkClass.proactive: 0.0, WorkClass.reactive: 0.0}
    onsite = {WorkClass.proactive: 0, WorkClass.reactive: 0}
    for w in state.work.values():
        if not start < w.at <= watermark:
            continue
        work_class = class_of(w)
        if w.kind == "time_entry":
            hours[work_class] += w.hours
        elif w.location == "onsite":
            onsite[work_class] += 1
    tickets = sum(1 for t in state.tickets.values() if start < t.created <= watermark)
    total = hours[WorkClass.proactive] + hours[WorkClass.reactive]
    months = days / 30
    per_endpoint = (
        (lambda x: round(x / endpoint_count / months, 4)) if endpoint_count else (lambda x: None)
    )
    return WindowHealth(
        days=days,
        hours_proactive=round(hours[WorkClass.proactive], 2),
        hours_reactive=round(hours[WorkClass.reactive], 2),
        proactive_share=round(hours[WorkClass.proactive] / total, 4) if total else None,
        rhem=per_endpoint(hours[WorkClass.reactive]),
        tickets=tickets,
        tickets_per_endpoint=per_endpoint(tickets),
        visits_onsite_proactive=onsite[WorkClass.proactive],
        visits_onsite_reactive=onsite[WorkClass.reactive],
        behaviours=behaviour_counts,
    )


def _rising(value: float | None, target: float, max_points: float) -> float:
    """0 at or below target, max_points at 4x target, linear between."""
    if value is None or value <= target:
        return 0.0
    return min(max_points, max_points * (value - target) / (3 * target))


def score(
    window: WindowHealth, open_signal_weights: Iterable[tuple[Behaviour, float]], p: HealthPolicy
) -> Score:
    components: dict[str, float] = {}
    behaviour_points = 0.0
    for behaviour, weight in open_signal_weights:
        components[behaviour.value] = components.get(behaviour.value, 0.0) + weight
        behaviour_points += weight
    if behaviour_points > p.behaviour_max_penalty:
        scale = p.behaviour_max_penalty / behaviour_points
        components = {k: v * scale for k, v in components.items()}
    components["rhem"] = _rising(window.rhem, p.rhem_target, p.rhem_max_penalty)
    components["tickets_per_endpoint"] = _rising(
        window.tickets_per_endpoint, p.tickets_per_endpoint_target, p.tickets_max_penalty
    )
    share = window.proactive_share
    components["proactive_share"] = (
        0.0
        if share is None or share >= p.proactive_share_target
        else p.proactive_max_penalty * (p.proactive_share_target - share) / p.proactive_share_target
    )
    components = {k: round(v, 1) for k, v in components.items()}
    if is_quiet(window) and not behaviour_points:
        components[NO_ACTIVITY] = 0.0
    value = round(max(0.0, 100.0 - sum(components.values())), 1)
    return Score(value, band_of(value, p), components)


def is_quiet(window: WindowHealth) -> bool:
    """No tickets, no hours and no onsite visits in the window."""
    return (
        window.tickets == 0
        and window.hours_proactive == 0
        and window.hours_reactive == 0
        and window.visits_onsite_proactive == 0
        and window.visits_onsite_reactive == 0
    )


def quiet_client_view(
    engine: Engine, client_id: str, tenant: str, watermark: float, now: float
) -> ClientView:
    """The view of a tenant client the classifier holds no events of: a client too, green
    with the `no_activity` component, KPIs at zero (per endpoint when it has endpoints).

    For the query API and the metrics, where a client has no judged view yet:
    `views.get(client.id) or quiet_client_view(engine, client.id, tenant, watermark, now)`.
    Pure: it judges a fresh, empty state and keeps nothing.
    """
    return engine.judge(ClientState(client_id), tenant, watermark, now).view


def band_of(value: float, p: HealthPolicy) -> Band:
    if value >= p.green_at:
        return Band.green
    if value >= p.yellow_at:
        return Band.yellow
    return Band.red


_WORK_CLASS = {c.value: c for c in WorkClass}  # WorkClass(value) is slow; judging asks often


def ticket_class_of(tickets: dict[str, TicketRec], fallback: ClassOf) -> ClassOf:
    """A work record takes its ticket's class when the ticket is known."""

    def class_of(w: WorkRec) -> WorkClass:
        ticket = tickets.get(w.ticket_ref) if w.ticket_ref else None
        return _WORK_CLASS[ticket.work_class] if ticket is not None else fallback(w)

    return class_of


def work_split(
    state: ClientState, start: float, end: float, policy: ClassifierPolicy
) -> dict[str, Any]:
    """Work in (start, end] split by class: what a quarterly review shows."""

    def fallback(w: WorkRec) -> WorkClass:
        return label_work(w, None, policy.same_day_visit_hours)[0]

    class_of = ticket_class_of(state.tickets, fallback)
    hours = {c.value: 0.0 for c in WorkClass}
    tickets = {c.value: 0 for c in WorkClass}
    visits: dict[str, dict[str, int]] = {
        loc: {c.value: 0 for c in WorkClass} for loc in ("onsite", "remote", "unknown")
    }
    onsite: list[dict[str, Any]] = []
    for t in state.tickets.values():
        if start < t.created <= end:
            tickets[t.work_class] += 1
    for w in sorted(state.work.values(), key=lambda w: w.at):
        if not start < w.at <= end:
            continue
        work_class = class_of(w).value
        if w.kind == "time_entry":
            hours[work_class] += w.hours
            continue
        visits[w.location if w.location in visits else "unknown"][work_class] += 1
        if w.location == "onsite":
            onsite.append(
                {
                    "ref": w.ref,
                    "at": datetime.fromtimestamp(w.at, UTC).isoformat(),
                    "work_class": work_class,
                    "ticket_ref": w.ticket_ref,
                    "technician": w.technician,
                }
            )
    total = sum(hours.values())
    return {
        "from": datetime.fromtimestamp(start, UTC).isoformat(),
        "to": datetime.fromtimestamp(end, UTC).isoformat(),
        "hours": {k: round(v, 2) for k, v in hours.items()},
        "proactive_share": round(hours["proactive"] / total, 4) if total else None,
        "tickets": tickets,
        "visits": visits,
        "onsite_visits": onsite,
    }
