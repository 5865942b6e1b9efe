"""Scenarios recorded from a real ConnectWise keep its vendor key_url, and still evaluate.

`../shared/scenario-format.md`: the bodies name
`https://api-na.myconnectwise.net/.../callbacks/key?...`, which no test may call.
The pipeline `evaluate` starts answers every key_url of the scenario with the
scenario's signing key (`PARTNERPULSE_INGEST_CONNECTWISE_KEY_FILE`), the bodies
untouched and the tenant's allow-list still checked. Without that key file every
ConnectWise delivery is answered 429 `key_unavailable`: the run then ends within
a minute saying so, instead of retrying until someone kills it.
"""

from __future__ import annotations

import io
import json
import math
import shutil
import time
from pathlib import Path

import pytest
from rich.console import Console

from services.ingest.settings import IngestSettings
from services.scenario.evaluate import EvaluationError, evaluate
from services.scenario.files import load_scenario
from services.scenario.replay import vendor_key_urls

pytestmark = pytest.mark.acceptance  # the slow tier: `make test-acceptance`

REPO = Path(__file__).resolve().parents[2]
SOURCE = REPO / "tests" / "scenarios" / "families-30d"
VENDOR = "https://api-na.myconnectwise.net/v4_6_release/apis/3.0/system/callbacks/key"

ingest_reads_key_files = pytest.mark.skipif(
    "ingest_connectwise_key_file" not in IngestSettings.model_fields,
    reason="ingest has no PARTNERPULSE_INGEST_CONNECTWISE_KEY_FILE yet "
    "(/work/notes/evalwatch-ingest.patch)",
)


class Output(io.StringIO):
    """The console's output, and when it said the pipeline was up."""

    up_at = math.inf

    def write(self, text: str) -> int:
        if "pipeline up" in text and self.up_at == math.inf:
            self.up_at = time.monotonic()
        return super().write(text)


def recorded_from_connectwise(folder: Path) -> Path:
    """The ConnectWise deliveries of a committed scenario, as a real ConnectWise would
    have sent them: each body's key_url on the vendor's host (one URL per callback)."""
    folder.mkdir()
    shutil.copy(SOURCE / "tenant.yaml", folder / "tenant.yaml")
    lines = []
    for line in (SOURCE / "deliveries.jsonl").read_text().splitlines():
        delivery = json.loads(line)
        if delivery["source"] != "connectwise":
            continue
        body = json.loads(delivery["body"])
        callback = body["Type"]
        body["Metadata"]["key_url"] = f"{VENDOR}?companyId=sim-msp&callback={callback}"
        delivery["body"] = json.dumps(body, separators=(",", ":"))
        lines.append(json.dumps(delivery))
    (folder / "deliveries.jsonl").write_text("\n".join(lines) + "\n")
    truth = json.loads((SOURCE / "truth.json").read_text())
    work = {r: c for r, c in truth["work"].items() if r.startswith("connectwise:")}
    (folder / "truth.json").write_text(json.dumps({"work": work, "signals": [], "health": {}}))
    return folder


@ingest_reads_key_files
def test_a_scenario_with_the_vendors_key_url_evaluates(tmp_path: Path) -> None:
    files = load_scenario(recorded_from_connectwise(tmp_path / "scenario"))
    assert len(vendor_key_urls(files.deliveries)) > 1
    assert "127.0.0.1" not in (tmp_path / "scenario" / "deliveries.jsonl").read_text()
    out = io.StringIO()
    report = evaluate(files, Console(file=out, width=120))
    accounting = report.accounting
    assert accounting.rejected == [], out.getvalue()
    assert set(accounting.answers) <= {"200", "202"}, accounting.answers
    assert (accounting.lost, accounting.duplicated) == (0, 0), accounting.lost_examples
    assert accounting.deliveries == len(files.deliveries)
    assert report.work.total > 0 and report.work.unlabelled == 0


def test_without_the_key_every_connectwise_delivery_is_refused_and_the_run_says_so(
    tmp_path: Path,
) -> None:
    files = load_scenario(recorded_from_connectwise(tmp_path / "scenario"))
    out = Output()
    with pytest.raises(EvaluationError) as raised:
        evaluate(files, Console(file=out, width=120), serve_keys=False)
    took = time.monotonic() - out.up_at  # the run, once the pipeline was up
    message = str(raised.value)
    assert took < 60, f"took {took:.0f}s\n{out.getvalue()}"
    assert "ingest refused every connectwise delivery" in message, message
    assert "429 x" in message, message
    assert "cannot verify the signature now" in message, message  # ingest's own words
    assert "key_urls name vendor hosts" in message, message  # and what to do about it
    assert "[" in out.getvalue()  # progress lines while it tried
