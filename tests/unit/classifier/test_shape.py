"""The classifier's shape: the domain and the processor import no faust (nor Kafka or
HTTP), so they run and are tested without a broker; the faust shell is apart."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

CLASSIFIER = Path(__file__).parents[3] / "services" / "classifier"
# The pure domain and the processor; everything else of the classifier is the faust
# shell (agent, tables, transport, publish, bootstrap) or the HTTP views.
PURE = [
    *sorted(p.relative_to(CLASSIFIER).as_posix() for p in (CLASSIFIER / "domain").glob("*.py")),
    "announcing.py",
    "detectors.py",
    "devices.py",
    "engine.py",
    "health.py",
    "labels.py",
    "layout.py",
    "offsets.py",
    "processor.py",
    "state.py",
    "states.py",
    "words.py",
]
SHELL = ("faust", "mode", "aiokafka", "kafka", "aiohttp")
# Classifier modules that import the shell themselves.
SHELL_MODULES = {
    "agent",
    "app",
    "bootstrap",
    "peers",
    "publish",
    "report_views",
    "service",
    "tables",
    "transport",
    "views",
}


def imports(path: Path) -> set[str]:
    """Every module the file imports, at any depth (inside functions and TYPE_CHECKING too)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def is_shell(module: str) -> bool:
    parts = module.split(".")
    if parts[0] in SHELL:
        return True
    return parts[:2] == ["services", "classifier"] and len(parts) > 2 and parts[2] in SHELL_MODULES


def test_every_pure_module_exists() -> None:
    assert [name for name in PURE if not (CLASSIFIER / name).is_file()] == []


@pytest.mark.parametrize("name", PURE)
def test_the_domain_and_the_processor_import_no_faust(name: str) -> None:
    imported = imports(CLASSIFIER / name)
    shell = sorted(
        m
        for m in imported
        if m.split(".")[0] in SHELL
        or (
            m.count(".") >= 2
            and m.startswith("services.classifier.")
            and m.split(".")[2] in SHELL_MODULES
        )
    )
    assert shell == [], f"services/classifier/{name} imports the faust shell: {shell}"


def test_the_check_sees_a_faust_import(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import faust.web\n"
        "def f():\n    from services.classifier.agent import Agent\n"
    )
    assert {"faust.web", "services.classifier.agent"} <= imports(module)
    assert [m for m in sorted(imports(module)) if is_shell(m)] == [
        "faust.web",
        "services.classifier.agent",
        "services.classifier.agent.Agent",
    ]
