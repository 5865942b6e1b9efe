"""The simulator plays every lapse a persona means, so its truth holds only what was played.

The truth is built from the evidence the play records (services/scenario/truth.py): a
lapse the persona meant but the play could not fit (a meeting moved twice with no room
left before the end of the scenario) used to leave a habit at the threshold with one
lapse, which no account manager would call a habit.
"""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import date, timedelta

import pytest

from services.events.models import MeetingKind, MeetingStatus, Source
from services.events.outputs import Band, Behaviour
from services.scenario.habits.catalogue import DAY, HOUR
from services.scenario.habits.direct_to_tech import habit_times
from services.scenario.habits.skipped_meeting import Slot
from services.scenario.model import Meeting
from services.scenario.personas import SINGLE, Persona, severe
from services.scenario.play import ClientPlay, Context
from services.scenario.rhythm import local_midnight
from services.scenario.world import Ids, make_client, technicians

SKIPPER = SINGLE[Behaviour.skipped_meeting]


def play_for(persona: Persona, *, seed: int, days: int = 90) -> ClientPlay:
    """One client of this persona on the MSP's own calendar (canonical meetings, where a
    skip can be a no-show, a late cancellation or a meeting moved twice)."""
    ids = Ids()
    start = local_midnight(date(2026, 1, 5))
    ctx = Context("t", start, start + timedelta(days=days), ids, technicians("t"))
    rng = random.Random(f"habit-play:{seed}")
    client = make_client(
        0,
        "Acme Dental",
        persona.label,
        persona.habits,
        persona.reformed,
        30,
        Source.autotask,
        Source.ninjaone,
        rng,
        ids,
    )
    return ClientPlay(ctx, client, persona, rng)


def skips(play: ClientPlay) -> list[float]:
    return sorted(
        e.at.timestamp()
        for e in play.out.evidence
        if e.behaviour is Behaviour.skipped_meeting and e.habit
    )


@pytest.mark.parametrize("seed", range(12))
def test_a_meeting_the_persona_skips_near_the_end_is_still_a_skip(seed: int) -> None:
    """Whichever way the persona skips (no-show, late cancellation, moving it twice), the
    skip is played; where moving it twice does not fit before the end, it does not turn up."""
    play = play_for(SKIPPER, seed=seed)
    starts = play.end - 3 * HOUR
    meeting = Meeting(
        client=play.client,
        source=Source.canonical,
        id="MTG-1",
        kind=MeetingKind.call,
        title="Fortnightly check-in",
        starts_at=starts,
        minutes=30,
        booked_at=starts - 10 * DAY,
        organiser=play.favourite,
    )
    play._skip(meeting)
    assert len(skips(play)) == 1
    assert meeting.changes[-1].status in (
        MeetingStatus.no_show,
        MeetingStatus.cancelled,
        MeetingStatus.held,  # moved twice, then held
    )
    assert all(change.at <= play.end for change in meeting.changes)


@pytest.mark.parametrize("seed", range(20))
def test_a_skipper_at_the_threshold_skips_twice_weeks_apart(seed: int) -> None:
    """At the threshold a habit is shown just twice, weeks apart, the last near the end:
    twice, never once (the truth would claim a habit from a single lapse)."""
    play = play_for(replace(SKIPPER, at_threshold=True), seed=seed)
    play._meetings()
    assert len(skips(play)) == 2
    skipped = [e for e in play.out.evidence if e.behaviour is Behaviour.skipped_meeting]
    refs = {ref for e in skipped for ref in e.refs}
    first, last = sorted(m.starts_at for m in play.out.meetings if m.ref in refs)
    assert last - first >= 13 * DAY


@pytest.mark.parametrize("seed", range(20))
def test_a_skipper_shows_every_skip_it_means(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every meeting the persona skips becomes one piece of evidence."""
    play = play_for(SKIPPER, seed=seed)
    meant: set[int] = set()
    choose = play._skips

    def remember(held: list[Slot]) -> set[int]:
        meant.update(choose(held))
        return meant

    monkeypatch.setattr(play, "_skips", remember)
    play._meetings()
    assert len(skips(play)) == len(meant) >= 2


@pytest.mark.parametrize("habit", [Behaviour.direct_to_tech, Behaviour.late_reporting])
def test_a_severe_habit_is_the_same_habit_three_times_as_often(habit: Behaviour) -> None:
    """'Severe' is the persona's intent, set apart from any classifier rule (no threshold,
    window or episode): the same lapses three times as often, which an account manager
    calls red on its own, where the habit now and then is yellow."""
    mild, hard = SINGLE[habit], severe(habit)
    now_and_then = habit_times(play_for(mild, seed=1), habit, step_days=6, minimum=2)
    as_a_rule = habit_times(play_for(hard, seed=1), habit, step_days=6, minimum=2)
    assert len(as_a_rule) == pytest.approx(3 * len(now_and_then), rel=0.1)
    shown = frozenset({habit})
    assert (mild.band_for(shown), hard.band_for(shown)) == (Band.yellow, Band.red)
