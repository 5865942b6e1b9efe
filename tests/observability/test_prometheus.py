"""Every dashboard query and every rule returns data from the real pipeline.

`partnerpulse up` (embedded broker, ingest, relay, classifier, and the poller polling the
vendor API stand-ins, which hold the records of the scenario's webhooks) on free ports, a
real Prometheus (Debian's binary) scraping it every second with the deployed config and
rule files, and the committed families-30d scenario replayed into ingest over HTTP.

"Returns data" means at least one sample with a finite value. Grafana's variables
are given real values: `$__rate_interval` covers the whole run, a client variable is
the scenario's red client (or all clients where the variable allows all), a custom
variable each of its options.

An alert expression returns only the series that breach, so in a healthy run it may
rightly return nothing. The rule used then: split the expression at every filtering
comparison and every `and`/`or`/`unless` (promql.underlying_series), and every
operand that holds a series must return data. A rule whose series exist, but never
breach, is thereby shown to watch something real. Where the scenario does breach
(a client red, direct-to-tech requests rising), the alert must pick exactly the
scenario's truth.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from services.events.outputs import Band, Behaviour
from services.scenario.evaluate import replay_tenant
from services.scenario.files import ScenarioFiles, load_scenario
from services.scenario.polled import PolledReplay
from services.scenario.replay import Hooks, replay
from services.scenario.stack import Stack
from services.scenario.vendors.apis import api_from_emission
from services.scenario.vendors.common import Emission

from ..support.smtp import SmtpSink
from . import catalog, promql
from .prometheus_server import PrometheusServer, scrape_config

pytestmark = pytest.mark.acceptance  # the slow tier: `make test-acceptance`

SCENARIO = catalog.REPO / "tests" / "scenarios" / "families-30d"
DEADLINE = 90.0  # seconds for the pipeline and Prometheus to catch up; usually a few
STARTED_JOBS = (
    "partnerpulse-ingest",
    "partnerpulse-relay",
    "partnerpulse-classifier",
    "partnerpulse-alerts",
    "partnerpulse-poll",
)


def stack_poll_url(stack: Stack) -> str:
    return f"http://127.0.0.1:{stack.ports.poll}"


@dataclass
class Observed:
    prometheus: PrometheusServer
    scenario: ScenarioFiles
    started: float  # wall clock at replay start

    @property
    def red_client(self) -> str:
        return sorted(c for c, band in self.scenario.truth.health.items() if band is Band.red)[0]

    def rate_interval(self) -> str:
        return f"{math.ceil(time.time() - self.started) + 5}s"

    def has_data(self, expr: str) -> bool:
        samples = self.prometheus.query(expr)
        return any(math.isfinite(float(s["value"][1])) for s in samples)

    def labels(self, expr: str, label: str) -> set[str]:
        return {s["metric"][label] for s in self.prometheus.query(expr)}


def with_api(scenario: ScenarioFiles, work: Path) -> ScenarioFiles:
    """The scenario with an api.jsonl: the records its webhooks report, as the vendors'
    APIs hold them, so the poller has something to poll (and its metrics their series)."""
    path = work / "api.jsonl"
    lines = [
        line
        for d in scenario.deliveries
        if d.at is not None
        for line in api_from_emission(Emission(d.at, d.source, d.body.decode()))
    ]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return dataclasses.replace(scenario, api_file=path)


@pytest.fixture(scope="module")
def observed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Observed]:
    work = tmp_path_factory.mktemp("observability")
    scenario = with_api(load_scenario(SCENARIO), work)
    polled = PolledReplay.start(scenario, work)  # the replay below drives its clock
    # A real mail server, so the alerts service delivers (and its delivery metrics exist).
    smtp = SmtpSink().start()
    with (
        pytest.MonkeyPatch.context() as env,
        Stack(
            replay_tenant(scenario.tenant_file, work, polled), work / "pipeline", env=polled.env
        ) as stack,
    ):
        env.setenv("PARTNERPULSE_ALERTS_SMTP_HOST", "127.0.0.1")
        env.setenv("PARTNERPULSE_ALERTS_SMTP_PORT", str(smtp.port))
        endpoints = stack.start()
        job_ports = {
            "partnerpulse-ingest": stack.ports.ingest,
            "partnerpulse-relay": stack.ports.relay,
            "partnerpulse-classifier": stack.ports.classifier,
            "partnerpulse-alerts": stack.ports.alerts,
            "partnerpulse-poll": stack.ports.poll,
        }
        with PrometheusServer(work / "prometheus", job_ports) as prometheus:
            # A first scrape before the replay: a rate is the change between samples.
            prometheus.wait_for_targets(STARTED_JOBS)
            started = time.time()
            outcomes = replay(
                scenario.deliveries,
                scenario.tenant,
                endpoints.ingest_url,
                hooks=Hooks(sent=polled.advance),
            )
            polled.catch_up(stack_poll_url(stack), timeout=DEADLINE)
            assert all(o.answered or o.status == 422 for o in outcomes)
            try:
                yield Observed(prometheus, scenario, started)
            finally:
                smtp.stop()
                polled.stop()


def eventually(check: Callable[[], list[str]], what: str) -> None:
    """Retry `check` (which lists what is still wrong) until it lists nothing."""
    deadline = time.monotonic() + DEADLINE
    while True:
        problems = check()
        if not problems:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}, after {DEADLINE:.0f}s:\n" + "\n".join(problems))
        time.sleep(1.0)


def dashboard_queries(observed: Observed) -> list[tuple[str, str]]:
    """(where, expr) for every panel query under every value its variables take."""
    found = []
    for path in catalog.dashboard_files():
        dashboard = catalog.load_dashboard(path)
        choices: dict[str, list[str]] = {"__rate_interval": [observed.rate_interval()]}
        for variable in catalog.variables(dashboard):
            if variable["type"] == "custom":
                choices[variable["name"]] = catalog.custom_options(variable)
            elif variable["type"] == "query" and variable.get("includeAll"):
                choices[variable["name"]] = [variable["allValue"], observed.red_client]
            elif variable["type"] == "query":
                choices[variable["name"]] = [observed.red_client]
        names = list(choices)
        exprs = [t["expr"] for p in catalog.panels(dashboard) for t in p["targets"]]
        exprs += [
            catalog.label_values_selector(v["definition"])
            for v in catalog.variables(dashboard)
            if v["type"] == "query"
        ]
        for expr in exprs:
            used = [n for n in names if n in catalog.variable_names(expr)]
            for combination in itertools.product(*(choices[n] for n in used)):
                values = dict(zip(used, combination, strict=True))
                found.append((f"{dashboard['title']}: {values}", catalog.substitute(expr, values)))
    return found


def test_every_dashboard_query_returns_data(observed: Observed) -> None:
    def check() -> list[str]:
        return [
            f"{where}: {expr}"
            for where, expr in dashboard_queries(observed)
            if not observed.has_data(expr)
        ]

    eventually(check, "dashboard queries without data")


def test_every_recording_rule_returns_data(observed: Observed) -> None:
    records = sorted({r.name for r in catalog.recording_rules()})
    eventually(
        lambda: [name for name in records if not observed.has_data(name)],
        "recording rules without data",
    )


def test_every_alert_expression_or_its_underlying_series_returns_data(
    observed: Observed,
) -> None:
    def check() -> list[str]:
        missing = []
        for rule in catalog.alert_rules():
            if observed.has_data(rule.expr):
                continue
            for operand in promql.underlying_series(rule.expr):
                if not observed.has_data(operand):
                    missing.append(f"{rule.name}: {operand}")
        return missing

    eventually(check, "alert rules watching series that do not exist")


def _alert(name: str) -> str:
    return next(r.expr for r in catalog.alert_rules() if r.name == name)


def test_the_relationship_alerts_pick_the_scenarios_risks(observed: Observed) -> None:
    truth = observed.scenario.truth
    red = {client for client, band in truth.health.items() if band is Band.red}
    # DirectToTechRising asks for at least 3 direct requests in 30 days (the scenario spans
    # 30 days, so its 90-day rate is a third of the 30-day one): a habit shown twice is a
    # signal, not yet a rising rate.
    direct = {
        s.client
        for s in truth.signals
        if s.behaviour is Behaviour.direct_to_tech and len(s.evidence) >= 3
    }
    assert red and direct

    def check() -> list[str]:
        problems = []
        got_red = observed.labels(_alert("PartnerPulseClientRed"), "client")
        if got_red != red:
            problems.append(f"PartnerPulseClientRed: {sorted(got_red)}, truth {sorted(red)}")
        got_direct = observed.labels(_alert("PartnerPulseDirectToTechRising"), "client")
        if got_direct != direct:
            problems.append(f"DirectToTechRising: {sorted(got_direct)}, truth {sorted(direct)}")
        # Prometheus evaluates the deployed rule file itself: the alert is pending or firing.
        alerts = observed.labels('ALERTS{alertname="PartnerPulseClientRed"}', "client")
        if alerts != red:
            problems.append(f"ALERTS for PartnerPulseClientRed: {sorted(alerts)}")
        return problems

    eventually(check, "relationship alerts against the scenario's truth")


def test_prometheus_loaded_every_rule_and_evaluates_it_without_error(
    observed: Observed,
) -> None:
    expected = {r.name for r in catalog.prometheus_rules()}

    def check() -> list[str]:
        loaded: dict[str, Any] = {
            rule["name"]: rule for group in observed.prometheus.rules() for rule in group["rules"]
        }
        problems = [f"not loaded: {name}" for name in sorted(expected - set(loaded))]
        problems += [
            f"{name}: {rule.get('lastError')}"
            for name, rule in loaded.items()
            if rule.get("health") != "ok"
        ]
        return problems

    eventually(check, "rules Prometheus did not load or could not evaluate")


def test_a_job_of_the_deployed_config_without_a_test_port_is_refused() -> None:
    """The test scrapes every job of deploy/prometheus/prometheus.yml, or refuses to run."""
    without_alerts = [job for job in STARTED_JOBS if job != "partnerpulse-alerts"]
    with pytest.raises(AssertionError, match="partnerpulse-alerts"):
        scrape_config(dict.fromkeys(without_alerts, 1))
    config = scrape_config(dict.fromkeys(STARTED_JOBS, 1))
    assert config["rule_files"] == [str(catalog.PROMETHEUS / "rules" / "*.yml")]
