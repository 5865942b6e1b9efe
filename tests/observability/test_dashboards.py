"""Dashboard and rule lint, in the spirit of grafana's dashboard-linter.

No Grafana or Prometheus runs here: the files are read and every query parsed.
test_prometheus.py then runs every query against a real Prometheus.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
import yaml

from . import catalog, promql

SCHEMA_VERSION = 42  # Grafana 12's dashboard schema; deploy/compose.yaml pins Grafana 12
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
UID = re.compile(r"^[a-z0-9][a-z0-9-]{2,39}$")
SENTINEL_RANGE = timedelta(seconds=7777)  # stands for $__rate_interval while parsing


def lint_values(dashboard: dict[str, Any]) -> dict[str, str]:
    """A value for each variable, so that a query parses; $__rate_interval -> sentinel."""
    values = {"__rate_interval": f"{int(SENTINEL_RANGE.total_seconds())}s"}
    for variable in catalog.variables(dashboard):
        values[variable["name"]] = "lint-value"
    return values


DASHBOARDS = {path.name: catalog.load_dashboard(path) for path in catalog.dashboard_files()}


def test_the_three_dashboards_exist() -> None:
    titles = {d["title"] for d in DASHBOARDS.values()}
    assert {"Client relationships", "Client detail", "Pipeline operations"} <= titles


def test_uids_are_stable_unique_and_every_link_resolves() -> None:
    uids = [d.get("uid", "") for d in DASHBOARDS.values()]
    assert all(UID.match(uid) for uid in uids), uids
    assert len(set(uids)) == len(uids), uids
    assert len({d["title"] for d in DASHBOARDS.values()}) == len(DASHBOARDS)
    # A uid is stable when what points at it still finds it: links between dashboards.
    linked = set()
    for path in catalog.dashboard_files():
        linked |= set(re.findall(r"/d/([a-z0-9-]+)/", path.read_text()))
    assert linked, "the relationships dashboard links each client to its detail dashboard"
    assert linked <= set(uids), linked - set(uids)


@pytest.mark.parametrize("name", sorted(DASHBOARDS))
def test_dashboard_conventions(name: str) -> None:
    dashboard = DASHBOARDS[name]
    assert dashboard["schemaVersion"] == SCHEMA_VERSION
    assert "partnerpulse" in dashboard["tags"]
    assert dashboard.get("id") is None, "provisioned dashboards carry no database id"
    assert dashboard.get("description")
    datasource_vars = [v for v in catalog.variables(dashboard) if v["name"] == "datasource"]
    assert len(datasource_vars) == 1
    assert datasource_vars[0]["type"] == "datasource"
    assert datasource_vars[0]["query"] == "prometheus"
    assert datasource_vars[0]["current"]["value"] == catalog.DATASOURCE_UID
    for variable in catalog.variables(dashboard):
        if variable["type"] == "query":
            assert variable["datasource"] == DATASOURCE, variable["name"]
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(set(ids)) == len(ids)


@pytest.mark.parametrize("name", sorted(DASHBOARDS))
def test_every_panel_uses_the_datasource_variable_and_has_a_unit_and_description(
    name: str,
) -> None:
    dashboard = DASHBOARDS[name]
    for panel in catalog.panels(dashboard):
        title = panel["title"]
        assert panel.get("description", "").strip(), f"{title}: no description"
        assert panel["fieldConfig"]["defaults"].get("unit"), f"{title}: no unit"
        assert panel.get("datasource") == DATASOURCE, f"{title}: panel datasource"
        assert panel.get("targets"), f"{title}: no query"
        for target in panel["targets"]:
            assert target.get("datasource") == DATASOURCE, f"{title}: target datasource"


@pytest.mark.parametrize("name", sorted(DASHBOARDS))
def test_every_rate_uses_rate_interval_and_every_variable_is_defined(name: str) -> None:
    dashboard = DASHBOARDS[name]
    values = lint_values(dashboard)
    for panel in catalog.panels(dashboard):
        for target in panel["targets"]:
            expr = target["expr"]
            undefined = catalog.variable_names(expr) - set(values)
            assert not undefined, f"{panel['title']}: undefined {undefined}"
            parsed = catalog.substitute(expr, values)
            # every range in a panel is $__rate_interval, in rate(), increase() and the rest
            assert all(r == SENTINEL_RANGE for r in promql.matrix_ranges(parsed)), expr
            for function, _ in promql.rate_ranges(parsed):
                assert function in promql.RANGE_RATES


def _check_selectors(where: str, expr: str, known: dict[str, set[str]]) -> list[str]:
    exported = catalog.exported_metrics()
    records = {r.name for r in catalog.recording_rules()}
    problems = []
    for selector in promql.selectors(expr):
        if selector.metric in records:
            continue
        if selector.metric not in known:
            problems.append(f"{where}: {selector.metric} is not exported by any service")
            continue
        labels = known[selector.metric] | catalog.TARGET_LABELS
        for matcher in selector.matchers:
            if matcher.label not in labels:
                problems.append(f"{where}: {selector.metric} has no label {matcher.label}")
            seen = exported.values.get((selector.metric, matcher.label))
            if matcher.op == "=" and seen and matcher.value not in seen | {"lint-value"}:
                problems.append(
                    f"{where}: {selector.metric}{{{matcher.label}}} is never "
                    f"{matcher.value!r} (it is one of {sorted(seen)})"
                )
    return problems


def test_every_metric_a_panel_names_is_exported_with_those_labels() -> None:
    known = catalog.known_metrics()
    problems = []
    for path in catalog.dashboard_files():
        dashboard = catalog.load_dashboard(path)
        values = lint_values(dashboard)
        for query in catalog.queries():
            if query.dashboard == dashboard["title"]:
                problems += _check_selectors(
                    str(query), catalog.substitute(query.expr, values), known
                )
    assert not problems, "\n".join(problems)


def test_every_metric_a_rule_names_is_exported_or_recorded() -> None:
    known = catalog.known_metrics()
    problems = []
    for rule in catalog.prometheus_rules():
        problems += _check_selectors(f"{rule.file} {rule.name}", rule.expr, known)
    assert not problems, "\n".join(problems)


def test_recording_rules_follow_level_metric_operations() -> None:
    for rule in catalog.recording_rules():
        level, metric, operations = rule.name.split(":")
        assert level and operations, rule.name
        assert metric.startswith("partnerpulse_"), rule.name


def _anchors(markdown: str) -> set[str]:
    headings = re.findall(r"^#+\s+(.+)$", markdown, flags=re.MULTILINE)
    return {re.sub(r"[^a-z0-9 -]", "", h.strip().lower()).replace(" ", "-") for h in headings}


def test_alert_rules_follow_the_conventions() -> None:
    anchors = _anchors((catalog.REPO / "docs" / "observability.md").read_text())
    for rule in catalog.alert_rules():
        raw = rule.raw
        assert re.fullmatch(r"PartnerPulse[A-Z][A-Za-z]+", rule.name), rule.name
        assert raw["labels"]["severity"] in {"critical", "warning"}, rule.name
        assert raw["labels"]["category"] in {"relationship", "pipeline"}, rule.name
        annotations = raw["annotations"]
        assert "{{" not in annotations["summary"], f"{rule.name}: summary must be static"
        assert "{{" in annotations["description"], f"{rule.name}: description is templated"
        page, anchor = annotations["runbook_url"].split("#")
        assert page == "docs/observability.md" and anchor in anchors, rule.name


def _same_promql(a: str, b: str) -> bool:
    return str(promql.parse(a)) == str(promql.parse(b))


def test_grafana_rules_are_the_prometheus_alerts() -> None:
    prometheus = {r.name: r for r in catalog.alert_rules()}
    grafana = {r["title"]: r for r in catalog.grafana_alert_rules()}
    assert set(grafana) == set(prometheus)
    assert len({r["uid"] for r in grafana.values()}) == len(grafana)
    for title, rule in grafana.items():
        source = prometheus[title].raw
        data = {d["refId"]: d for d in rule["data"]}
        query = data["A"]
        assert query["datasourceUid"] == catalog.DATASOURCE_UID
        assert query["model"]["instant"] is True
        assert _same_promql(query["model"]["expr"], source["expr"]), title
        assert "$" not in query["model"]["expr"], "Grafana would expand it as an env var"
        assert data["B"]["model"]["type"] == "reduce"
        assert data["B"]["model"]["expression"] == "A"
        assert data["C"]["model"]["type"] == "threshold"
        assert data["C"]["model"]["expression"] == "B"
        assert data["C"]["model"]["conditions"][0]["evaluator"] == {"type": "gt", "params": [0]}
        assert rule["condition"] == "C"
        assert rule["noDataState"] == "OK"
        assert rule["for"] == source["for"]
        assert rule["labels"] == source["labels"]
        for key in ("summary", "runbook_url"):
            assert rule["annotations"][key] == source["annotations"][key], (title, key)
        assert "{{" in rule["annotations"]["description"]


def _provisioning(relative: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((catalog.GRAFANA / relative).read_text())
    assert loaded["apiVersion"] == 1
    return loaded


def test_provisioning_fits_together() -> None:
    datasources = _provisioning("datasources/prometheus.yaml")["datasources"]
    assert [d["uid"] for d in datasources] == [catalog.DATASOURCE_UID]
    assert datasources[0]["type"] == "prometheus"
    provider = _provisioning("dashboards/partnerpulse.yaml")["providers"][0]
    assert provider["options"]["foldersFromFilesStructure"] is True
    contact_points = _provisioning("alerting/contact-points.yaml")["contactPoints"]
    receivers = [r for cp in contact_points for r in cp["receivers"]]
    assert [r["type"] for r in receivers] == ["webhook"]
    settings = receivers[0]["settings"]
    assert settings["url"] == "http://alerts:8483/v1/grafana"
    assert settings["httpMethod"] == "POST"
    secret = settings["hmacConfig"]["secret"]
    assert re.fullmatch(r"\$\{?[A-Z_]+\}?", secret), "the secret comes from the environment"
    assert settings["hmacConfig"]["header"] == "X-Grafana-Alerting-Signature"
    names = {cp["name"] for cp in contact_points}
    policy = _provisioning("alerting/policies.yaml")["policies"][0]
    routed = {policy["receiver"]} | {r["receiver"] for r in policy.get("routes", [])}
    assert routed <= names
    categories = {r["labels"]["category"] for r in catalog.grafana_alert_rules()}
    matched = {m[2] for r in policy["routes"] for m in r["object_matchers"] if m[0] == "category"}
    assert categories == matched
    folders = {path.parent.name for path in catalog.dashboard_files()}
    assert {r["folder"] for r in catalog.grafana_alert_rules()} <= folders
