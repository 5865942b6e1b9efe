"""`partnerpulse demo`: the whole product in one command, on the embedded default.

Simulates a small MSP (one client of each kind), starts the pipeline on the
usual ports (others if they are taken), replays the scenario through ingest,
and prints what an account lead would read: per client the band, the score,
the proactive share, RHEM and each open signal with its one-line reason,
beside what the client was simulated as. The pipeline then keeps running for
the reader to explore until Ctrl+C.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from services.scenario import collect
from services.scenario.evaluate import own_stack, run, score_run
from services.scenario.files import load_scenario, write_scenario
from services.scenario.scoring import Report
from services.scenario.simulate import SimulationConfig, simulate
from services.scenario.stack import Endpoints, Ports

BAND_STYLE = {"green": "bold green", "yellow": "bold yellow", "red": "bold red"}
BAND_ORDER = {"green": 0, "yellow": 1, "red": 2}


def demo(
    console: Console,
    *,
    folder: Path,
    config: SimulationConfig,
    wait: bool = True,
    after: Callable[[Endpoints, Path], None] | None = None,
) -> Report:
    """`after(endpoints, data_dir)` runs once the table is shown, while the stack runs."""
    shutil.rmtree(folder, ignore_errors=True)
    scenario_dir = folder / "scenario"
    console.print(
        f"[bold]partnerpulse demo[/bold]: a simulated MSP with {config.clients} clients over "
        f"{config.days} days (ConnectWise, Autotask and HaloPSA; NinjaOne, Datto RMM and "
        "Tactical RMM), replayed through the real pipeline."
    )
    scenario = simulate(config)
    write_scenario(scenario_dir, scenario.tenant, scenario.deliveries, scenario.truth)
    files = load_scenario(scenario_dir)
    console.print(f"scenario: {len(files.deliveries)} webhook deliveries in {scenario_dir}")
    with own_stack(
        files, console, ports=Ports.defaults_if_free(), data_dir=folder / "pipeline"
    ) as own:
        endpoints = own.endpoints
        result = run(files, endpoints, console, stack=own.stack)  # watched: never silent
        report = score_run(files, endpoints, result)
        clients = collect.fetch_clients(endpoints.classifier_url)
        console.print(client_table(clients, files.truth.personas))
        console.print(agreement_line(report))
        console.print(where(endpoints, folder))
        if after is not None:
            after(endpoints, folder / "pipeline")
        if wait:
            console.print("the pipeline keeps running so you can look around; Ctrl+C stops it")
            try:
                while True:
                    time.sleep(1)
            except KeyboardInterrupt:
                console.print("stopping ...")
    return report


def client_table(clients: list[dict[str, Any]], personas: dict[str, str]) -> Table:
    table = Table(title="clients, as the account lead sees them", title_justify="left")
    table.add_column("client")
    table.add_column("simulated as", style="dim")
    table.add_column("band")
    table.add_column("score", justify="right")
    table.add_column("proactive", justify="right")
    table.add_column("RHEM", justify="right")
    table.add_column("why (open signals)")
    rows = sorted(
        clients, key=lambda c: (BAND_ORDER.get(str(c.get("band")), 3), str(c.get("name")))
    )
    for row in rows:
        band = str(row.get("band") or "-")
        name = str(row.get("name") or row.get("client_id"))
        signals = [s for s in row.get("open_signals") or [] if isinstance(s, dict)]
        reasons = Text("\n".join(_reason(s, name) for s in signals))
        table.add_row(
            Text(name),
            Text(personas.get(str(row.get("client_id")), "")),
            Text(band, style=BAND_STYLE.get(band, "")),
            _number(row.get("score"), "{:.0f}"),
            _number(row.get("proactive_share"), "{:.0%}"),
            _number(row.get("rhem"), "{:.2f} h"),
            reasons if signals else Text("none: behaves like a partner", style="green"),
        )
    return table


def _reason(signal: dict[str, Any], client_name: str) -> str:
    """One line: the behaviour and what the classifier says of it, without the client's
    name and the latest evidence (the query API has those)."""
    explanation = str(signal.get("explanation") or "").removeprefix(f"{client_name}: ")
    return f"{signal.get('behaviour')}: {explanation.split('; latest')[0]}"


def _number(value: Any, fmt: str) -> str:
    return fmt.format(value) if isinstance(value, int | float) else "-"


def agreement_line(report: Report) -> str:
    found = sum(s.matched for s in report.behaviours.values())
    true = sum(s.true for s in report.behaviours.values())
    spurious = sum(s.predicted - s.matched for s in report.behaviours.values())
    return (
        f"against the simulation's ground truth: bands {report.bands.agree}/{report.bands.total}, "
        f"work labels {report.work.accuracy:.1%} right, behaviours {found}/{true} found "
        f"({spurious} not in the truth), events lost {report.accounting.lost}, "
        f"duplicated {report.accounting.duplicated}"
    )


def where(endpoints: Endpoints, folder: Path) -> str:
    ingest, classifier = endpoints.ingest_url, endpoints.classifier_url
    return (
        "\n[bold]where to look[/bold]\n"
        f"  query API      {classifier}/v1/clients, {classifier}/v1/clients/<id>?days=90, "
        f"{classifier}/v1/status\n"
        f"  metrics        {classifier}/metrics (classifier), {ingest}/metrics (ingest)\n"
        f"  ingest API     {ingest}/docs\n"
        + (
            f"  alerts         {endpoints.alerts_url}/v1/alerts (email to the account leads goes "
            f"to {os.environ.get('PARTNERPULSE_ALERTS_SMTP_HOST', '127.0.0.1')}:"
            f"{os.environ.get('PARTNERPULSE_ALERTS_SMTP_PORT', '25')})\n"
            if endpoints.alerts_url
            else ""
        )
        + f"  topics         PARTNERPULSE_KAFKA_BOOTSTRAP={endpoints.bootstrap} "
        "partnerpulse tail partnerpulse.signals\n"
        f"  scenario, logs {folder}"
    )
