"""The ambiguity report: each wrong or narrow decision, with its distance to a threshold."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from services.events.outputs import Band, Behaviour
from services.events.policy import ClassifierPolicy
from services.scenario.ambiguity import (
    DAY,
    HOUR,
    ClientView,
    Evidence,
    Fact,
    Seen,
    analyse,
    facts_from_events,
    table,
)
from services.scenario.files import TrueSignal, Truth

T0 = datetime(2026, 3, 2, 14, tzinfo=UTC).timestamp()
POLICY = ClassifierPolicy()  # late reporting: lead 4 h, lookback 7 d, min 2 in 60 d


def truth(*signals: TrueSignal, health: dict[str, Band] | None = None) -> Truth:
    return Truth(work={}, signals=list(signals), health=health or {}, personas={})


def late(ref: str, at: float, hours: float) -> Evidence:
    return Evidence(ref, at, f"ticket {ref}: the RMM alerted {hours:g} h earlier (disk full)")


def test_a_false_positive_names_the_threshold_it_barely_crossed() -> None:
    """Three late reports, one with an alert only 4.5 h earlier: half an hour past the
    4 h lead is nearer a threshold (1/8 of it) than 3 pieces are to the 2 needed."""
    seen = Seen(
        "acme",
        "late_reporting",
        "sig-1",
        (
            late("cw:ticket:1", T0, 30),
            late("cw:ticket:2", T0 + 10 * DAY, 4.5),
            late("cw:ticket:3", T0 + 40 * DAY, 20),
        ),
        evidence_count=3,
    )
    report = analyse(truth(), [seen], POLICY, [], {})
    [decision] = report.decisions
    assert (decision.client, decision.verdict) == ("acme", "false positive")
    near = decision.nearest
    assert near is not None
    assert (near.name, near.value, near.threshold) == ("alert lead", 4.5, 4.0)
    names = {m.name: m for m in decision.measures}
    assert names["evidence"].distance == 1  # one piece more than needed
    assert names["densest span"].value == 10 and names["densest span"].threshold == 60


def test_a_missed_late_report_is_measured_on_the_published_events() -> None:
    """Truth: late reporting at globex. The pipeline raised nothing: the alert on the
    ticket's device came 3 h before the ticket, under the 4 h lead."""
    ticket_at = T0 + 2 * DAY
    facts = [
        Fact("nj:alert:9", "globex", "rmm_alert", ticket_at - 3 * HOUR, frozenset({"pc-7"})),
        Fact("nj:alert:8", "globex", "rmm_alert", ticket_at - 1 * HOUR, frozenset({"pc-1"})),
        Fact("cw:ticket:5", "globex", "ticket", ticket_at, frozenset({"pc-7"})),
        Fact("cw:ticket:6", "globex", "ticket", ticket_at + 3 * DAY),
    ]
    signal = TrueSignal(
        "globex", Behaviour.late_reporting, frozenset({"cw:ticket:5", "cw:ticket:6"})
    )
    report = analyse(truth(signal), [], POLICY, facts, {})
    [decision] = report.decisions
    assert decision.verdict == "false negative"
    measures = {m.name: m for m in decision.measures}
    assert measures["alert lead"].value == 3.0  # the alert on pc-7, not the one on pc-1
    assert measures["alert lead"].distance == -1.0
    assert measures["densest span"].value == 3.0


def test_a_comfortable_true_positive_is_not_listed_but_a_narrow_one_is() -> None:
    signal = TrueSignal("acme", Behaviour.late_reporting, frozenset({"cw:ticket:1"}))
    clear = Seen(
        "acme",
        "late_reporting",
        "sig-1",
        tuple(late(f"cw:ticket:{i}", T0 + i * DAY, 48) for i in range(1, 7)),
        evidence_count=6,
    )
    assert analyse(truth(signal), [clear], POLICY, [], {}).decisions == []
    narrow = Seen(
        "acme",
        "late_reporting",
        "sig-1",
        (late("cw:ticket:1", T0, 48), late("cw:ticket:2", T0 + DAY, 48)),
        evidence_count=2,
    )
    [decision] = analyse(truth(signal), [narrow], POLICY, [], {}).decisions
    assert decision.verdict == "borderline"
    assert decision.nearest is not None and decision.nearest.name == "evidence"


def test_an_unannounced_change_missed_because_of_an_unrelated_request_shows_its_gap() -> None:
    change_at = T0 + 20 * DAY
    facts = [
        Fact("cw:ticket:3", "acme", "ticket", change_at - 6.5 * DAY, nature="request"),
        Fact("cw:ticket:4", "acme", "ticket", change_at - 1 * DAY, nature="incident"),
        Fact("nj:device:77", "acme", "device_change", change_at),
    ]
    signal = TrueSignal("acme", Behaviour.unannounced_change, frozenset({"nj:device:77"}))
    [decision] = analyse(truth(signal), [], POLICY, facts, {}).decisions
    gap = {m.name: m for m in decision.measures}["last request before"]
    assert (gap.value, gap.threshold) == (6.5, 7.0)  # the incident does not announce


def test_skipped_meetings_are_measured_on_the_notice_given() -> None:
    seen = Seen(
        "acme",
        "skipped_meeting",
        "sig-3",
        (
            Evidence("cw:schedule:1", T0, "QBR on 2026-03-02 14:00 cancelled 22 h before"),
            Evidence("cw:schedule:2", T0 + DAY, "no-show at QBR on 2026-03-03 14:00"),
        ),
        evidence_count=2,
    )
    [decision] = analyse(truth(), [seen], POLICY, [], {}).decisions
    notice = {m.name: m for m in decision.measures}["notice"]
    assert (notice.value, notice.threshold, notice.distance) == (22.0, 24.0, -2.0)


def test_bands_near_a_boundary_or_wrong_are_listed_with_their_components() -> None:
    views = {
        "acme": ClientView("yellow", 68.5, {"late_reporting": 35.0, "rhem": 0.0}),
        "globex": ClientView("green", 95.0, {}),
        "initech": ClientView("red", 12.0, {"direct_to_tech": 70.0, "rhem": 18.0}),
        "hooli": ClientView(None, None),
    }
    health = {"acme": Band.green, "globex": Band.green, "initech": Band.red, "hooli": Band.green}
    bands = {b.client: b for b in analyse(truth(health=health), [], POLICY, [], views).bands}
    assert set(bands) == {"acme", "hooli"}  # globex and initech are right by a wide margin
    acme = bands["acme"]
    assert (acme.boundary, acme.distance) == ("green_at", -1.5)
    assert acme.components == {"late_reporting": 35.0}
    assert bands["hooli"].predicted is None and bands["hooli"].distance is None


def test_the_report_is_json_and_a_table() -> None:
    seen = Seen("acme", "late_reporting", "sig-1", (late("cw:ticket:1", T0, 5),), 1)
    report = analyse(truth(), [seen], POLICY, [], {"acme": ClientView("green", 71.0)})
    document = json.loads(json.dumps(report.to_dict()))
    [decision] = document["decisions"]
    assert decision["nearest"]["name"] == "alert lead"
    assert decision["nearest"]["distance"] == 1.0
    assert table(report).row_count == 1


def test_facts_come_from_canonical_events() -> None:
    event = {
        "event_id": "e1",
        "client_id": "acme",
        "occurred_at": "2026-03-02T14:00:00Z",
        "refs": [{"source": "ninjaone", "entity": "alert", "id": "9"}],
        "payload": {"kind": "rmm_alert", "status": "triggered", "device_id": "pc-7"},
    }
    other = dict(event, event_id="e2")
    facts = facts_from_events(
        [json.dumps(event).encode(), json.dumps(other).encode(), b"x"], {"e1"}
    )
    assert facts == [
        Fact("ninjaone:alert:9", "acme", "rmm_alert", T0, frozenset({"pc-7"}), status="triggered")
    ]
