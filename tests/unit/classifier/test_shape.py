"""The classifier's shape: the domain and the processor import no faust (nor Kafka or
HTTP), so they run and are tested without a broker; the faust shell and the views are
the only modules that do."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

CLASSIFIER = Path(__file__).parents[3] / "services" / "classifier"
SHELL_LIBRARIES = ("faust", "mode", "aiokafka", "kafka", "aiohttp")
# The faust shell (agent, its intake, tables, transport, outputs, wiring) and the HTTP views.
# Every other module of the classifier is domain or processor.
SHELL = {
    "agent",
    "app",
    "bootstrap",
    "intake",
    "openapi",
    "peers",
    "publish",
    "queries",
    "report_views",
    "service",
    "tables",
    "transport",
    "views",
}
PURE = sorted(
    p.relative_to(CLASSIFIER).as_posix()
    for p in CLASSIFIER.rglob("*.py")
    if p.relative_to(CLASSIFIER).parts[0].removesuffix(".py") not in SHELL
)


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
    if parts[0] in SHELL_LIBRARIES:
        return True
    return parts[:2] == ["services", "classifier"] and len(parts) > 2 and parts[2] in SHELL


def test_the_domain_and_the_processor_are_checked() -> None:
    for module in ("processor.py", "states.py", "engine.py", "domain/schedule_join.py"):
        assert any(p.endswith(module) for p in PURE), module


@pytest.mark.parametrize("name", PURE)
def test_the_domain_and_the_processor_import_no_faust(name: str) -> None:
    shell = sorted(m for m in imports(CLASSIFIER / name) if is_shell(m))
    assert shell == [], f"services/classifier/{name} imports the faust shell: {shell}"


def test_the_check_sees_a_faust_import(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import faust.web\n"
        "def f():\n    from services.classifier.agent import Agent\n"
        "from services.classifier.domain import layout\n"
    )
    assert [m for m in sorted(imports(module)) if is_shell(m)] == [
        "faust.web",
        "services.classifier.agent",
        "services.classifier.agent.Agent",
    ]


DOMAIN = CLASSIFIER / "domain"
# What the domain may stand on besides the standard library: the shared event model and
# tenant policy (services.events), its own modules, and orjson for its records' bytes.
DOMAIN_MAY_IMPORT = ("services.events", "services.classifier.domain", "orjson")


def outside_domain(path: Path) -> list[str]:
    """What the file imports beyond the standard library and DOMAIN_MAY_IMPORT."""
    return sorted(
        m
        for m in imports(path)
        if m.split(".")[0] not in sys.stdlib_module_names
        and not any(m == allowed or m.startswith(allowed + ".") for allowed in DOMAIN_MAY_IMPORT)
    )


@pytest.mark.parametrize("name", sorted(p.name for p in DOMAIN.glob("*.py")))
def test_the_domain_stands_on_the_standard_library_and_the_event_model(name: str) -> None:
    outside = outside_domain(DOMAIN / name)
    assert outside == [], f"services/classifier/domain/{name} imports {outside}"


def test_the_domain_check_sees_an_import_from_outside(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("import json\nfrom services.classifier.metrics import X\nimport faust\n")
    assert outside_domain(module) == [
        "faust",
        "services.classifier.metrics",
        "services.classifier.metrics.X",
    ]
