"""Every behaviour has its words for every reader, in one place."""

from __future__ import annotations

from services.events.outputs import Behaviour
from services.events.wording import WORDS


def test_every_behaviour_is_worded_for_operations_account_leads_and_clients() -> None:
    assert set(WORDS) == set(Behaviour)
    for behaviour, words in WORDS.items():
        for field in ("what", "pattern", "action", "title", "seen", "helps"):
            assert getattr(words, field).strip(), (behaviour, field)


def test_a_habit_sentence_agrees_with_its_count() -> None:
    words = WORDS[Behaviour.direct_to_tech]
    assert words.habit(1).startswith("1 request went straight")
    assert words.habit(3).startswith("3 requests went straight")
