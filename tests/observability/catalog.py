"""Everything the observability files query, and everything the services export.

Dashboards (dashboards/**/*.json), Prometheus rules (deploy/prometheus/rules) and
Grafana rules (deploy/grafana/provisioning/alerting) are read as files; the metrics
the services export are read from their metric registries, not from a list kept here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from prometheus_client import CollectorRegistry

from services.alerts.metrics import AlertsMetrics
from services.classifier.metrics import ClassifierMetrics
from services.ingest.deactivation import DeactivationMetrics
from services.ingest.metrics import IngestMetrics, RelayMetrics
from services.poll.domain.specs import SPECS
from services.poll.metrics import PollMetrics

REPO = Path(__file__).resolve().parents[2]
DASHBOARDS = REPO / "dashboards"
PROMETHEUS = REPO / "deploy" / "prometheus"
GRAFANA = REPO / "deploy" / "grafana" / "provisioning"
DATASOURCE_UID = "partnerpulse-prometheus"

# Series Prometheus itself writes for every target.
PROMETHEUS_SERIES: Mapping[str, frozenset[str]] = {"up": frozenset()}
TARGET_LABELS = frozenset({"job", "instance"})


def service_registries() -> list[CollectorRegistry]:
    """A registry of each service's metrics, as each service builds it."""
    ingest = IngestMetrics()
    DeactivationMetrics(ingest.registry)  # ingest's deactivation URL route adds these
    poll = PollMetrics()
    poll.initialise([(str(source), entity) for source, entity in SPECS])
    return [
        ingest.registry,
        RelayMetrics().registry,
        ClassifierMetrics(["a-client"]).registry,
        AlertsMetrics().registry,
        poll.registry,
    ]


@dataclass
class Exported:
    """Sample names the services expose, their label names and seen label values."""

    labels: dict[str, set[str]] = field(default_factory=dict)
    values: dict[tuple[str, str], set[str]] = field(default_factory=dict)


_SUFFIXES = {
    "counter": ("_total",),
    "histogram": ("_bucket", "_sum", "_count"),
    "summary": ("_sum", "_count"),
}


def exported_metrics() -> Exported:
    exported = Exported()
    for registry in service_registries():
        for family in registry.collect():
            for suffix in _SUFFIXES.get(family.type, ("",)):
                exported.labels.setdefault(family.name + suffix, set())
            for sample in family.samples:
                exported.labels.setdefault(sample.name, set()).update(sample.labels)
                for label, value in sample.labels.items():
                    exported.values.setdefault((sample.name, label), set()).add(value)
    return exported


# ---------------------------------------------------------------- Prometheus rules


@dataclass(frozen=True)
class Rule:
    file: str
    group: str
    name: str  # alert or record name
    expr: str
    raw: Mapping[str, Any]

    @property
    def is_alert(self) -> bool:
        return "alert" in self.raw


def prometheus_rules() -> list[Rule]:
    rules = []
    for path in sorted((PROMETHEUS / "rules").glob("*.yml")):
        for group in yaml.safe_load(path.read_text())["groups"]:
            for raw in group["rules"]:
                name = raw.get("alert") or raw["record"]
                rules.append(Rule(path.name, group["name"], name, raw["expr"], raw))
    return rules


def recording_rules() -> list[Rule]:
    return [r for r in prometheus_rules() if not r.is_alert]


def alert_rules() -> list[Rule]:
    return [r for r in prometheus_rules() if r.is_alert]


def grafana_alert_rules() -> list[dict[str, Any]]:
    document = yaml.safe_load((GRAFANA / "alerting" / "rules.yaml").read_text())
    return [
        dict(rule, group=group["name"], folder=group["folder"])
        for group in document["groups"]
        for rule in group["rules"]
    ]


def known_metrics() -> dict[str, set[str]]:
    """Every name a query may select (recording rules aside), with its label names."""
    known = {name: set(labels) for name, labels in exported_metrics().labels.items()}
    known |= {name: set(labels) for name, labels in PROMETHEUS_SERIES.items()}
    return known


# ---------------------------------------------------------------- Grafana dashboards


@dataclass(frozen=True)
class Query:
    dashboard: str
    panel: str
    expr: str  # as written, with Grafana variables

    def __str__(self) -> str:
        return f"{self.dashboard} / {self.panel}: {self.expr}"


def dashboard_files() -> list[Path]:
    return sorted(DASHBOARDS.rglob("*.json"))


def load_dashboard(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(path.read_text())
    return loaded


def panels(dashboard: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel, rows' nested panels included; rows themselves are not panels."""
    for panel in dashboard.get("panels", []):
        if panel.get("type") == "row":
            yield from panel.get("panels", [])
        else:
            yield panel


def variables(dashboard: Mapping[str, Any]) -> list[dict[str, Any]]:
    listed: list[dict[str, Any]] = dashboard.get("templating", {}).get("list", [])
    return listed


def queries() -> list[Query]:
    found = []
    for path in dashboard_files():
        dashboard = load_dashboard(path)
        for panel in panels(dashboard):
            for target in panel.get("targets", []):
                found.append(Query(dashboard["title"], panel["title"], target["expr"]))
        for variable in variables(dashboard):
            if variable["type"] == "query":
                selector = label_values_selector(variable["definition"])
                found.append(Query(dashboard["title"], f"variable {variable['name']}", selector))
    return found


_LABEL_VALUES = re.compile(r"^label_values\((?:(?P<selector>.+),\s*)?(?P<label>\w+)\)$")


def label_values_selector(definition: str) -> str:
    match = _LABEL_VALUES.match(definition.strip())
    if match is None or not match["selector"]:
        raise ValueError(f"not label_values(<selector>, <label>): {definition!r}")
    return match["selector"]


_VARIABLE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)|\[\[(\w+)\]\]")
RATE_INTERVAL = "$__rate_interval"


def variable_names(expr: str) -> set[str]:
    return {next(g for g in m.groups() if g) for m in _VARIABLE.finditer(expr)}


def substitute(expr: str, values: Mapping[str, str]) -> str:
    """The expression with Grafana's variables replaced; KeyError for an unknown one."""
    return _VARIABLE.sub(lambda m: values[next(g for g in m.groups() if g)], expr)


def custom_options(variable: Mapping[str, Any]) -> list[str]:
    return [o.strip() for o in variable["query"].split(",")]
