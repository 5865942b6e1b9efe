"""Scenarios: simulate an MSP, evaluate the pipeline against its truth, the demo."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from services.cli.common import _console, _fail, _setup_logging
from services.runtime.settings import CommonSettings


def simulate(
    out_dir: Annotated[Path, typer.Argument(help="Folder to write the scenario into.")],
    clients: Annotated[int, typer.Option(help="Clients of the simulated MSP.")] = 20,
    days: Annotated[int, typer.Option(help="Days the scenario covers.")] = 90,
    seed: Annotated[int, typer.Option(help="Same seed, same scenario, byte for byte.")] = 1,
    start: Annotated[
        str, typer.Option(help="First day (YYYY-MM-DD), in the clients' time zone.")
    ] = "2026-01-05",
    max_endpoints: Annotated[
        int, typer.Option(help="Largest client, in managed endpoints (from 12 up).")
    ] = 150,
    profile: Annotated[
        str,
        typer.Option(
            help="standard: a realistic book of clients, a minority ambiguous; hard: every "
            "client a hard case (unrelated alerts at the site, long-open alerts, PSA/RMM ids "
            "that differ, MSP cancellations, co-managed staff, follow-ups, silent clients...)."
        ),
    ] = "standard",
    api: Annotated[
        bool,
        typer.Option(
            "--api/--no-api",
            help="Write api.jsonl: Autotask and HaloPSA time entries and visits only in the "
            "vendors' APIs, every webhook's record there too, and --lost-share of the webhooks "
            "never delivered. --no-api: the old form (a pretend poller posts canonical events).",
        ),
    ] = True,
    lost_share: Annotated[
        float, typer.Option(help="With --api: share of the vendors' webhooks that are lost.")
    ] = 0.2,
) -> None:
    """Write a simulated scenario: tenant.yaml, deliveries.jsonl, truth.json (and api.jsonl)."""
    from collections import Counter
    from datetime import date

    from services.scenario.files import write_scenario
    from services.scenario.simulate import SimulationConfig
    from services.scenario.simulate import simulate as generate

    try:
        config = SimulationConfig(
            clients,
            days,
            seed,
            date.fromisoformat(start),
            max_endpoints=max_endpoints,
            profile=profile,
            api=api,
            lost_share=lost_share,
        )
    except ValueError as exc:
        raise _fail(f"simulate: {exc}") from None
    scenario = generate(config)
    write_scenario(out_dir, scenario.tenant, scenario.deliveries, scenario.truth, scenario.api)
    personas = Counter(p.label for p in scenario.personas.values())
    truth = scenario.truth
    typer.echo(
        f"{out_dir}: {len(scenario.deliveries)} deliveries, {len(scenario.api)} API records, "
        f"{len(truth['work'])} labelled work "
        f"records, {len(truth['signals'])} signals, {clients} clients over {days} days "
        f"from {config.start} (seed {seed})"
    )
    for label, count in sorted(personas.items()):
        typer.echo(f"  {count:3d} {label}")


def evaluate(
    scenario_dir: Annotated[Path, typer.Argument(help="A scenario folder (see simulate).")],
    json_file: Annotated[
        Path | None, typer.Option("--json", help="Also write the scores here, as JSON.")
    ] = None,
    ingest_url: Annotated[
        str | None, typer.Option(help="A running ingest (default: start a pipeline of its own).")
    ] = None,
    classifier_url: Annotated[
        str | None, typer.Option(help="The running classifier's query API.")
    ] = None,
    bootstrap: Annotated[str | None, typer.Option(help="The running pipeline's broker.")] = None,
    concurrency: Annotated[int, typer.Option(help="Deliveries in flight at once.")] = 8,
    timeout: Annotated[
        float, typer.Option(help="Seconds to wait for the classifier to process everything.")
    ] = 600.0,
    keep_data: Annotated[
        bool, typer.Option("--keep-data", help="Keep its own pipeline's data dir and logs.")
    ] = False,
    token: Annotated[
        str | None,
        typer.Option(
            envvar="PARTNERPULSE_API_TOKEN",
            help="API token (scope read) for --classifier-url; its own pipeline makes one.",
        ),
    ] = None,
) -> None:
    """Replay a scenario through the pipeline and score its outputs against the truth.

    Exits 1 when the scores miss the acceptance floors, 2 when it could not evaluate.
    """
    from services.scenario.collect import CollectError, authorize
    from services.scenario.evaluate import EvaluationError, print_report
    from services.scenario.evaluate import evaluate as run_evaluation
    from services.scenario.files import ScenarioError, load_scenario
    from services.scenario.replay import ReplayError
    from services.scenario.stack import Endpoints, StackError

    _setup_logging("WARNING")
    given = [ingest_url, classifier_url, bootstrap]
    if any(given) and not all(given):
        raise _fail("evaluate: give --ingest-url, --classifier-url and --bootstrap together")
    console = _console()
    if classifier_url and token:
        authorize(classifier_url, token)
    try:
        files = load_scenario(scenario_dir)
        endpoints = (
            Endpoints(ingest_url, classifier_url, bootstrap)
            if ingest_url and classifier_url and bootstrap
            else None
        )
        report = run_evaluation(
            files,
            console,
            endpoints=endpoints,
            concurrency=concurrency,
            timeout=timeout,
            keep=keep_data,
        )
    except (ScenarioError, StackError, ReplayError, CollectError, EvaluationError) as exc:
        raise _fail(f"evaluate: {exc}") from None
    print_report(report, console, scenario_dir)
    if json_file is not None:
        json_file.write_text(json.dumps(report.to_dict(), indent=2) + "\n")
        console.print(f"scores written to {json_file}")
    if report.failures():
        raise typer.Exit(1)


def demo(
    clients: Annotated[int, typer.Option(help="Clients of the simulated MSP.")] = 8,
    days: Annotated[int, typer.Option(help="Days the scenario covers.")] = 60,
    seed: Annotated[int, typer.Option(help="Seed of the simulation.")] = 7,
    wait: Annotated[
        bool, typer.Option("--wait/--no-wait", help="Keep the pipeline running until Ctrl+C.")
    ] = True,
) -> None:
    """Simulate a small MSP, run it through the whole pipeline, show who behaves like a partner."""
    from services.scenario.collect import CollectError
    from services.scenario.demo import demo as run_demo
    from services.scenario.demo_mail import demo_mail, show
    from services.scenario.evaluate import EvaluationError
    from services.scenario.replay import ReplayError
    from services.scenario.simulate import SimulationConfig
    from services.scenario.stack import StackError

    _setup_logging("WARNING")
    console, folder = _console(), CommonSettings().data_dir / "demo"
    try:
        with demo_mail(folder) as sink:  # a mail sink for the demo's alerts service
            run_demo(
                console,
                folder=folder,
                config=SimulationConfig(clients=clients, days=days, seed=seed),
                wait=wait,
                after=lambda endpoints, data_dir: show(console, sink, endpoints, data_dir, folder),
            )
    except (StackError, ReplayError, CollectError, EvaluationError, ValueError) as exc:
        raise _fail(f"demo: {exc}") from None


# The commands of this group, in the order `partnerpulse --help` lists them.
COMMANDS: list[Callable[..., Any]] = [simulate, evaluate, demo]
