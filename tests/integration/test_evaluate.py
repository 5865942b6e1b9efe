"""`partnerpulse evaluate` end to end: the committed scenario through the real pipeline.

The pipeline is `partnerpulse up` (embedded broker, ingest, relay, classifier)
with the scenario's tenant file; every delivery goes over HTTP with its
vendor's authentication. The floors are issue 4's acceptance: nothing lost or
duplicated, work labels at least 95% right, every behaviour's precision and
recall at least 0.9, every band right.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from services.events.models import Source
from services.ingest.adapters import ADAPTERS
from services.ingest.adapters.base import Delivery
from services.ingest.sender import KeyServer, Signer
from services.scenario.evaluate import evaluate
from services.scenario.files import load_scenario
from services.scenario.replay import ReplayError, _headers, signing_key
from services.scenario.stack import Stack

pytestmark = pytest.mark.acceptance  # the slow tier: `make test-acceptance`

REPO = Path(__file__).resolve().parents[2]
SCENARIO = REPO / "tests" / "scenarios" / "families-30d"
HANDMADE = REPO / "tests" / "scenarios" / "handmade"
INDEPENDENT = REPO / "tests" / "scenarios" / "independent"


def assert_floors(scores: dict[str, Any]) -> None:
    accounting = scores["accounting"]
    assert accounting["lost"] == 0, accounting["lost_examples"]
    assert accounting["duplicated"] == 0, accounting["duplicated_examples"]
    assert accounting["rejected"] == []
    assert scores["work"]["accuracy"] >= 0.95, scores["work"]["disagreements"]
    for name, behaviour in scores["behaviours"].items():
        assert behaviour["true"] >= 1, name  # the scenario shows every behaviour
        assert behaviour["precision"] >= 0.9, (name, behaviour["spurious"])
        assert behaviour["recall"] >= 0.9, (name, behaviour["missed"])
    assert scores["bands"]["agreement"] == 1.0, scores["bands"]["disagreements"]
    assert scores["passed"] is True


def test_evaluate_command_meets_the_floors_on_its_own_pipeline(tmp_path: Path) -> None:
    out = tmp_path / "scores.json"
    run = subprocess.run(
        [sys.executable, "-m", "services.cli", "evaluate", str(SCENARIO), "--json", str(out)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "every floor met" in run.stdout
    scores = json.loads(out.read_text())
    assert_floors(scores)
    deliveries = len(load_scenario(SCENARIO).deliveries)
    assert scores["accounting"]["deliveries"] == deliveries


def test_a_scenario_written_outside_the_simulator_meets_the_floors(tmp_path: Path) -> None:
    """`tests/scenarios/independent/`: written from the scenario format and the domain
    notes only (another MSP's German picklists, six vendors, next-step tickets, upkeep
    alerts, outages phoned in at once, devices re-enrolled under a known name), its truth
    each persona's intent. Every floor, every band."""
    with (tmp_path / "console.txt").open("w") as log:
        report = evaluate(load_scenario(INDEPENDENT), Console(file=log, width=120))
    assert_floors(report.to_dict())


def test_a_replay_into_a_running_pipeline_changes_nothing(tmp_path: Path) -> None:
    """Against a pipeline given by URL, twice: the second replay is all vendor retries,
    deduplicated by event id, and every score stays where it was."""
    files = load_scenario(SCENARIO)
    with (
        (tmp_path / "console.txt").open("w") as log,
        Stack(files.tenant_file, tmp_path / "pipeline") as stack,
    ):
        console = Console(file=log, width=120)
        endpoints = stack.start()
        first = evaluate(files, console, endpoints=endpoints)
        second = evaluate(files, console, endpoints=endpoints)
    assert_floors(first.to_dict())
    assert_floors(second.to_dict())
    assert set(second.accounting.answers) == {"200"}
    assert second.accounting.accepted_events == first.accounting.accepted_events
    assert second.work.correct == first.work.correct


def test_a_scenario_this_project_did_not_simulate(tmp_path: Path) -> None:
    """Only the format contract is relied on: a hand-written scenario evaluates, and the
    delivery ingest refuses is reported, not counted as an event lost."""
    with (tmp_path / "console.txt").open("w") as log:
        report = evaluate(load_scenario(HANDMADE), Console(file=log, width=120))
    accounting = report.accounting
    assert accounting.answers == {"200": 1, "202": 8, "422": 1}
    assert [r["source"] for r in accounting.rejected] == ["tacticalrmm"]
    assert (accounting.lost, accounting.duplicated) == (0, 0)
    assert report.work.accuracy == 1.0


def test_two_replays_of_one_scenario_share_its_key_url() -> None:
    """The key_url's port is fixed in the bodies: a replay that finds it taken by another
    replay of the scenario (same key) signs with that key; by anything else, it stops."""
    files = load_scenario(SCENARIO)
    delivery = next(d for d in files.deliveries if d.source is Source.connectwise)
    url = json.loads(delivery.body)["Metadata"]["key_url"]
    port = int(url.split(":")[2].split("/")[0])
    key = signing_key(files.deliveries)
    for served, works in ((key, True), (b"another-key", False)):
        other = KeyServer("127.0.0.1", port).start()
        other.keys[url.split(str(port), 1)[1]] = served
        signer = Signer(files.tenant, connectwise_key=key)
        try:
            if works:
                headers = _headers(signer, delivery)
                received = Delivery(Source.connectwise, delivery.body, headers)
                ADAPTERS[Source.connectwise].authenticate(received, files.tenant, [served])
            else:
                with pytest.raises(ReplayError, match="another process holds that port"):
                    _headers(signer, delivery)
        finally:
            signer.close()
            other.stop()
