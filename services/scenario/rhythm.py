"""When things happen: business hours, weekdays, seasons, holidays and patch Tuesdays.

The simulated clients work on one time zone (`LOCAL_OFFSET` from UTC). People
raise tickets in business hours, mostly mid-morning and mid-afternoon, more on
Mondays and hardly at weekends; monitoring fires around the clock; Microsoft
patches land on the second Tuesday of each month.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta

LOCAL_OFFSET = timedelta(hours=-5)  # the clients' local time (US Eastern standard time)

WEEKDAY_WEIGHT = (1.3, 1.1, 1.0, 1.0, 0.8, 0.05, 0.03)
# Hour of the local working day -> relative weight (8:00 to 17:59).
HOUR_WEIGHT = {
    8: 0.7,
    9: 1.3,
    10: 1.4,
    11: 1.2,
    12: 0.6,
    13: 0.9,
    14: 1.2,
    15: 1.1,
    16: 0.9,
    17: 0.5,
}


def local_midnight(day: date) -> datetime:
    """Local midnight of `day`, in UTC."""
    return datetime.combine(day, time(), UTC) - LOCAL_OFFSET


def local_day(at: datetime) -> date:
    return (at + LOCAL_OFFSET).date()


def at_local(day: date, hour: int, minute: int = 0) -> datetime:
    return local_midnight(day) + timedelta(hours=hour, minutes=minute)


def holidays(year: int) -> set[date]:
    thanksgiving = _nth_weekday(year, 11, 3, 4)
    return {
        date(year, 1, 1),
        date(year, 7, 4),
        thanksgiving,
        thanksgiving + timedelta(days=1),
        date(year, 12, 24),
        date(year, 12, 25),
        date(year, 12, 31),
    }


def is_workday(day: date) -> bool:
    return day.weekday() < 5 and day not in holidays(day.year)


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    first = date(year, month, 1)
    offset = (weekday - first.weekday()) % 7
    return first + timedelta(days=offset + 7 * (n - 1))


def patch_tuesdays(start: datetime, end: datetime) -> list[date]:
    """Second Tuesdays of the months the scenario covers, inside it."""
    days = []
    month = date(local_day(start).year, local_day(start).month, 1)
    while local_midnight(month) < end:
        tuesday = _nth_weekday(month.year, month.month, 1, 2)
        if start <= at_local(tuesday, 13) <= end:
            days.append(tuesday)
        month = (month + timedelta(days=32)).replace(day=1)
    return days


def day_weight(day: date, phase: float) -> float:
    """How busy a day is: weekday, a four-week season, holidays."""
    if day in holidays(day.year):
        return 0.02
    season = 1 + 0.2 * math.sin(2 * math.pi * day.toordinal() / 28 + phase)
    return WEEKDAY_WEIGHT[day.weekday()] * season


def days_between(start: datetime, end: datetime) -> list[date]:
    first, last = local_day(start), local_day(end)
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def business_time(rng: random.Random, day: date) -> datetime:
    hours = list(HOUR_WEIGHT)
    hour = rng.choices(hours, weights=[HOUR_WEIGHT[h] for h in hours])[0]
    return at_local(day, hour, rng.randrange(60)) + timedelta(seconds=rng.randrange(60))


def busy_times(
    rng: random.Random, start: datetime, end: datetime, count: int, phase: float
) -> list[datetime]:
    """`count` moments in business hours between start and end, weighted by day_weight."""
    days = days_between(start, end)
    if not days or count <= 0:
        return []
    weights = [day_weight(d, phase) for d in days]
    moments: list[datetime] = []
    for _ in range(count * 20):
        if len(moments) == count:
            break
        moment = business_time(rng, rng.choices(days, weights=weights)[0])
        if start <= moment <= end:
            moments.append(moment)
    return sorted(moments)


def next_workday_time(rng: random.Random, after: datetime, min_hours: float = 0.0) -> datetime:
    """A business-hours moment at least `min_hours` after `after`."""
    earliest = after + timedelta(hours=min_hours)
    day = local_day(earliest)
    for _ in range(14):
        if is_workday(day):
            moment = business_time(rng, day)
            if moment >= earliest:
                return moment
            if at_local(day, 17, 30) > earliest:
                return earliest + timedelta(minutes=rng.randrange(5, 60))
        day += timedelta(days=1)
    return earliest


def workday_on_or_after(day: date) -> date:
    while not is_workday(day):
        day += timedelta(days=1)
    return day


def uniform_time(rng: random.Random, low: datetime, high: datetime) -> datetime:
    span = max(0.0, (high - low).total_seconds())
    return low + timedelta(seconds=rng.uniform(0, span))


def spaced(
    rng: random.Random, low: datetime, high: datetime, step_days: float, minimum: int
) -> list[datetime]:
    """About one moment every `step_days` between low and high (at least `minimum`),
    evenly spread with jitter, so no gap exceeds 1.5 steps."""
    span = (high - low).total_seconds() / 86400
    if span <= 0:
        return []
    count = max(minimum, round(span / step_days))
    step = span / count
    return [
        low + timedelta(days=step * (i + 0.5) + rng.uniform(-0.25, 0.25) * step)
        for i in range(count)
    ]


def choose_weighted(rng: random.Random, options: Sequence[tuple[str, float]]) -> str:
    return rng.choices([o for o, _ in options], weights=[w for _, w in options])[0]
