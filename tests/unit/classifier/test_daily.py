"""A year of a client's days survives the pruning of its detail, as daily totals."""

from __future__ import annotations

from collections import defaultdict

from services.classifier.domain import daily, layout
from services.classifier.domain.engine import Engine, ts
from services.classifier.domain.state import DAY, ClientState
from services.events.tenant import Tenant

from . import factory as f


def year_of_days(days: int) -> tuple[list, dict[int, dict[str, float]]]:  # type: ignore[type-arg]
    """Each day: 1.5 h of planned maintenance and, every third day, an incident ticket
    with 2 h of work on it. The expected totals are tallied from what was generated."""
    events = []
    expected: dict[int, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for d in range(days):
        start = f.at(days=d, hours=1)
        events.append(f.time_entry(f"m{d}", start, 1.5, nature="maintenance"))
        expected[int(ts(start) // DAY)]["hours_proactive"] += 1.5
        if d % 3 == 0:
            opened = f.at(days=d, hours=3)
            events.append(f.ticket(f"t{d}", opened, nature="incident"))
            events.append(f.time_entry(f"w{d}", f.at(days=d, hours=4), 2.0, ticket_id=f"t{d}"))
            expected[int(ts(opened) // DAY)]["tickets"] += 1
            expected[int(ts(opened) // DAY)]["hours_reactive"] += 2.0
    return events, expected


def run(engine: Engine, events: list) -> tuple[ClientState, float]:  # type: ignore[type-arg]
    state = ClientState("acme")
    watermark = 0.0
    for i, e in enumerate(events):
        engine.apply(state, e, watermark)
        watermark = max(watermark, ts(e.occurred_at))
        if i % 20 == 0:
            engine.judge(state, "t", watermark, watermark)
    engine.judge(state, "t", watermark, watermark)
    return state, watermark


def test_pruned_days_keep_their_totals_and_a_day_is_counted_once(tenant: Tenant) -> None:
    engine = Engine(tenant)
    events, expected = year_of_days(300)
    state, watermark = run(engine, events)
    first, last = min(expected), max(expected)
    # The detail of the first months is gone (`Engine.retention`: about seven months,
    # pruned weekly)...
    horizon_day = int((watermark - engine.retention) // DAY)
    assert horizon_day > first + 60
    assert min(int(w.at // DAY) for w in state.work.values()) >= horizon_day - 7
    # ...yet every day has its totals, equal to what was generated.
    got = {t.day: t for t in engine.daily_totals(state, first, last, watermark)}
    assert sorted(got) == sorted(expected)
    for day, want in expected.items():
        assert got[day].hours_proactive == want["hours_proactive"], day
        assert got[day].hours_reactive == want["hours_reactive"], day
        assert got[day].tickets == want["tickets"], day
    assert state.daily, "frozen totals exist for the pruned days"
    assert all(int(k) < int((watermark - engine.retention) // DAY) + 1 for k in state.daily)


def test_totals_are_kept_400_days_then_dropped(tenant: Tenant) -> None:
    engine = Engine(tenant)
    events, expected = year_of_days(520)
    state, watermark = run(engine, events)
    oldest = min(int(k) for k in state.daily)
    # Pruned once a week of event time: the last prune was at most 7 days ago.
    today = int(watermark // DAY)
    assert today - daily.TOTALS_DAYS - 7 <= oldest <= today - daily.TOTALS_DAYS
    assert min(expected) < oldest  # the first days are gone for good


def test_totals_survive_the_changelog_layout(tenant: Tenant) -> None:
    engine = Engine(tenant)
    events, _ = year_of_days(200)
    state, _ = run(engine, events)
    planned = layout.plan(state, layout.Written())
    assert planned is not None
    back = layout.assemble(
        layout.decode_head(planned.head[1]), [value for _, value in planned.parts]
    )
    assert back.daily == state.daily
