"""The right answers of a scenario, from what the personas did (never from the classifier).

- work: every ticket, time entry and visit with the class its intent gives it
  (`model.ticket_class`, the domain's labelling rule);
- signals: the personas' evidence, grouped into episodes with the tenant's
  detector policy (an episode ends after `episode_gap_days` of quiet; it is a
  signal once it holds `min_occurrences` within `window_days`);
- health: green without an open habit, yellow with one, red with two or more.

The generator keeps its evidence clear of every threshold (`margin_problems`)
and its volumes consistent with the bands (`expected_scores`), so the truth
does not hinge on a rounding or on which timestamp of a record is used.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise
from typing import Any

from services.events.outputs import Band, Behaviour, WorkClass
from services.events.policy import ClassifierPolicy, DetectorPolicy, HealthPolicy
from services.scenario.model import Evidence, Ticket, TimeEntry, Visit

MARGIN = timedelta(days=3)


@dataclass(frozen=True)
class SignalEpisode:
    """An episode of a behaviour that reached its detector's threshold: one true signal."""

    client: str
    behaviour: Behaviour
    evidence: tuple[str, ...]
    first_at: datetime
    last_at: datetime

    def open_at(self, end: datetime, policy: DetectorPolicy) -> bool:
        return end - self.last_at < timedelta(days=policy.episode_gap_days)


def detector(policy: ClassifierPolicy, behaviour: Behaviour) -> DetectorPolicy:
    policy_for: DetectorPolicy = getattr(policy.detectors, str(behaviour))
    return policy_for


def _grouped(evidence: Iterable[Evidence]) -> dict[tuple[str, Behaviour], list[Evidence]]:
    groups: dict[tuple[str, Behaviour], list[Evidence]] = defaultdict(list)
    for item in evidence:
        groups[(item.client, item.behaviour)].append(item)
    for items in groups.values():
        items.sort(key=lambda e: (e.at, e.refs))
    return groups


def episodes(items: list[Evidence], policy: DetectorPolicy) -> list[list[Evidence]]:
    """Evidence (sorted by time) split wherever the quiet exceeds the episode gap."""
    gap = timedelta(days=policy.episode_gap_days)
    out: list[list[Evidence]] = []
    for item in items:
        if out and item.at - out[-1][-1].at <= gap:
            out[-1].append(item)
        else:
            out.append([item])
    return out


def densest(items: list[Evidence], window: timedelta) -> int:
    """The most evidence any window of this length holds."""
    times = [e.at for e in items]
    return max(
        (sum(1 for t in times[i:] if t - start <= window) for i, start in enumerate(times)),
        default=0,
    )


def signals(evidence: Iterable[Evidence], policy: ClassifierPolicy) -> list[SignalEpisode]:
    out = []
    for (client, behaviour), items in sorted(_grouped(evidence).items()):
        rule = detector(policy, behaviour)
        for episode in episodes(items, rule):
            if densest(episode, timedelta(days=rule.window_days)) >= rule.min_occurrences:
                refs = tuple(dict.fromkeys(ref for e in episode for ref in e.refs))
                out.append(SignalEpisode(client, behaviour, refs, episode[0].at, episode[-1].at))
    return out


def margin_problems(
    evidence: Iterable[Evidence], end: datetime, policy: ClassifierPolicy
) -> list[str]:
    """Where the truth would hinge on a threshold: a gap, a window or the end too close."""
    problems = []
    for (client, behaviour), items in sorted(_grouped(evidence).items()):
        rule = detector(policy, behaviour)
        gap = timedelta(days=rule.episode_gap_days)
        window = timedelta(days=rule.window_days)
        where = f"{client}/{behaviour}"
        for before, after in pairwise(items):
            if abs((after.at - before.at) - gap) < MARGIN:
                problems.append(f"{where}: a gap of {after.at - before.at} is near {gap}")
        for episode in episodes(items, rule):
            tight = densest(episode, window - MARGIN)
            loose = densest(episode, window + MARGIN)
            if (tight >= rule.min_occurrences) != (loose >= rule.min_occurrences):
                problems.append(f"{where}: the episode is near the {rule.window_days}-day window")
            if abs((end - episode[-1].at) - gap) < MARGIN:
                problems.append(f"{where}: the last evidence is near the episode gap from the end")
    return problems


def band_for(open_signals: int) -> Band:
    return Band.green if open_signals == 0 else Band.yellow if open_signals == 1 else Band.red


def band_of_score(score: float, policy: HealthPolicy) -> Band:
    if score >= policy.green_at:
        return Band.green
    return Band.yellow if score >= policy.yellow_at else Band.red


def _penalty(value: float, target: float, max_penalty: float) -> float:
    """0 at the target, rising linearly to the maximum at 4x the target."""
    if value <= target:
        return 0.0
    return max_penalty * min(1.0, (value - target) / (3 * target))


def expected_scores(
    *,
    tickets: list[Ticket],
    time_entries: list[TimeEntry],
    visits: list[Visit],
    endpoints: int,
    open_signals: int,
    start: datetime,
    end: datetime,
    policy: ClassifierPolicy,
) -> list[float]:
    """The health score under each reasonable reading of the formula: months counted over
    the data or over the whole window, visit hours counted or not (they may double the
    time entries), and no hours read as either no penalty or the full one."""
    health = policy.health
    since = end - timedelta(days=health.window_days)
    hours = {WorkClass.proactive: 0.0, WorkClass.reactive: 0.0}
    visit_hours = {WorkClass.proactive: 0.0, WorkClass.reactive: 0.0}
    for entry in time_entries:
        if since <= entry.started_at <= end:
            hours[entry.work_class] += entry.hours
    for visit in visits:
        if since <= visit.starts_at <= end:
            visit_hours[visit.work_class] += visit.hours
    count = sum(1 for t in tickets if since <= t.created_at <= end)
    behaviour_points = min(
        health.behaviour_max_penalty, open_signals * policy.detectors.direct_to_tech.weight
    )
    span_days = (end - max(start, since)).total_seconds() / 86400
    scores = []
    for days in (span_days, float(health.window_days)):
        months = max(days, 1.0) / 30
        for with_visits in (False, True):
            proactive = hours[WorkClass.proactive] + with_visits * visit_hours[WorkClass.proactive]
            reactive = hours[WorkClass.reactive] + with_visits * visit_hours[WorkClass.reactive]
            rhem = reactive / max(endpoints, 1) / months
            per_endpoint = count / max(endpoints, 1) / months
            total = proactive + reactive
            if total:
                shortfall = max(0.0, health.proactive_share_target - proactive / total)
                share_penalties = [
                    health.proactive_max_penalty * shortfall / health.proactive_share_target
                ]
            else:
                share_penalties = [0.0, health.proactive_max_penalty]
            kpi_penalty = _penalty(rhem, health.rhem_target, health.rhem_max_penalty) + _penalty(
                per_endpoint, health.tickets_per_endpoint_target, health.tickets_max_penalty
            )
            for share_penalty in share_penalties:
                scores.append(max(0.0, 100 - behaviour_points - kpi_penalty - share_penalty))
    return scores


def truth_document(
    *,
    work: dict[str, WorkClass],
    signals: list[SignalEpisode],
    health: dict[str, Band],
    personas: dict[str, str],
) -> dict[str, Any]:
    """truth.json: the format's three keys, plus `personas` (what each client was
    simulated as; an extension evaluators may ignore)."""
    return {
        "work": {ref: str(work[ref]) for ref in sorted(work)},
        "signals": [
            {"client": s.client, "behaviour": str(s.behaviour), "evidence": list(s.evidence)}
            for s in sorted(signals, key=lambda s: (s.client, s.behaviour, s.first_at))
        ],
        "health": {client: str(band) for client, band in sorted(health.items())},
        "personas": dict(sorted(personas.items())),
    }
