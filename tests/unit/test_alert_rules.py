"""One source for the alert thresholds: deploy/alerting/rules.yaml generates both the
Prometheus and the Grafana rules, and the committed files must be what it generates."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest
import yaml

GENERATOR = Path(__file__).resolve().parents[2] / "deploy" / "alerting" / "generate.py"


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("alert_rules_generate", GENERATOR)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


generate = _generator()


def test_committed_rule_files_are_what_the_source_generates() -> None:
    assert generate.stale(generate.SOURCE.read_text()) == [], "run `make rules`"


def test_a_changed_threshold_makes_both_files_stale() -> None:
    source = generate.SOURCE.read_text()
    changed = source.replace("lag_seconds: 120", "lag_seconds: 90")
    assert changed != source
    assert sorted(generate.stale(changed)) == sorted([generate.PROMETHEUS, generate.GRAFANA])


def test_a_threshold_is_written_once_and_reaches_query_and_description_on_both_sides() -> None:
    source = yaml.safe_load(generate.SOURCE.read_text())
    prometheus = {
        r["alert"]: r for g in generate.prometheus_rules(source)["groups"] for r in g["rules"]
    }
    grafana = {r["title"]: r for g in generate.grafana_rules(source)["groups"] for r in g["rules"]}
    rising = "PartnerPulseDirectToTechRising"
    assert "(1.5 * client_behaviour_window" in prometheus[rising]["expr"]
    assert "(1.5 * client_behaviour_window" in grafana[rising]["data"][0]["model"]["expr"]
    for description in (
        prometheus[rising]["annotations"]["description"],
        grafana[rising]["annotations"]["description"],
    ):
        assert "more than 1.5 times its 90-day rate (and at least 3 in 30 days)" in description
    # The fired value: Prometheus's $value, Grafana's reduced B, each with its function.
    assert '{{ $value | printf "%.2f" }}' in prometheus[rising]["annotations"]["description"]
    assert '{{ printf "%.2f" $values.B.Value }}' in grafana[rising]["annotations"]["description"]
    assert set(prometheus) == set(grafana)


def test_an_unknown_threshold_name_is_refused() -> None:
    rule = {
        "alert": "PartnerPulseX",
        "expr": "up > %{missing}",
        "description": "x",
        "thresholds": {"limit": 1},
    }
    with pytest.raises(generate.RulesError, match=r"missing.*not one of its thresholds"):
        generate._texts(rule, grafana=False)
