"""The engine: idempotent folding, event time, one signal per episode, health."""

from __future__ import annotations

import json
import random

import pytest

from services.classifier.domain.engine import Engine
from services.classifier.domain.health import _rising, band_of, score
from services.classifier.domain.state import ClientState
from services.events.outputs import Band, Behaviour, WindowHealth
from services.events.tenant import Tenant, parse_tenant

from .conftest import Feed
from .factory import (
    DESK,
    RMM,
    TECH,
    at,
    device_change,
    recommendation,
    ticket,
    time_entry,
    visit,
)


def stream() -> list:  # type: ignore[type-arg]
    events = []
    for day in range(0, 80, 2):
        events += [
            ticket(f"m{day}", at(day), nature="maintenance", channel="scheduled", entered_by=RMM),
            time_entry(f"tm{day}", at(day, 1), 1.5, ticket_id=f"m{day}"),
            ticket(f"d{day}", at(day + 1), channel="phone", entered_by=TECH),
            time_entry(f"td{day}", at(day + 1, 1), 0.75, ticket_id=f"d{day}"),
            visit(f"v{day}", at(day + 1, 3), booked=at(day + 1), ticket_id=f"d{day}"),
        ]
    return events


def health_of(feed: Feed) -> tuple[float, str, dict[str, float]]:
    j = feed.engine.judge(feed.state, "t", feed.watermark, 0)
    return j.view.score, j.view.band, j.view.components


def test_redelivery_and_replay_count_nothing_twice(engine: Engine) -> None:
    events = stream()
    once = Feed(engine)(*events)
    twice = Feed(engine)(*events)(*events)  # a full replay after the first pass
    shuffled = list(events) * 2
    random.Random(7).shuffle(shuffled)
    mixed = Feed(engine)(*shuffled)  # redelivery and disorder together
    assert health_of(once) == health_of(twice) == health_of(mixed)
    w = engine.judge(once.state, "t", once.watermark, 0).view.windows["90d"]
    assert (w.hours_proactive, w.hours_reactive) == (60.0, 30.0)


def test_out_of_order_events_land_in_their_event_time_window(engine: Engine) -> None:
    feed = Feed(engine)(
        ticket("new", at(100), nature="maintenance", channel="scheduled", entered_by=RMM),
        time_entry("late-arrival", at(65), 3.0, nature="incident"),  # 35 days before: 90d only
    )
    windows = engine.judge(feed.state, "t", feed.watermark, 0).view.windows
    assert windows["30d"].hours_reactive == 0
    assert windows["90d"].hours_reactive == 3.0


def test_too_late_events_are_labelled_but_not_counted(engine: Engine) -> None:
    feed = Feed(engine)(ticket("now", at(400), nature="maintenance", channel="scheduled"))
    applied = engine.apply(
        feed.state, time_entry("ancient", at(1), 5.0, nature="incident"), feed.watermark
    )
    assert applied.too_late and [w.work_class.value for w in applied.work] == ["reactive"]
    assert "connectwise:time:ancient" not in feed.state.work


def test_repeated_evidence_updates_one_signal(engine: Engine) -> None:
    feed = Feed(engine)
    emitted = []
    for i in range(10):
        feed(ticket(f"d{i}", at(i * 3), channel="direct_phone"))
        emitted += engine.judge(feed.state, "t", feed.watermark, 0).signals
    assert len({s.signal_id for s in emitted}) == 1
    assert [s.version for s in emitted] == list(range(1, 10))  # raised at the 2nd, then updates
    # Ten in 27 days: five times the two-in-30-days habit threshold, the client's rule.
    assert emitted[-1].evidence_count == 10 and emitted[-1].severity == "critical"
    assert emitted[-2].severity == "warning"
    again = engine.judge(feed.state, "t", feed.watermark, 0)
    assert again.signals == []  # nothing new: nothing emitted


def test_episode_resolves_after_quiet_and_a_new_one_starts(engine: Engine) -> None:
    feed = Feed(engine)(
        ticket("d1", at(0), channel="direct_phone"), ticket("d2", at(1), channel="direct_phone")
    )
    first = engine.judge(feed.state, "t", feed.watermark, 0).signals[0]
    feed(ticket("x", at(40), channel="email", entered_by=DESK))  # time passes quietly
    resolved = engine.judge(feed.state, "t", feed.watermark, 0).signals
    assert [(s.signal_id, s.status) for s in resolved] == [(first.signal_id, "resolved")]
    feed(ticket("d3", at(50), channel="direct_phone"), ticket("d4", at(51), channel="direct_phone"))
    new = engine.judge(feed.state, "t", feed.watermark, 0).signals
    assert [s.status for s in new] == ["open"] and new[0].signal_id != first.signal_id


def test_signal_explains_itself_with_evidence(engine: Engine) -> None:
    feed = Feed(engine)(
        ticket("48230", at(0), channel="phone", entered_by=TECH),
        ticket("48231", at(2), channel="phone", entered_by=TECH),
    )
    (signal,) = engine.judge(feed.state, "t", feed.watermark, 0).signals
    assert signal.behaviour is Behaviour.direct_to_tech and signal.client_name == "Acme Dental"
    assert [e.ref for e in signal.evidence] == [
        "connectwise:ticket:48230",
        "connectwise:ticket:48231",
    ]
    assert "ticket 48231 was entered by technician stech" in signal.explanation
    assert signal.explanation.startswith("Acme Dental: requests went straight to a technician")


def test_health_components_explain_the_score(engine: Engine) -> None:
    feed = Feed(engine)(*stream())
    score_value, band, components = health_of(feed)
    # A request straight to a technician every other day: the client's rule, twice 35.
    assert components["direct_to_tech"] == 70.0
    assert score_value == round(100 - sum(components.values()), 1)
    assert band == band_of(score_value, engine.policy.health).value
    j = engine.judge(feed.state, "t", feed.watermark, 0)
    # 40 visits booked; the last starts after the newest event time, so it has not happened.
    assert j.view.windows["90d"].visits_onsite_reactive == 39


def direct_every(days: float, until: float) -> list:  # type: ignore[type-arg]
    """A request straight to a technician every `days` days, up to day `until`."""
    count = int(until / days) + 1
    return [ticket(f"d{i}", at(i * days), channel="direct_phone") for i in range(count)]


def test_severity_is_the_rate_of_lapses_not_the_episode_total(engine: Engine) -> None:
    """Once a week for twelve weeks is a habit (a warning), though the episode holds twelve
    pieces of evidence; every other day for three weeks is the client's rule (critical),
    with fewer pieces in all."""
    weekly = Feed(engine)(*direct_every(7, 80))
    often = Feed(engine)(*direct_every(2, 20))
    (habit,) = engine.judge(weekly.state, "t", weekly.watermark, 0).view.open_signals
    (rule,) = engine.judge(often.state, "t", often.watermark, 0).view.open_signals
    assert habit.evidence_count > rule.evidence_count
    assert (habit.severity.value, rule.severity.value) == ("warning", "critical")


def test_a_habit_kept_as_a_rule_makes_a_client_red_on_its_own(engine: Engine) -> None:
    """One open signal costs its weight (35: one bad habit makes a client yellow); a signal
    whose lapses come at the critical rate costs `critical_weight_factor` times it."""
    weekly = Feed(engine)(*direct_every(7, 80))
    often = Feed(engine)(*direct_every(2, 80))
    assert health_of(weekly)[2]["direct_to_tech"] == 35.0
    score_value, band, components = health_of(often)
    assert components["direct_to_tech"] == 70.0
    assert band == "red" and score_value < engine.policy.health.yellow_at


def test_how_many_recommendations_the_msp_made_is_no_rate_of_the_client(engine: Engine) -> None:
    """A client who leaves every recommendation unanswered shows one habit whether the MSP
    made five or one: the occasions come at the MSP's pace, so the count is no rate of the
    client's (no critical by rate for ignored recommendations, skipped meetings and
    unannounced changes)."""
    feed = Feed(engine)(
        *(
            recommendation(f"r{i}", at(i * 10), status="declined", answered=at(i * 10 + 3))
            for i in range(8)
        )
    )
    (signal,) = engine.judge(feed.state, "t", feed.watermark, 0).view.open_signals
    assert signal.behaviour is Behaviour.ignored_recommendation and signal.evidence_count == 8
    assert signal.severity.value == "warning"
    assert health_of(feed)[2]["ignored_recommendation"] == 35.0


def test_health_snapshot_only_when_it_changes(engine: Engine) -> None:
    feed = Feed(engine)(*stream())
    first = engine.judge(feed.state, "t", feed.watermark, 0)
    second = engine.judge(feed.state, "t", feed.watermark, 0)
    assert first.health is not None and second.health is None and not second.dirty
    assert first.health.seq == 1


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, 0.0), (0.25, 0.0), (1.0, 25.0), (2.0, 25.0), (0.625, 12.5)],
)
def test_rhem_penalty_rises_from_target_to_four_times(value: float | None, expected: float) -> None:
    assert _rising(value, 0.25, 25) == pytest.approx(expected)


def test_score_bands_and_caps(tenant: Tenant) -> None:
    p = tenant.classifier.health
    w = WindowHealth(
        days=90,
        hours_proactive=0,
        hours_reactive=10,
        proactive_share=0.0,
        rhem=1.0,
        tickets=1,
        tickets_per_endpoint=2.0,
        visits_onsite_proactive=0,
        visits_onsite_reactive=0,
        behaviours={},
    )
    s = score(w, [(Behaviour.direct_to_tech, 35), (Behaviour.late_reporting, 35)], p)
    assert s.score == 0.0 and s.band is Band.red
    assert s.components == {
        "direct_to_tech": 35.0,
        "late_reporting": 35.0,
        "rhem": 25.0,
        "tickets_per_endpoint": 10.0,
        "proactive_share": 20.0,
    }
    assert band_of(70, p) is Band.green and band_of(69.9, p) is Band.yellow
    assert band_of(40, p) is Band.yellow and band_of(39.9, p) is Band.red


def test_policy_comes_from_the_tenant_file(tenant: Tenant) -> None:
    raw = tenant.model_dump(mode="json")
    for section in raw["webhooks"].values():  # secrets dump masked; not needed here
        section.pop("secrets", None)
    raw["classifier"] = {"detectors": {"direct_to_tech": {"min_occurrences": 1}}}
    strict = Engine(parse_tenant(raw))
    feed = Feed(strict)(ticket("1", at(0), channel="phone", entered_by=TECH))
    assert [s.behaviour for s in strict.judge(feed.state, "t", feed.watermark, 0).signals] == [
        Behaviour.direct_to_tech
    ]


def test_state_survives_a_json_round_trip(engine: Engine) -> None:
    feed = Feed(engine)(*stream(), device_change("c1", at(70)))
    engine.judge(feed.state, "t", feed.watermark, 0)
    restored = ClientState.from_json(json.loads(json.dumps(feed.state.to_json())))
    assert restored == feed.state


def test_three_client_stream_flags_the_two_vendors_and_not_the_partner(engine: Engine) -> None:
    from .streams import DIRECT, LATE, PARTNER, shuffled_within, three_clients

    events = shuffled_within(three_clients(), window=25)
    feeds = {c: Feed(engine, c) for c in (DIRECT, LATE, PARTNER)}
    watermark = 0.0
    for e in events:
        f = feeds[e.client_id]
        f.watermark = watermark
        f(e)
        watermark = max(watermark, f.watermark)
    verdict = {}
    for client, f in feeds.items():
        j = engine.judge(f.state, "t", watermark, 0)
        verdict[client] = (j.view.band, sorted(s.behaviour.value for s in j.view.open_signals))
    # Every request of theirs goes through the habit (one in three days: ten in 30 days):
    # the client's rule, which alone makes a client red (health.critical_weight_factor).
    assert verdict == {
        DIRECT: ("red", ["direct_to_tech"]),
        LATE: ("red", ["late_reporting"]),
        PARTNER: ("green", []),
    }
