"""`make report-picture`: the README's picture of a report page.

A scenario's deliveries (the committed families-30d by default) are read by the vendor
adapters and folded by the classifier's engine in process (tests/report_truth.py,
as the unit tests do); one client's 2026Q1 report is made as PDF by the project's own
code, and its first page becomes a PNG with poppler's `pdftoppm`.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from services.report.build import build_report
from services.report.model import Period
from services.report.pdf import html_to_pdf
from services.report.period import quarter
from services.report.render import render_html
from services.scenario.files import load_scenario
from tests.report_truth import engine_states

REPO = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", type=Path, default=REPO / "tests/scenarios/families-30d")
    parser.add_argument("--client", default="oscorp-legal")  # families-30d's red client
    parser.add_argument("--quarter", default="2026Q1")
    parser.add_argument("--page", type=int, default=1)
    parser.add_argument("--out", type=Path, default=REPO / "docs/img/report-page1.png")
    args = parser.parse_args()
    if shutil.which("pdftoppm") is None:
        print("pdftoppm not found: apt-get install poppler-utils", file=sys.stderr)
        return 1
    files = load_scenario(args.scenario)
    client = files.tenant.client(args.client)
    period = quarter(args.quarter)
    if client is None or not isinstance(period, Period):
        print(f"no client {args.client!r} in {args.scenario}, or {period}", file=sys.stderr)
        return 1
    state = engine_states(files).states[client.id]
    pdf = html_to_pdf(render_html(build_report(state, files.tenant, client, period)))
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "report.pdf"
        source.write_bytes(pdf)
        page = str(args.page)
        stem = str(args.out.with_suffix(""))
        subprocess.run(
            [
                "pdftoppm",
                "-png",
                "-r",
                "80",
                "-f",
                page,
                "-l",
                page,
                "-singlefile",
                str(source),
                stem,
            ],
            check=True,
        )
    print(f"page {page} of {client.id}'s {args.quarter} report: {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
