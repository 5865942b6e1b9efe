"""The layering of services/: imports run down the floors of docs/layout.py only."""

from __future__ import annotations

import importlib.util
import sys
from collections import Counter
from pathlib import Path
from types import ModuleType

LAYOUT = Path(__file__).resolve().parents[2] / "docs" / "layout.py"


def _layout() -> ModuleType:
    spec = importlib.util.spec_from_file_location("services_layout", LAYOUT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


layout = _layout()


def test_every_room_is_on_a_floor_and_no_import_runs_up() -> None:
    edges = layout.room_imports()
    rooms = {room for edge in edges for room in edge}
    assert rooms <= {room for floor in layout.FLOORS for room in floor}
    assert layout.upward(edges) == []


def test_the_platform_imports_nothing_of_partnerpulse() -> None:
    assert [edge for edge in layout.room_imports() if edge[0] == "platform"] == []


def test_an_upward_import_is_reported_with_the_rooms_named() -> None:
    problems = layout.upward(Counter({("events", "ingest"): 2, ("ingest", "events"): 5}))
    assert problems == [
        "services/events (floor 0) imports services/ingest (floor 2) 2 time(s): "
        "imports go down only"
    ]
