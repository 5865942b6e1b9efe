"""The period a report covers, from what a user or a request asks: a quarter
(`2026Q1`), or `from`/`to` dates (both days included). Pure; bad input gives a message
that says what is wrong."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

from services.report.model import Period

MAX_DAYS = 3660
_QUARTER = re.compile(r"^(\d{4})-?Q([1-4])$", re.IGNORECASE)


def quarter(text: str) -> Period | str:
    match = _QUARTER.match(text.strip())
    if match is None:
        return f"quarter must look like 2026Q1, not {text[:40]!r}"
    year, q = int(match.group(1)), int(match.group(2))
    if not 1970 <= year <= 9998:
        return f"quarter {text[:40]!r}: year out of range"
    start = datetime(year, 3 * q - 2, 1, tzinfo=UTC)
    end = datetime(year + (q == 4), 1 if q == 4 else 3 * q + 1, 1, tzinfo=UTC)
    return Period(start, end, f"{year}Q{q}")


def _day(text: str, name: str) -> date | str:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        return f"{name} must be a date as YYYY-MM-DD, not {text[:40]!r}"


def between(start_text: str, end_text: str) -> Period | str:
    first = _day(start_text, "from")
    last = _day(end_text, "to")
    if isinstance(first, str):
        return first
    if isinstance(last, str):
        return last
    if last < first:
        return f"to ({last}) is before from ({first})"
    if (last - first).days + 1 > MAX_DAYS:
        return f"a report covers at most {MAX_DAYS} days"
    start = datetime(first.year, first.month, first.day, tzinfo=UTC)
    end = datetime(last.year, last.month, last.day, tzinfo=UTC) + timedelta(days=1)
    return Period(start, end, f"{first} to {last}")


def last_days(until: float, days: int = 90) -> Period:
    """The `days` whole days up to and including the day of `until` (event time)."""
    last = datetime.fromtimestamp(until, UTC).date() if until else date(1970, 1, 1)
    return between((last - timedelta(days=days - 1)).isoformat(), last.isoformat())  # type: ignore[return-value]


def of_query(query: dict[str, str], watermark: float) -> Period | str:
    """The period of a request's query: `quarter=2026Q1`, or `from=...&to=...`, or else
    the 90 days up to the classifier's watermark."""
    if "quarter" in query:
        if "from" in query or "to" in query:
            return "give either quarter or from and to, not both"
        return quarter(query["quarter"])
    if "from" in query or "to" in query:
        if "from" not in query or "to" not in query:
            return "give both from and to (YYYY-MM-DD, both days included)"
        return between(query["from"], query["to"])
    return last_days(watermark)
