"""The report's figures against a scenario's truth: the committed scenario's deliveries,
read by the vendor adapters and folded by the classifier's pure engine as the agent
does, give each client's state; the report built from it must show the visits, hours,
RHEM, recommendations and habits that truth.json and the deliveries say."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.report.build import build_report
from services.report.model import Period
from services.report.period import quarter
from services.scenario.files import ScenarioFiles, load_scenario
from tests.report_truth import Folded, engine_states, expected

SCENARIO = Path(__file__).resolve().parents[2] / "scenarios" / "families-30d"


@pytest.fixture(scope="module")
def files() -> ScenarioFiles:
    return load_scenario(SCENARIO)


@pytest.fixture(scope="module")
def folded(files: ScenarioFiles) -> Folded:
    return engine_states(files)


def q1() -> Period:
    period = quarter("2026Q1")
    assert isinstance(period, Period)
    return period


def test_every_clients_figures_are_those_of_the_truth(files: ScenarioFiles, folded: Folded) -> None:
    period = q1()
    visits = 0
    classes: set[object] = set()
    for client in files.tenant.clients:
        report = build_report(folded.states[client.id], files.tenant, client, period)
        truth = expected(files, client.id, period.start, period.end)
        t = report.totals
        assert {"proactive": t.visits_proactive, "reactive": t.visits_reactive} == truth.visits
        assert t.hours_proactive == pytest.approx(truth.hours["proactive"], abs=0.006)
        assert t.hours_reactive == pytest.approx(truth.hours["reactive"], abs=0.006)
        assert t.rhem == pytest.approx(truth.rhem, abs=1e-4)
        shown = {k: report.recommendation_counts[k] for k in ("presented", "accepted", "declined")}
        assert shown == truth.recommendations, client.id
        visits += len(report.visits)
        classes |= {v.work_class for v in report.visits}
        # Each month's figures add up to the period's.
        assert sum(m.visits_proactive for m in report.months) == t.visits_proactive
        assert sum(m.hours_reactive for m in report.months) == pytest.approx(t.hours_reactive)
    assert visits >= 5 and len(classes) == 2  # visits of both classes to compare


def test_habits_shown_to_the_client_are_true_and_are_the_classifiers_signals(
    files: ScenarioFiles, folded: Folded
) -> None:
    """A habit in front of the client is never one truth denies (no false accusation),
    and it is what the classifier signals to operations, no more and no less."""
    shown_any = set()
    for client in files.tenant.clients:
        report = build_report(folded.states[client.id], files.tenant, client, q1())
        shown = {h.behaviour for h in report.habits}
        truth = expected(files, client.id, report.period.start, report.period.end)
        assert shown <= truth.behaviours, client.id
        assert shown == folded.signalled[client.id], client.id
        for habit in report.habits:
            assert habit.occurrences >= len(habit.evidence) >= min(habit.occurrences, 20)
        shown_any |= shown
    assert len(shown_any) >= 4  # most behaviours of the scenario appear in some report


def test_a_partner_client_is_shown_no_habit_and_a_proactive_majority(
    files: ScenarioFiles, folded: Folded
) -> None:
    partner = next(c for c, persona in files.truth.personas.items() if persona == "partner")
    client = files.tenant.client(partner)
    assert client is not None
    report = build_report(folded.states[partner], files.tenant, client, q1())
    assert report.habits == []
    assert report.totals.proactive_share is not None and report.totals.proactive_share > 0.6
