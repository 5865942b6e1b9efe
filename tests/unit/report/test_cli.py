"""`partnerpulse report`: what it refuses before asking anything, and a classifier that
does not answer, each with a message that says what to do."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from services.cli import app
from services.runtime.broker import free_port


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--quarter", "2026Q1"], "name one CLIENT or give --all"),
        (["acme", "--all", "--quarter", "2026Q1"], "name one CLIENT or give --all"),
        (["acme"], "give --quarter 2026Q1, or --from and --to"),
        (["acme", "--quarter", "2026Q1", "--to", "2026-01-31"], "not both"),
        (["acme", "--quarter", "26Q1"], "quarter must look like 2026Q1, not '26Q1'"),
        (["acme", "--from", "2026-02-01", "--to", "2026-01-01"], "is before from"),
        (["acme", "--quarter", "2026Q1", "--format", "docx"], "--format must be html or pdf"),
    ],
)
def test_what_it_refuses(args: list[str], message: str) -> None:
    result = CliRunner().invoke(app, ["report", *args])
    assert result.exit_code == 2
    assert message in result.output


def test_no_classifier_to_ask() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = CliRunner().invoke(
        app, ["report", "acme", "--quarter", "2026Q1", "--classifier-url", url, "--token", "t"]
    )
    assert result.exit_code == 2
    assert f"cannot reach the classifier at {url}" in result.output
    assert "is `partnerpulse up` running?" in result.output
