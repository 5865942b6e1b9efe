"""Scoring: pure functions from truth and outputs to accuracy, precision, recall, bands, losses."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from services.events.outputs import Band, Behaviour, WorkClass
from services.scenario import collect, scoring
from services.scenario.files import TrueSignal, Truth
from services.scenario.replay import Outcome
from services.scenario.scoring import PredictedSignal, PredictedWork

T0 = datetime(2026, 3, 2, 14, tzinfo=UTC)


def truth(**signals: list[frozenset[str]]) -> Truth:
    return Truth(
        work={},
        signals=[
            TrueSignal(key.split("__")[0], Behaviour(key.split("__")[1]), evidence)
            for key, sets in signals.items()
            for evidence in sets
        ],
        health={},
        personas={},
    )


def predicted(client: str, behaviour: str, *refs: str, signal_id: str = "") -> PredictedSignal:
    return PredictedSignal(
        signal_id or f"{client}-{behaviour}-{refs}", client, behaviour, frozenset(refs)
    )


# -- matching and signals ------------------------------------------------------------------


def test_matching_is_maximum_not_greedy() -> None:
    """True A shares with predictions 0 and 1, true B only with 0: both match."""
    pairs = scoring.match(
        [frozenset({"x", "y"}), frozenset({"x"})],
        [frozenset({"x"}), frozenset({"y"})],
    )
    assert sorted(pairs) == [(0, 1), (1, 0)]


def test_each_true_signal_matches_at_most_one_prediction() -> None:
    """An episode split in two by the pipeline: one match, one spurious signal."""
    scores = scoring.score_signals(
        truth(acme__direct_to_tech=[frozenset({"cw:ticket:1", "cw:ticket:2"})]),
        [
            predicted("acme", "direct_to_tech", "cw:ticket:1"),
            predicted("acme", "direct_to_tech", "cw:ticket:2"),
        ],
    )
    d2t = scores["direct_to_tech"]
    assert (d2t.true, d2t.predicted, d2t.matched) == (1, 2, 1)
    assert d2t.precision == 0.5 and d2t.recall == 1.0
    assert d2t.f1 == pytest.approx(2 / 3)
    assert len(d2t.spurious) == 1 and not d2t.missed


def test_client_and_behaviour_must_agree() -> None:
    scores = scoring.score_signals(
        truth(acme__late_reporting=[frozenset({"cw:ticket:1"})]),
        [
            predicted("globex", "late_reporting", "cw:ticket:1"),  # another client
            predicted("acme", "direct_to_tech", "cw:ticket:1"),  # another behaviour
        ],
    )
    late, d2t = scores["late_reporting"], scores["direct_to_tech"]
    assert (late.matched, late.recall, late.precision) == (0, 0.0, 0.0)
    assert late.missed == [{"client": "acme", "evidence": ["cw:ticket:1"]}]
    assert (d2t.true, d2t.predicted, d2t.precision, d2t.recall) == (0, 1, 0.0, 1.0)


def test_no_shared_reference_is_no_match() -> None:
    scores = scoring.score_signals(
        truth(acme__skipped_meeting=[frozenset({"canonical:meeting:M1"})]),
        [predicted("acme", "skipped_meeting", "canonical:meeting:M2")],
    )
    assert scores["skipped_meeting"].matched == 0


def test_nothing_to_find_and_nothing_found_is_perfect() -> None:
    scores = scoring.score_signals(truth(), [])
    assert set(scores) == {b.value for b in Behaviour}
    for s in scores.values():
        assert (s.precision, s.recall, s.f1) == (1.0, 1.0, 1.0)


def test_every_true_signal_found() -> None:
    scores = scoring.score_signals(
        truth(
            acme__unannounced_change=[frozenset({"ninjaone:device:1"})],
            globex__unannounced_change=[frozenset({"ninjaone:device:7"})],
        ),
        [
            predicted("acme", "unannounced_change", "ninjaone:device:1", "ninjaone:device:2"),
            predicted("globex", "unannounced_change", "ninjaone:device:7"),
        ],
    )
    change = scores["unannounced_change"]
    assert (change.true, change.predicted, change.matched) == (2, 2, 2)
    assert change.f1 == 1.0


def test_a_withdrawn_signal_is_no_prediction_but_is_listed() -> None:
    """Later events (a record the poller brought late) showed the evidence did not hold:
    the signal's latest version is `withdrawn`, the classifier's final word is "no
    signal". It counts neither as a match nor against precision, and is listed."""
    retracted = PredictedSignal("s1", "acme", "unannounced_change", frozenset(), "withdrawn")
    scores = scoring.score_signals(truth(), [retracted])
    change = scores["unannounced_change"]
    assert (change.predicted, change.precision) == (0, 1.0)
    assert change.withdrawn == [{"client": "acme", "signal_id": "s1"}]
    resolved = PredictedSignal("s2", "acme", "unannounced_change", frozenset({"x"}), "resolved")
    assert scoring.score_signals(truth(), [resolved])["unannounced_change"].precision == 0.0


# -- work and bands ----------------------------------------------------------------------------


def test_work_accuracy_counts_an_unlabelled_record_as_wrong() -> None:
    work = scoring.score_work(
        {"a:ticket:1": "reactive", "a:ticket:2": "proactive", "a:ticket:3": "reactive"},
        {
            "a:ticket:1": PredictedWork("a:ticket:1", "reactive", "nature"),
            "a:ticket:2": PredictedWork("a:ticket:2", "reactive", "request_not_scheduled"),
            "a:ticket:9": PredictedWork("a:ticket:9", "reactive", "nature"),  # not in truth
        },
    )
    assert (work.total, work.correct, work.unlabelled) == (3, 1, 1)
    assert work.accuracy == pytest.approx(1 / 3)
    assert work.confusion == {
        "proactive->reactive": 1,
        "reactive->reactive": 1,
        "reactive->unlabelled": 1,
    }
    assert work.disagreements[0] == {
        "ref": "a:ticket:2",
        "truth": "proactive",
        "predicted": "reactive",
        "rule": "request_not_scheduled",
    }


def test_band_agreement_names_each_disagreement() -> None:
    bands = scoring.score_bands(
        {"acme": "green", "globex": "red", "initech": "yellow"},
        {"acme": "green", "globex": "yellow", "initech": None},
        {"globex": 45.0},
    )
    assert (bands.total, bands.agree) == (3, 1)
    assert bands.disagreements == [
        {"client": "globex", "truth": "red", "predicted": "yellow", "score": 45.0},
        {"client": "initech", "truth": "yellow", "predicted": None, "score": None},
    ]


# -- accounting ---------------------------------------------------------------------------------


def outcome(
    seq: int,
    ids: tuple[str, ...],
    *,
    accepted: int | None = None,
    status: int = 202,
    body: str = "",
) -> Outcome:
    new = len(ids) if accepted is None else accepted
    return Outcome(seq, "autotask", status, ids, new, body or f"body-{seq}")


def test_every_accepted_event_accounted_for() -> None:
    accounting = scoring.account(
        [
            outcome(1, ("e1",)),
            outcome(2, ("e2", "e3")),
            outcome(3, ("e1",), accepted=0, body="body-1"),
        ],
        published=["e1", "e2", "e3"],
        unprocessed=[],
        dead_lettered=[],
        work_refs_published=["a:ticket:1"],
        labelled_refs=["a:ticket:1"],
    )
    assert (accounting.accepted_events, accounting.lost, accounting.duplicated) == (3, 0, 0)
    assert accounting.answers == {"202": 3}


def test_lost_at_each_stage() -> None:
    accounting = scoring.account(
        [outcome(i, (f"e{i}",)) for i in range(1, 5)],
        published=["e1", "e2", "e3"],  # e4 never reached the topic
        unprocessed=["e2"],
        dead_lettered=["e3", "not-ours"],
        work_refs_published=["a:ticket:1", "a:ticket:2"],
        labelled_refs=["a:ticket:1"],
    )
    assert accounting.lost == 4
    assert [x["what"] for x in accounting.lost_examples] == [
        "accepted, not on the events topic",
        "not processed by the classifier",
        "dead-lettered by the classifier",
        "work record never labelled",
    ]


def test_duplicates_are_one_vendor_event_stored_twice() -> None:
    accounting = scoring.account(
        [
            outcome(1, ("e1",)),
            outcome(2, ("e1",)),  # the retry was stored as new again
            outcome(3, ("e5",), body="body-1"),  # the same body got another event id
        ],
        published=["e1", "e1", "e5"],
        unprocessed=[],
        dead_lettered=[],
        work_refs_published=[],
        labelled_refs=[],
    )
    assert accounting.duplicated == 2
    assert {x["what"] for x in accounting.duplicated_examples} == {
        "stored as new more than once",
        "a repeated body got other event ids",
    }
    assert accounting.transport_repeats == 1  # on the topic twice: deduplicated downstream


def test_refused_deliveries_are_listed_not_counted_as_events() -> None:
    accounting = scoring.account(
        [outcome(1, ("e1",)), Outcome(2, "halopsa", 422, (), 0, "x", "ticket.id: missing")],
        published=["e1"],
        unprocessed=[],
        dead_lettered=[],
        work_refs_published=[],
        labelled_refs=[],
    )
    assert accounting.answers == {"202": 1, "422": 1}
    assert accounting.rejected == [
        {"seq": 2, "source": "halopsa", "status": 422, "error": "ticket.id: missing"}
    ]
    assert accounting.lost == 0


# -- the report -----------------------------------------------------------------------------------


def test_report_names_each_floor_it_misses_and_serialises() -> None:
    t = Truth(
        work={"a:ticket:1": WorkClass.reactive},
        signals=[TrueSignal("acme", Behaviour.direct_to_tech, frozenset({"a:ticket:1"}))],
        health={"acme": Band.yellow},
        personas={"acme": "direct_to_tech"},
    )
    accounting = scoring.account(
        [outcome(1, ("e1",))],
        published=[],
        unprocessed=[],
        dead_lettered=[],
        work_refs_published=[],
        labelled_refs=[],
    )
    report = scoring.score(
        t,
        work={},
        signals=[],
        bands={"acme": "green"},
        band_scores={"acme": 100.0},
        accounting=accounting,
    )
    assert report.failures() == [
        "1 event(s) lost",
        "work-label accuracy 0.000 < 0.95",
        "direct_to_tech recall 0.000 < 0.9",
        "band agreement 0.000 < 1.0",
    ]
    document = json.loads(json.dumps(report.to_dict()))
    assert document["passed"] is False
    assert document["behaviours"]["direct_to_tech"]["missed"][0]["client"] == "acme"


# -- reading the topics back (collect's pure parts) ------------------------------------------------


def record(partition: int, offset: int, value: dict[str, object]) -> collect.Record:
    return collect.Record(partition, offset, None, json.dumps(value).encode(), {})


def work_item(ref: str, work_class: str, event_id: str) -> dict[str, object]:
    return {
        "tenant": "t",
        "client_id": "acme",
        "ref": ref,
        "event_id": event_id,
        "kind": "ticket",
        "occurred_at": T0.isoformat(),
        "nature": "request",
        "initiator": "service_desk",
        "work_class": work_class,
        "rule": "nature",
    }


def signal(signal_id: str, version: int, *refs: str) -> dict[str, object]:
    return {
        "tenant": "t",
        "client_id": "acme",
        "signal_id": signal_id,
        "version": version,
        "behaviour": "direct_to_tech",
        "severity": "warning",
        "explanation": "asks technicians directly",
        "evidence": [{"ref": r, "at": T0.isoformat(), "note": "n"} for r in refs],
        "evidence_count": len(refs),
        "first_seen_at": T0.isoformat(),
        "last_seen_at": T0.isoformat(),
        "detected_at": T0.isoformat(),
    }


def test_the_latest_work_item_per_ref_wins() -> None:
    latest, bad = collect.latest_work(
        [
            record(1, 5, work_item("a:ticket:1", "proactive", "e2")),
            record(1, 2, work_item("a:ticket:1", "reactive", "e1")),
            collect.Record(0, 0, None, b"not json", {}),
        ]
    )
    assert latest["a:ticket:1"].work_class is WorkClass.proactive
    assert bad == 1


def test_the_highest_version_of_a_signal_wins() -> None:
    signals, bad = collect.latest_signals(
        [
            record(0, 1, signal("s1", 2, "a:ticket:1", "a:ticket:2")),
            record(0, 0, signal("s1", 1, "a:ticket:1")),
            record(0, 2, signal("s1", 2, "a:ticket:1", "a:ticket:2")),  # a repeat
        ]
    )
    assert bad == 0
    assert [(s.signal_id, s.version, len(s.evidence)) for s in signals] == [("s1", 2, 2)]


def test_classifier_dead_letters_are_told_from_ingest_ones() -> None:
    records = [
        collect.Record(0, 0, None, b"", {"partnerpulse.errors.stage": "ingest"}),
        collect.Record(
            0,
            1,
            None,
            b"",
            {"partnerpulse.errors.stage": "classifier", "partnerpulse.event_id": "e9"},
        ),
    ]
    assert collect.classifier_dead_letters(records) == {"e9"}


def test_event_summary_reads_the_first_ref() -> None:
    value = {
        "event_id": "e1",
        "client_id": "acme",
        "refs": [{"source": "autotask", "entity": "ticket", "id": "7"}],
        "payload": {"kind": "ticket"},
    }
    assert collect.event_summary([record(0, 0, value)]) == [
        {"event_id": "e1", "ref": "autotask:ticket:7", "kind": "ticket", "client_id": "acme"}
    ]


def test_waiting_for_a_classifier_that_is_not_there_fails_fast() -> None:
    from services.runtime.broker import free_port

    nobody = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(collect.CollectError, match="does not answer POST"):
        collect.wait_processed(nobody, ["e1"], timeout=600, first_answer_within=0.5)


def test_nothing_to_wait_for_is_done_at_once() -> None:
    result = collect.wait_processed("http://127.0.0.1:9", [], timeout=600)
    assert (result.processed, result.missing) == (0, [])
