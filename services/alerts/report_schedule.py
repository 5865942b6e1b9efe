"""Which review period has just ended, and when its mail is due (pure).

Periods are calendar months or quarters in the tenant's time zone (`alerts.timezone`):
a month's review is due `send_after` seconds after local midnight of the next month's
first day. Only the most recently ended period is ever due: a service that was down
for two months sends the last one, not a backlog.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from services.events.tenant_reports import Cadence


@dataclass(frozen=True)
class ReviewPeriod:
    cadence: Cadence
    first: date  # first day, local
    last: date  # last day, included
    ends_at: float  # local midnight after `last`, Unix seconds

    @property
    def label(self) -> str:
        """ "2026-10" for a month, "2026Q3" for a quarter: with the client, the idempotency key."""
        if self.cadence is Cadence.quarterly:
            return f"{self.first.year}Q{(self.first.month - 1) // 3 + 1}"
        return f"{self.first.year}-{self.first.month:02d}"

    def query(self) -> dict[str, str]:
        """The classifier report API's period parameters."""
        if self.cadence is Cadence.quarterly:
            return {"quarter": self.label}
        return {"from": self.first.isoformat(), "to": self.last.isoformat()}

    def describe(self) -> str:
        """ "October 2026", "2026Q3 (July to September 2026)"."""
        if self.cadence is Cadence.quarterly:
            return f"{self.label} ({self.first:%B} to {self.last:%B %Y})"
        return f"{self.first:%B %Y}"


def _months(cadence: Cadence) -> int:
    return 3 if cadence is Cadence.quarterly else 1


def _shift(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _midnight(day: date, zone: ZoneInfo) -> float:
    return datetime(day.year, day.month, day.day, tzinfo=zone).timestamp()


def ended_by(cadence: Cadence, at: float, zone: ZoneInfo) -> ReviewPeriod:
    """The most recent period that ended at or before `at`."""
    if cadence is Cadence.off:
        raise ValueError("no period: the cadence is off")
    local = datetime.fromtimestamp(at, zone).date()
    step = _months(cadence)
    current = date(local.year, local.month - (local.month - 1) % step, 1)  # running period
    first = _shift(current, -step)
    return ReviewPeriod(cadence, first, current - timedelta(days=1), _midnight(current, zone))


def due(cadence: Cadence, now: float, zone: ZoneInfo, send_after: float) -> ReviewPeriod | None:
    """The period whose review is due at `now` (ended `send_after` seconds ago or more)."""
    if cadence is Cadence.off:
        return None
    return ended_by(cadence, now - send_after, zone)
