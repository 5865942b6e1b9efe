"""Whole-word matching of the tenant's word lists (services/classifier/domain/words.py)."""

from __future__ import annotations

import pytest

from services.classifier.domain.words import has_term, related, tokens, topics_of
from services.events.policy import LateReportingPolicy

TOPICS = LateReportingPolicy().topics


@pytest.mark.parametrize(
    "text",
    [
        "Outlook keeps asking for the password",
        "Reboot pending after Windows Update on ACME-WS032",
        "Kein Internet im Hafenbüro, WLAN langsam",
        "Disk C: free space is below 10%",
        "Antivirus definitions out of date",
        "borders of the order form",  # no word inside another
        "",
    ],
)
def test_topics_are_the_topics_whose_terms_the_text_uses(text: str) -> None:
    """The compiled lookup gives what testing every term of every topic gives."""
    words = tokens(text)
    assert topics_of(words, TOPICS) == {
        topic for topic, terms in TOPICS.items() if has_term(words, terms)
    }


def test_a_phrase_matches_only_as_a_run_of_whole_words() -> None:
    table = {"upkeep": ["reboot pending"], "network": ["wifi"]}
    assert topics_of(tokens("Reboot pending on PC-7"), table) == {"upkeep"}
    assert topics_of(tokens("pending reboot"), table) == set()
    assert topics_of(tokens("wifi-router offline"), table) == set()


def test_a_table_changed_as_a_new_object_is_compiled_again() -> None:
    first = {"printer": ["drucker"]}
    assert topics_of(["drucker"], first) == {"printer"}
    second = {"printer": ["imprimante"]}
    assert topics_of(["drucker"], second) == set()
    assert related(tokens("Drucker offline"), tokens("Drucker Toner leer"), first) == "printer"
