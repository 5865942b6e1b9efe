"""`evaluate` on a scenario with api.jsonl: the vendor API stand-ins serve it on the replay
clock, the pipeline's own `partnerpulse poll` polls them, and what it posts is accounted
for like the deliveries: Autotask and HaloPSA work that exists only in the APIs is
labelled, the webhooks the simulator lost are recovered, nothing is lost or counted twice.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rich.console import Console

from services.scenario.evaluate import evaluate
from services.scenario.files import load_scenario, write_scenario
from services.scenario.simulate import SimulationConfig, simulate

pytestmark = pytest.mark.acceptance  # an evaluate run through `up`: `make test-acceptance`


def test_work_only_in_the_apis_and_lost_webhooks_come_through_the_poller(
    tmp_path: Path,
) -> None:
    config = SimulationConfig(clients=6, days=10, seed=3, max_endpoints=40, api=True)
    scenario = simulate(config)
    folder = tmp_path / "scenario"
    write_scenario(folder, scenario.tenant, scenario.deliveries, scenario.truth, scenario.api)
    files = load_scenario(folder)
    api_only = {
        ref
        for ref in files.truth.work
        if ref.startswith(("autotask:time_entry:", "halopsa:time_entry:", "autotask:service_call:"))
    }
    pretend_poller = [
        d
        for d in files.deliveries
        if d.source.value == "canonical"
        and (b'"source":"autotask"' in d.body or b'"source":"halopsa"' in d.body)
    ]
    assert api_only and pretend_poller == []  # that work is nowhere but in api.jsonl

    with (tmp_path / "console.txt").open("w") as log:
        report = evaluate(files, Console(file=log, width=160), timeout=300)
    scores = report.to_dict()
    accounting = scores["accounting"]
    assert accounting["lost"] == 0, accounting["lost_examples"]
    assert accounting["duplicated"] == 0, accounting["duplicated_examples"]
    assert accounting["deliveries"] == len(files.deliveries)
    assert accounting["polled"] > 0
    # What only the poller could bring (API-only work, lost webhooks) it brought as new.
    assert accounting["polled_new"] >= len(api_only)
    assert scores["work"]["total"] == len(files.truth.work)
    assert scores["work"]["unlabelled"] == 0
    assert scores["work"]["accuracy"] >= 0.95, scores["work"]["disagreements"]
    assert json.dumps(scores)  # the --json report holds the polled figures
