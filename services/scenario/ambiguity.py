"""The ambiguity report: which decisions were close to a threshold, and how close.

Precision and recall say how many decisions were wrong, not why. For every
behaviour this lists the false positives, the false negatives and the true
positives that only just made it, each with its distance to the thresholds of
the tenant's `classifier:` policy, nearest first:

- evidence: the evidence count against `min_occurrences`, and the span of the
  densest `min_occurrences` pieces against `window_days`;
- late_reporting: the alert's lead in hours against `alert_lead_hours` (and
  `alert_lookback_days`), the issue's age against `issue_age_hours`;
- skipped_meeting: the notice of a cancellation against `short_notice_hours`,
  reschedules against `reschedules`;
- unannounced_change: the days since the nearest request or change ticket
  against `announce_days`.

A predicted signal's measures come from its evidence (times and notes); a true
signal the pipeline missed is measured on the events the pipeline published
(ticket and alert times, devices, sites). Bands: the score's distance to
`green_at` / `yellow_at`, with the components that took points off. Pure
functions over plain data; `evaluate` gathers the inputs.
"""

from __future__ import annotations

import json
import math
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from rich.table import Table

from services.events.policy import ClassifierPolicy
from services.scenario.files import Truth
from services.scenario.scoring import match

HOUR, DAY = 3600.0, 86400.0
BORDERLINE = 0.25  # a true positive within this share of a threshold is listed
BAND_POINTS = 5.0  # a band within this many points of a boundary is listed


@dataclass(frozen=True)
class Evidence:
    ref: str
    at: float | None  # unix time; None when unknown
    note: str = ""


@dataclass(frozen=True)
class Seen:
    """A signal the pipeline published (its latest version)."""

    client: str
    behaviour: str
    signal_id: str
    evidence: tuple[Evidence, ...]
    evidence_count: int


@dataclass(frozen=True)
class Fact:
    """What the events topic says of one record (for measuring missed signals)."""

    ref: str
    client: str
    kind: str
    at: float
    devices: frozenset[str] = frozenset()
    site: str | None = None
    nature: str | None = None
    status: str | None = None
    issue_started: float | None = None


@dataclass(frozen=True)
class ClientView:
    band: str | None
    score: float | None
    components: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Measure:
    name: str
    value: float
    threshold: float
    unit: str = ""

    @property
    def distance(self) -> float:
        return self.value - self.threshold

    @property
    def relative(self) -> float:
        return abs(self.distance) / self.threshold if self.threshold else math.inf

    def text(self) -> str:
        unit = f" {self.unit}" if self.unit else ""
        return f"{self.name} {self.value:.4g}{unit} vs {self.threshold:.4g} ({self.distance:+.3g})"


@dataclass
class Decision:
    behaviour: str
    client: str
    verdict: str  # "false positive", "false negative", "borderline" (a true positive)
    signal: str  # signal id, or the true signal's first evidence ref
    measures: list[Measure]

    @property
    def nearest(self) -> Measure | None:
        return min(self.measures, key=lambda m: m.relative, default=None)

    def to_dict(self) -> dict[str, Any]:
        nearest = self.nearest
        return {
            "behaviour": self.behaviour,
            "client": self.client,
            "verdict": self.verdict,
            "signal": self.signal,
            "nearest": asdict(nearest) | {"distance": nearest.distance} if nearest else None,
            "measures": [asdict(m) | {"distance": m.distance} for m in self.measures],
        }


@dataclass
class BandEdge:
    client: str
    truth: str
    predicted: str | None
    score: float | None
    boundary: str  # "green_at" or "yellow_at"
    distance: float | None  # score - that boundary
    components: dict[str, float]


@dataclass
class Ambiguity:
    decisions: list[Decision]
    bands: list[BandEdge]

    def to_dict(self) -> dict[str, Any]:
        return {
            "decisions": [d.to_dict() for d in self.decisions],
            "bands": [asdict(b) for b in self.bands],
        }


# -- measures --------------------------------------------------------------------------------

_NOTES: dict[str, list[tuple[re.Pattern[str], str, str, float]]] = {
    # behaviour -> (pattern, measure, policy field, factor to the field's unit)
    "late_reporting": [
        (re.compile(r"alerted (\d+(?:\.\d+)?) h earlier"), "alert lead", "alert_lead_hours", 1.0),
        (re.compile(r"started (\d+(?:\.\d+)?) days before"), "issue age", "issue_age_hours", 24.0),
    ],
    "skipped_meeting": [
        (re.compile(r"cancelled (\d+(?:\.\d+)?) h before"), "notice", "short_notice_hours", 1.0),
        (re.compile(r"rescheduled (\d+) times"), "reschedules", "reschedules", 1.0),
    ],
}
_UNITS = {"alert_lead_hours": "h", "issue_age_hours": "h", "short_notice_hours": "h"}
_ANNOUNCING = {"request", "change", "project"}


def _density(times: Sequence[float], n: int, window_days: float) -> Measure | None:
    """The span of the densest `n` pieces, in days, against the window."""
    ordered = sorted(times)
    if n < 2 or len(ordered) < n:
        return None
    span = min(ordered[i + n - 1] - ordered[i] for i in range(len(ordered) - n + 1))
    return Measure("densest span", span / DAY, window_days, "d")


def _from_notes(behaviour: str, evidence: Sequence[Evidence], policy: Any) -> list[Measure]:
    """The piece of evidence nearest each threshold its note states a number for."""
    best: dict[str, Measure] = {}
    for pattern, name, threshold_field, factor in _NOTES.get(behaviour, []):
        for piece in evidence:
            found = pattern.search(piece.note)
            if found is None:
                continue
            m = Measure(
                name,
                float(found.group(1)) * factor,
                float(getattr(policy, threshold_field)),
                _UNITS.get(threshold_field, ""),
            )
            if name not in best or m.relative < best[name].relative:
                best[name] = m
    return list(best.values())


def _late_from_facts(ticket: Fact, facts: Sequence[Fact], policy: Any) -> list[Measure]:
    """A missed late report, measured as the detector would: the latest alert on the
    ticket's devices (or site) before the ticket; the issue's age."""
    out = []
    alerts = [
        f
        for f in facts
        if f.kind == "rmm_alert"
        and f.client == ticket.client
        and f.status != "resolved"
        and f.at <= ticket.at
        and (f.devices & ticket.devices if ticket.devices else f.site == ticket.site)
    ]
    if alerts:
        latest = max(alerts, key=lambda f: f.at)
        lead = (ticket.at - latest.at) / HOUR
        out.append(Measure("alert lead", lead, float(policy.alert_lead_hours), "h"))
        out.append(Measure("alert age", lead / 24, float(policy.alert_lookback_days), "d"))
    if ticket.issue_started is not None:
        age = (ticket.at - ticket.issue_started) / HOUR
        out.append(Measure("issue age", age, float(policy.issue_age_hours), "h"))
    return out


def _announce_from_facts(change: Fact, facts: Sequence[Fact], policy: Any) -> list[Measure]:
    before = [
        f.at
        for f in facts
        if f.kind == "ticket"
        and f.client == change.client
        and f.nature in _ANNOUNCING
        and f.at <= change.at
    ]
    if not before:
        return []
    gap = (change.at - max(before)) / DAY
    return [Measure("last request before", gap, float(policy.announce_days), "d")]


def measures(
    behaviour: str,
    evidence: Sequence[Evidence],
    count: int,
    policy: ClassifierPolicy,
    facts_by_ref: Mapping[str, Fact],
    facts: Sequence[Fact],
) -> list[Measure]:
    p = getattr(policy.detectors, behaviour)
    out = [Measure("evidence", float(count), float(p.min_occurrences))]
    times = [e.at for e in evidence if e.at is not None]
    density = _density(times, p.min_occurrences, float(p.window_days))
    if density is not None:
        out.append(density)
    out += _from_notes(behaviour, evidence, p)
    noted = {m.name for m in out}
    for piece in evidence:
        fact = facts_by_ref.get(piece.ref)
        if fact is None:
            continue
        if behaviour == "late_reporting" and fact.kind == "ticket":
            extra = _late_from_facts(fact, facts, p)
        elif behaviour == "unannounced_change" and fact.kind == "device_change":
            extra = _announce_from_facts(fact, facts, p)
        else:
            extra = []
        out += [m for m in extra if m.name not in noted]
        noted |= {m.name for m in extra}
    return out


# -- the report ----------------------------------------------------------------------------


def analyse(
    truth: Truth,
    seen: Sequence[Seen],
    policy: ClassifierPolicy,
    facts: Sequence[Fact],
    views: Mapping[str, ClientView],
    *,
    borderline: float = BORDERLINE,
    band_points: float = BAND_POINTS,
) -> Ambiguity:
    by_ref = {f.ref: f for f in facts}
    true_by: dict[tuple[str, str], list[frozenset[str]]] = defaultdict(list)
    for s in truth.signals:
        true_by[(s.client, str(s.behaviour))].append(s.evidence)
    seen_by: dict[tuple[str, str], list[Seen]] = defaultdict(list)
    for p in seen:
        seen_by[(p.client, p.behaviour)].append(p)
    decisions: list[Decision] = []
    for key in sorted(set(true_by) | set(seen_by)):
        client, behaviour = key
        if not hasattr(policy.detectors, behaviour):
            continue
        trues, preds = true_by.get(key, []), seen_by.get(key, [])
        pairs = match(trues, [frozenset(e.ref for e in p.evidence) for p in preds])
        hit_true, hit_pred = {i for i, _ in pairs}, {j for _, j in pairs}
        for j, p in enumerate(preds):
            m = measures(behaviour, p.evidence, p.evidence_count, policy, by_ref, facts)
            verdict = "borderline" if j in hit_pred else "false positive"
            decision = Decision(behaviour, client, verdict, p.signal_id, m)
            near = decision.nearest
            if verdict != "borderline" or (near is not None and near.relative <= borderline):
                decisions.append(decision)
        for i, refs in enumerate(trues):
            if i in hit_true:
                continue
            evidence = [Evidence(r, by_ref[r].at if r in by_ref else None) for r in sorted(refs)]
            m = measures(behaviour, evidence, len(refs), policy, by_ref, facts)
            decisions.append(
                Decision(behaviour, client, "false negative", sorted(refs)[0] if refs else "", m)
            )
    decisions.sort(key=lambda d: (d.behaviour, d.nearest.relative if d.nearest else math.inf))
    return Ambiguity(decisions, _bands(truth, views, policy, band_points))


def _bands(
    truth: Truth, views: Mapping[str, ClientView], policy: ClassifierPolicy, points: float
) -> list[BandEdge]:
    health = policy.health
    out = []
    for client in sorted(truth.health):
        expected = str(truth.health[client])
        view = views.get(client, ClientView(None, None))
        score = view.score
        boundary, distance = "green_at", None
        if score is not None:
            boundary, edge = min(
                (("green_at", health.green_at), ("yellow_at", health.yellow_at)),
                key=lambda b: abs(score - b[1]),
            )
            distance = score - edge
        if view.band == expected and distance is not None and abs(distance) > points:
            continue
        taken = {k: round(v, 2) for k, v in view.components.items() if v}
        out.append(BandEdge(client, expected, view.band, view.score, boundary, distance, taken))
    return out


# -- inputs and output ------------------------------------------------------------------------


def facts_from_events(values: Iterable[bytes], event_ids: set[str] | None = None) -> list[Fact]:
    """The facts of canonical events (JSON, as on the events topic); others are skipped."""
    out = []
    for value in values:
        try:
            event = json.loads(value)
            if event_ids is not None and event["event_id"] not in event_ids:
                continue
            payload = event["payload"]
            ref = "{source}:{entity}:{id}".format(**event["refs"][0])
            devices = payload.get("device_ids") or (
                [payload["device_id"]] if payload.get("device_id") else []
            )
            out.append(
                Fact(
                    ref=ref,
                    client=str(event["client_id"]),
                    kind=str(payload["kind"]),
                    at=_stamp(payload.get("created_at") or event["occurred_at"]),
                    devices=frozenset(str(d) for d in devices),
                    site=payload.get("site"),
                    nature=payload.get("nature"),
                    status=payload.get("status"),
                    issue_started=_stamp(payload["issue_started_at"])
                    if payload.get("issue_started_at")
                    else None,
                )
            )
        except (ValueError, KeyError, TypeError, IndexError):
            continue
    return out


def _stamp(text: str) -> float:
    return datetime.fromisoformat(str(text).replace("Z", "+00:00")).timestamp()


def table(report: Ambiguity) -> Table:
    out = Table(title="borderline decisions (nearest threshold first)", title_justify="left")
    for column in ("behaviour", "client", "verdict", "nearest threshold", "other measures"):
        out.add_column(column)
    for d in report.decisions:
        near = d.nearest
        others = "; ".join(m.text() for m in d.measures if m is not near)
        out.add_row(d.behaviour, d.client, d.verdict, near.text() if near else "-", others)
    for b in report.bands:
        score = f"{b.score:.1f}" if b.score is not None else "none"
        distance = f" ({b.distance:+.1f})" if b.distance is not None else ""
        taken = ", ".join(f"{k} {v:g}" for k, v in sorted(b.components.items(), key=_points))
        verdict = "agrees" if b.truth == b.predicted else f"{b.predicted} (truth {b.truth})"
        out.add_row("band", b.client, verdict, f"score {score} vs {b.boundary}{distance}", taken)
    return out


def _points(item: tuple[str, float]) -> float:
    return -item[1]
