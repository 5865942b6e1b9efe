"""Everything the partnership review shows, as typed, immutable records.

Built by `services.report.build` (pure), rendered by `services.report.render`.
Times are aware UTC datetimes; hours are rounded to two decimals where shown.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from services.events.tenant_branding import Branding


@dataclass(frozen=True)
class Period:
    """[start, end): the days the report covers, in event time (UTC)."""

    start: datetime
    end: datetime
    label: str  # "2026Q1", or "2026-01-05 to 2026-02-04"

    @property
    def days(self) -> float:
        return (self.end - self.start).total_seconds() / 86400


@dataclass(frozen=True)
class Visit:
    at: datetime
    technician: str
    location: str  # onsite | remote | unknown
    work_class: str  # proactive | reactive
    why: str  # in plain words
    ticket: str | None  # "#4711 Printer offline"
    hours: float


@dataclass(frozen=True)
class Month:
    """One calendar month of the period (clipped to it)."""

    month: str  # "2026-01"
    days: float  # days of the month inside the period
    hours_proactive: float
    hours_reactive: float
    visits_proactive: int
    visits_reactive: int
    tickets: int
    rhem: float | None  # reactive hours per endpoint per 30 days
    tickets_per_endpoint: float | None  # per 30 days

    @property
    def proactive_share(self) -> float | None:
        total = self.hours_proactive + self.hours_reactive
        return round(self.hours_proactive / total, 4) if total else None


@dataclass(frozen=True)
class Unasked:
    """One piece of work done without the client asking."""

    at: datetime
    kind: str  # monitoring | patching | maintenance | planned
    what: str
    hours: float


@dataclass(frozen=True)
class RecommendationLine:
    title: str
    status: str  # accepted | declined | overdue | open
    presented: datetime | None
    age_days: int | None  # from presentation to the answer, or to the period's end
    due: datetime | None


@dataclass(frozen=True)
class EvidenceLine:
    at: datetime
    note: str
    ref: str


@dataclass(frozen=True)
class Habit:
    behaviour: str
    title: str  # constructive
    text: str  # what was seen and what helps, in plain words
    occurrences: int
    evidence: list[EvidenceLine]


@dataclass(frozen=True)
class Totals:
    hours_proactive: float
    hours_reactive: float
    visits_proactive: int
    visits_reactive: int
    visits_onsite: int
    visits_remote: int
    tickets: int
    endpoints: int | None
    rhem: float | None
    tickets_per_endpoint: float | None
    rhem_target: float
    tickets_per_endpoint_target: float
    proactive_share_target: float = 0.6
    green_at: float = 70
    yellow_at: float = 40

    @property
    def proactive_share(self) -> float | None:
        total = self.hours_proactive + self.hours_reactive
        return round(self.hours_proactive / total, 4) if total else None


@dataclass(frozen=True)
class Report:
    tenant: str
    branding: Branding
    client_id: str
    client_name: str
    account_lead: str
    period: Period
    as_of: datetime | None  # newest event time the report saw within the period
    kept_from: datetime | None  # oldest event-level record the classifier still holds
    notes: list[str]  # what the reader must know about coverage
    totals: Totals
    visits: list[Visit]
    months: list[Month]
    share_history: list[tuple[str, float | None]]  # month -> proactive share, all kept months
    unasked: list[Unasked]
    alerts_seen: int
    alerts_resolved: int
    recommendations: list[RecommendationLine]
    habits: list[Habit]
    health: list[tuple[date, float]]  # daily scores within the period
    health_now: float | None = None
    band_now: str | None = None
    recommendation_counts: dict[str, int] = field(default_factory=dict)

    @property
    def unasked_summary(self) -> list[tuple[str, int, float]]:
        """(kind, items, hours) of the work done without being asked, by kind."""
        kinds: dict[str, tuple[int, float]] = {}
        for u in self.unasked:
            n, h = kinds.get(u.kind, (0, 0.0))
            kinds[u.kind] = (n + 1, h + u.hours)
        return [(k, n, round(h, 2)) for k, (n, h) in kinds.items()]
