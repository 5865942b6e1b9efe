"""`partnerpulse`: one command line for every service and tool.

One typer app (`services.cli.common.app`); its commands live by group: `stack` (up and
each service), `ops` (schema, check-tenant, token, topics, tail, send), `scenario`
(simulate, evaluate, demo) and `report`. Each group lists its commands in COMMANDS;
they are registered here, in the order `partnerpulse --help` shows them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from services.cli import ops, report, scenario, stack
from services.cli.common import app

_POLL_LAST = [c for c in stack.COMMANDS if c is not stack.poll]  # poll is listed last
_ORDER: list[Callable[..., Any]] = [
    *_POLL_LAST,
    *ops.COMMANDS,
    *scenario.COMMANDS,
    *report.COMMANDS,
    stack.poll,
]
for command in _ORDER:
    app.command()(command)

__all__ = ["app"]
