"""The simulator: deterministic, vendor-faithful bodies, and a truth the bodies bear out.

The strongest checks read the deliveries back through the real adapters and
apply the domain rules to the canonical events (tests/unit/scenario_reference.py):
the work labels, and every piece of behaviour evidence, must be exactly what
the personas meant, no more and no less.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from services.cli import app
from services.events.models import CanonicalEvent, Channel, Nature, Priority, Source, Ticket
from services.events.outputs import Band, Behaviour
from services.events.tenant import parse_tenant
from services.scenario.files import (
    DELIVERIES,
    TENANT,
    TRUTH,
    ScenarioError,
    load_scenario,
    write_scenario,
)
from services.scenario.personas import MIXTURES, REFORMED_MIN_DAYS
from services.scenario.simulate import Scenario, SimulationConfig, simulate

from .scenario_reference import normalise_all, read

SCENARIOS = Path(__file__).parents[1] / "scenarios"
FAMILIES = SCENARIOS / "families-30d"
FAMILIES_CONFIG = SimulationConfig(clients=7, days=30, seed=1, max_endpoints=40)
FILES = (TENANT, DELIVERIES, TRUTH)


@pytest.fixture(scope="module")
def scenario() -> Scenario:
    """A 90-day scenario with every family, the reformed ones and mixtures."""
    return simulate(SimulationConfig(clients=14, days=90, seed=5, max_endpoints=60))


@pytest.fixture(scope="module")
def delivered(scenario: Scenario) -> list[CanonicalEvent]:
    """The scenario's deliveries through the real adapters, in the order they arrived."""
    return normalise_all(parse_tenant(scenario.tenant), scenario.deliveries, in_delivery_order=True)


@pytest.fixture(scope="module")
def events(delivered: list[CanonicalEvent]) -> list[CanonicalEvent]:
    """The same events in event-time order."""
    return sorted(delivered, key=lambda e: (e.occurred_at, e.event_id))


def write(tmp_path: Path, s: Scenario, name: str) -> Path:
    folder = tmp_path / name
    write_scenario(folder, s.tenant, s.deliveries, s.truth)
    return folder


# -- determinism ---------------------------------------------------------------------------


def test_same_configuration_gives_the_same_bytes(tmp_path: Path) -> None:
    config = SimulationConfig(clients=5, days=20, seed=3, max_endpoints=30)
    first, second = write(tmp_path, simulate(config), "a"), write(tmp_path, simulate(config), "b")
    for name in FILES:
        assert (first / name).read_bytes() == (second / name).read_bytes(), name


def test_another_seed_gives_another_scenario() -> None:
    one = simulate(SimulationConfig(clients=5, days=20, seed=3, max_endpoints=30))
    other = simulate(SimulationConfig(clients=5, days=20, seed=4, max_endpoints=30))
    assert one.deliveries != other.deliveries
    assert one.truth["work"] != other.truth["work"]


@pytest.mark.parametrize(
    "change",
    [{"clients": 0}, {"days": 3}, {"days": 400}, {"max_endpoints": 10}, {"profile": "easy"}],
)
def test_configuration_is_checked(change: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        SimulationConfig(**change)  # type: ignore[arg-type]


# -- the bodies: every one authenticates and parses through its vendor's adapter -----------


def test_every_delivery_of_the_committed_scenario_parses_through_its_adapter() -> None:
    files = load_scenario(FAMILIES)
    deliveries = [
        {"source": d.source.value, "headers": d.headers, "body": d.body.decode()}
        for d in files.deliveries
    ]
    events = normalise_all(files.tenant, deliveries)
    kinds = Counter(e.payload.kind for e in events)
    assert set(kinds) == {
        "ticket",
        "time_entry",
        "visit",
        "meeting",
        "rmm_alert",
        "device_change",
        "recommendation",
    }
    sources = Counter(d.source for d in files.deliveries)
    assert set(sources) == set(Source)


def test_deliveries_mix_vendors_retries_late_arrivals_and_unmapped_values(
    scenario: Scenario, events: list[CanonicalEvent]
) -> None:
    bodies = Counter(d["body"] for d in scenario.deliveries)
    assert any(n > 1 for n in bodies.values()), "no vendor retry (a body sent twice)"
    assert [d["seq"] for d in scenario.deliveries] == list(range(1, len(scenario.deliveries) + 1))
    sent = [d["at"] for d in scenario.deliveries]
    assert sent == sorted(sent)
    tickets = [e.payload for e in events if isinstance(e.payload, Ticket)]
    assert any(t.channel is Channel.unknown for t in tickets), "no unmapped channel"
    assert any(t.nature is Nature.unknown for t in tickets), "no unmapped ticket type"
    assert any(t.priority is Priority.unknown for t in tickets), "no unmapped priority"
    assert any(not e.client_known for e in events), "no event for a client not in the tenant"
    assert any(d["body"].count("\n") > 1 for d in scenario.deliveries), "no NDJSON batch"
    ignored = [
        d
        for d in scenario.deliveries
        if d["source"] == "ninjaone" and "PATCH_MANAGEMENT" in d["body"]
    ]
    assert ignored, "no delivery that carries nothing the pipeline uses"


def test_some_deliveries_arrive_after_later_events(delivered: list[CanonicalEvent]) -> None:
    """A vendor's backlog: events sent minutes to hours late, behind newer ones."""
    newest = None
    behind = 0
    for event in delivered:
        if newest is not None and event.occurred_at < newest - timedelta(minutes=30):
            behind += 1
        newest = max(newest or event.occurred_at, event.occurred_at)
    assert behind > 10


# -- the truth: what the bodies say, by the domain's rules ----------------------------------


Reference = tuple[dict[str, str], dict[tuple[str, Behaviour], set[str]]]


@pytest.fixture(scope="module")
def reference(events: list[CanonicalEvent]) -> Reference:
    """The work labels and behaviour evidence the domain's rules read in the bodies."""
    reading = read(events, max(e.occurred_at for e in events))
    return {r: str(c) for r, c in reading.work.items()}, reading.evidence


def test_work_labels_are_what_the_bodies_say(scenario: Scenario, reference: Reference) -> None:
    work, _ = reference
    assert work == scenario.truth["work"]


def test_behaviour_evidence_is_exactly_what_the_personas_did(
    scenario: Scenario, reference: Reference
) -> None:
    """No unintended evidence (a partner's ticket that looks unannounced), none missing.
    Late reporting is checked on the records (tests/unit/simulator/): see the reference."""
    _, found = reference
    meant: dict[tuple[str, Behaviour], set[str]] = defaultdict(set)
    for item in scenario.records.evidence:
        meant[(item.client, item.behaviour)].add(item.refs[0])
    late = Behaviour.late_reporting
    assert {k: v for k, v in found.items() if v and k[1] is not late} == {
        k: v for k, v in meant.items() if k[1] is not late
    }


def test_truth_signals_are_the_habits_of_that_evidence(
    scenario: Scenario, reference: Reference
) -> None:
    """One signal per habit a persona showed, its evidence what the bodies bear out."""
    _, found = reference
    habits = {(e.client, e.behaviour) for e in scenario.records.evidence if e.habit}
    signalled = [(s["client"], Behaviour(s["behaviour"])) for s in scenario.truth["signals"]]
    assert sorted(signalled) == sorted(habits)
    for signal in scenario.truth["signals"]:
        key = (signal["client"], Behaviour(signal["behaviour"]))
        if key[1] is Behaviour.late_reporting:
            continue
        primary = [r for r in signal["evidence"] if ":alert:" not in r]
        assert primary and set(primary) <= found[key], signal


def test_one_off_lapses_raise_no_signal(scenario: Scenario) -> None:
    """Clients without a habit may lapse once (a direct call, a late report, a no-show):
    evidence, but no signal."""
    signalled = {(s["client"], s["behaviour"]) for s in scenario.truth["signals"]}
    one_offs = [(e.client, str(e.behaviour)) for e in scenario.records.evidence if not e.habit]
    assert one_offs
    assert not set(one_offs) & signalled


def test_bands_follow_the_personas(scenario: Scenario) -> None:
    """As an account manager judges: no habit kept to the end green, one mild yellow, two
    or more (or a severe one) red."""
    bands = scenario.truth["health"]
    for client in scenario.clients:
        persona = scenario.personas[client.id]
        kept = len(persona.habits)
        expected = (
            Band.green if not kept else Band.red if kept >= 2 or persona.severe else Band.yellow
        )
        assert bands[client.id] == expected, client.id
    families = {p.family for p in scenario.personas.values()}
    assert {"partner", "mixture", "reformed"} <= families
    assert Counter(bands.values()).keys() == {"green", "yellow", "red"}


def test_committed_scenario_covers_every_family() -> None:
    files = load_scenario(FAMILIES)
    families = [label.split(" (", 1)[0] for label in files.truth.personas.values()]
    assert sorted(families) == sorted(
        [
            "partner",
            "direct_to_tech",
            "late_reporter",
            "meeting_skipper",
            "recommendation_ignorer",
            "changes_without_notice",
            "mixture: " + " + ".join(sorted(MIXTURES[0])),
        ]
    )
    assert {s.behaviour for s in files.truth.signals} == set(Behaviour)
    assert REFORMED_MIN_DAYS > FAMILIES_CONFIG.days  # no reformed client in 30 days


# -- the files and the command ---------------------------------------------------------------


def test_cli_writes_a_scenario_that_loads(tmp_path: Path) -> None:
    out = tmp_path / "s"
    result = CliRunner().invoke(
        app,
        ["simulate", str(out), "--clients", "3", "--days", "14", "--seed", "2"],
    )
    assert result.exit_code == 0, result.output
    assert "deliveries" in result.output
    files = load_scenario(out)
    assert len(files.tenant.clients) == 3
    assert files.truth.work and files.truth.health


def test_cli_refuses_a_bad_configuration(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["simulate", str(tmp_path / "s"), "--days", "2"])
    assert result.exit_code == 2
    assert "days" in result.output


def copy_families(tmp_path: Path) -> Path:
    folder = tmp_path / "copy"
    folder.mkdir()
    for name in FILES:
        (folder / name).write_bytes((FAMILIES / name).read_bytes())
    return folder


@pytest.mark.parametrize(
    ("file", "content", "message"),
    [
        (DELIVERIES, '{"seq":1,"source":"syncro","body":"{}"}\n', "unknown source 'syncro'"),
        (DELIVERIES, "{not json\n", "line 1: not valid JSON"),
        (DELIVERIES, '{"seq":1,"source":"autotask","body":{}}\n', "'body' must be the raw"),
        (DELIVERIES, "\n", "holds no delivery"),
        (TRUTH, '{"work":{"x":"reactive"}}', "a reference is source:entity:id"),
        (TRUTH, '{"work":{"a:b:c":"busy"}}', "'busy' is not one of"),
        (
            TRUTH,
            '{"signals":[{"client":"a","behaviour":"rude","evidence":["a:b:c"]}]}',
            "behaviour 'rude'",
        ),
        (TRUTH, '{"health":{"a":"blue"}}', "'blue' is not one of"),
        (TENANT, "tenant: x\nclients: []\n", "clients"),
    ],
)
def test_a_malformed_scenario_is_refused_with_where_and_why(
    tmp_path: Path, file: str, content: str, message: str
) -> None:
    folder = copy_families(tmp_path)
    (folder / file).write_text(content)
    with pytest.raises(ScenarioError) as caught:
        load_scenario(folder)
    assert message in str(caught.value)
    assert file in str(caught.value)


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    folder = copy_families(tmp_path)
    (folder / TRUTH).unlink()
    with pytest.raises(ScenarioError, match=r"truth\.json is missing"):
        load_scenario(folder)


def test_unknown_keys_are_ignored(tmp_path: Path) -> None:
    """The format may be extended compatibly: extra keys do not break a reader."""
    folder = copy_families(tmp_path)
    document = json.loads((folder / TRUTH).read_text())
    document["notes"] = {"written_by": "someone else"}
    (folder / TRUTH).write_text(json.dumps(document))
    lines = (folder / DELIVERIES).read_text().splitlines()
    first = json.loads(lines[0]) | {"comment": "extra"}
    (folder / DELIVERIES).write_text("\n".join([json.dumps(first), *lines[1:]]) + "\n")
    assert len(load_scenario(folder).deliveries) == len(lines)


def test_evaluate_refuses_a_malformed_scenario_before_starting_anything(tmp_path: Path) -> None:
    folder = copy_families(tmp_path)
    (folder / DELIVERIES).write_text('{"seq":1,"source":"syncro","body":"{}"}\n')
    result = CliRunner().invoke(app, ["evaluate", str(folder)])
    assert result.exit_code == 2
    assert "unknown source 'syncro'" in result.output
