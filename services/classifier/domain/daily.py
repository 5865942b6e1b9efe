"""A client's daily totals: what reporting over a year needs after the detail is gone.

Event-level records are kept only as long as the detectors' windows plus the allowed
lateness and their look-back need them (`Engine.retention`, about 217 days). A review of
the year, or the proactive share of the previous quarters, needs less: per client and
event-time day, hours and visits by class, tickets, alerts and the evidence each
behaviour found. So when the weekly prune is about to drop a day's records, that day's totals are
computed from them (labels are final by then: nothing within the lateness can change
them) and kept, as one small record per day, for `TOTALS_DAYS` (400 days). The days
still in retention are computed from the detail whenever asked, so a day is always
counted from one source, never from both.

Pure functions of the state; the engine calls `freeze` before it prunes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from services.classifier.domain.state import DAY, ClientState, DayTotals, WorkRec
from services.events.outputs import Behaviour, WorkClass

TOTALS_DAYS = 400

# The class of a time entry or visit, with its ticket's labels (labels.label_work).
ClassOf = Callable[[WorkRec], WorkClass]
# When each behaviour's evidence happened (Engine.evidence_times).
Evidence = Mapping[Behaviour, Iterable[float]]


def day_of(at: float) -> int:
    return int(at // DAY)


def compute(
    state: ClientState,
    days: Iterable[int],
    class_of: ClassOf,
    evidence: Mapping[Behaviour, Iterable[float]],
) -> dict[int, DayTotals]:
    """The totals of these days, from the records the state still holds."""
    wanted = set(days)
    out = {d: DayTotals(day=d) for d in wanted}
    for w in state.work.values():
        totals = out.get(day_of(w.at))
        if totals is None:
            continue
        proactive = class_of(w) is WorkClass.proactive
        if w.kind == "time_entry":
            if proactive:
                totals.hours_proactive += w.hours
            else:
                totals.hours_reactive += w.hours
        elif proactive:
            totals.visits_proactive += 1
        else:
            totals.visits_reactive += 1
        if w.kind == "visit" and w.location == "onsite":
            totals.visits_onsite += 1
    for t in state.tickets.values():
        totals = out.get(day_of(t.created))
        if totals is not None:
            totals.tickets += 1
            if t.work_class == WorkClass.reactive.value:
                totals.tickets_reactive += 1
    for a in state.alerts.values():
        totals = out.get(day_of(a.at))
        if totals is not None and not a.pending:
            totals.alerts += 1
    for behaviour, times in evidence.items():
        for at in times:
            totals = out.get(day_of(at))
            if totals is not None:
                totals.evidence[behaviour.value] = totals.evidence.get(behaviour.value, 0) + 1
    for totals in out.values():
        totals.hours_proactive = round(totals.hours_proactive, 4)
        totals.hours_reactive = round(totals.hours_reactive, 4)
    return out


def freeze(
    state: ClientState,
    horizon: float,
    class_of: ClassOf,
    evidence: Evidence | Callable[[], Evidence],
) -> int:
    """Keep the totals of every day before `horizon` that the prune is about to drop
    and that has no totals yet; the number of days frozen. `evidence` may be a
    function, called only when there is a day to freeze (finding it runs every
    detector over the client's window)."""
    last = day_of(horizon)  # the first day the prune keeps
    times = [w.at for w in state.work.values()]
    times += [t.created for t in state.tickets.values()]
    times += [a.at for a in state.alerts.values()]
    days = {day_of(t) for t in times if t < horizon} - {int(k) for k in state.daily}
    days = {d for d in days if d < last}
    if not days:
        return 0
    if callable(evidence):
        evidence = evidence()
    for day, totals in compute(state, days, class_of, evidence).items():
        state.daily[str(day)] = totals
    state.touch(*(d * DAY for d in days))
    return len(days)


def series(
    state: ClientState,
    first_day: int,
    last_day: int,
    class_of: ClassOf,
    evidence: Mapping[Behaviour, Iterable[float]],
) -> list[DayTotals]:
    """Every day from `first_day` to `last_day` with anything in it: frozen totals for
    the days the detail no longer holds, computed ones for the others."""
    frozen = {int(k): v for k, v in state.daily.items() if first_day <= int(k) <= last_day}
    live = compute(
        state, (d for d in range(first_day, last_day + 1) if d not in frozen), class_of, evidence
    )
    merged = {**{d: t for d, t in live.items() if not t.empty}, **frozen}
    return [merged[d] for d in sorted(merged)]
