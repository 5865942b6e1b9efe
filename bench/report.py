"""`make bench-report`: the partnership review's cost, one client and every client.

Synthetic clients' quarters (2026Q1: planned maintenance every day, incidents, RMM
alerts, visits every week, meetings, recommendations; bench/classifier.py's
generator) are folded by the classifier's pure engine into client states, in
process. Then:

1. one client's quarter: build + HTML, and build + HTML + PDF (median of --rounds);
   target under 2 s;
2. `--all`: every one of --clients clients' quarter, build + HTML, on a pool of
   --workers processes (the machine's cores); target 500 clients under 5 minutes.
   PDF for all is measured on --pdf-sample clients and its total extrapolated.

`--clients` states are made from --distinct distinct histories (folding 500 quarters
of events takes longer than reporting them and measures the engine, not the report).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.classifier import client_day, write_tenant
from bench.docs import update_section
from services.classifier.domain.engine import Engine
from services.classifier.domain.state import ClientState
from services.events.tenant import Tenant, load_tenant
from services.report.build import build_report
from services.report.model import Period
from services.report.pdf import html_to_pdf
from services.report.period import quarter
from services.report.render import render_html
from tests.unit.classifier import factory as f

MARK_START, MARK_END = "<!-- bench-report:start -->", "<!-- bench-report:end -->"
START = datetime(2026, 1, 1, tzinfo=UTC)

_STATES: list[ClientState] = []  # the pool's workers inherit them (fork)
_TENANT: Tenant | None = None


def say(message: str) -> None:
    print(f"[bench-report] {message}", flush=True)


def history(client: str, rng: random.Random) -> ClientState:
    """One client's 2026Q1 folded and judged by the engine, as the agent would."""
    assert _TENANT is not None
    engine = Engine(_TENANT)
    state = ClientState(client)
    events = [e for day in range(90) for e in client_day(client, day, START, rng)]
    for k in range(4):
        events.append(
            f.recommendation(
                f"r-{client}-{k}", f.at(-60 + 20 * k), status=("open", "declined")[k % 2],
                client=client,
            )
        )  # fmt: skip
    events.sort(key=lambda e: e.occurred_at)
    watermark = 0.0
    for e in events:
        engine.apply(state, e, watermark)
        watermark = max(watermark, e.occurred_at.timestamp())
        if e.payload.kind == "ticket" and e.payload.nature == "maintenance":
            engine.judge(state, _TENANT.tenant, watermark, watermark)  # a daily score
    return state


def period() -> Period:
    p = quarter("2026Q1")
    assert isinstance(p, Period)
    return p


def one(index: int, pdf: bool = False) -> tuple[int, int]:
    assert _TENANT is not None
    client = _TENANT.clients[index]
    state = _STATES[index % len(_STATES)]
    html = render_html(build_report(state, _TENANT, client, period()))
    return len(html), len(html_to_pdf(html)) if pdf else 0


def timed(index: int, pdf: bool) -> tuple[float, float]:
    """Wall-clock and CPU seconds of one report (CPU: what it costs on an idle core)."""
    started, cpu = time.perf_counter(), time.process_time()
    one(index, pdf)
    return time.perf_counter() - started, time.process_time() - cpu


def main() -> int:
    global _TENANT
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=500)
    parser.add_argument("--distinct", type=int, default=25)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--workers", type=int, default=multiprocessing.cpu_count())
    parser.add_argument("--pdf-sample", type=int, default=20)
    parser.add_argument("--write", type=Path, help="Update this markdown file's section.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-report-") as tmp:
        _TENANT = load_tenant(write_tenant(Path(tmp) / "tenant.yaml", args.clients))
    rng = random.Random(7)
    say(f"folding {args.distinct} client quarters")
    _STATES.extend(history(f"c{i:03d}", rng) for i in range(args.distinct))
    events = sum(len(s.seen) for s in _STATES) // len(_STATES)
    one(0, pdf=True)  # warm: imports, font caches
    html_runs = [timed(0, False) for _ in range(args.rounds)]
    pdf_runs = [timed(0, True) for _ in range(args.rounds)]
    html_times, pdf_times = [w for w, _ in html_runs], [w for w, _ in pdf_runs]
    cpu = (statistics.median(c for _, c in html_runs), statistics.median(c for _, c in pdf_runs))
    say(f"one quarter: HTML {statistics.median(html_times):.2f} s ({cpu[0]:.2f} s CPU), "
        f"HTML + PDF {statistics.median(pdf_times):.2f} s ({cpu[1]:.2f} s CPU)")  # fmt: skip
    context = multiprocessing.get_context("fork")
    with context.Pool(args.workers) as pool:
        started = time.perf_counter()
        sizes = pool.map(one, range(args.clients), chunksize=4)
        all_html = time.perf_counter() - started
        say(f"--all: {args.clients} clients' HTML in {all_html:.1f} s")
        started = time.perf_counter()
        pool.starmap(one, [(i, True) for i in range(args.pdf_sample)], chunksize=1)
        sample_pdf = time.perf_counter() - started
    pdf_all = sample_pdf / args.pdf_sample * args.clients
    say(
        f"--all PDF: {args.pdf_sample} in {sample_pdf:.1f} s, so {args.clients} in ~{pdf_all:.0f} s"
    )
    if args.write:
        when = datetime.now(UTC).strftime("%Y-%m-%d")
        html_kb = statistics.median(s[0] for s in sizes) / 1024
        load = os.getloadavg()[2]
        section = render(
            args, when, events, html_times, pdf_times, cpu, all_html, sample_pdf, pdf_all, html_kb,
            load,
        )  # fmt: skip
        update_section(args.write, section)
        say(f"written to {args.write}")
    return 0


def render(
    args: argparse.Namespace,
    when: str,
    events: int,
    html_times: list[float],
    pdf_times: list[float],
    cpu: tuple[float, float],
    all_html: float,
    sample_pdf: float,
    pdf_all: float,
    html_kb: float,
    load: float,
) -> str:
    html_1, pdf_1 = statistics.median(html_times), statistics.median(pdf_times)
    return f"""{MARK_START}
## Partnership review (`make bench-report`)

Measured {when} on this project's 2-core machine, shared with other work (load average
over the last 15 minutes at the end: {load:.1f}, so each process had about
{min(1.0, 2 / max(load, 0.01)):.0%} of a core), with
`python -m bench.report --clients {args.clients} --distinct {args.distinct} --rounds {args.rounds} --workers {args.workers} --pdf-sample {args.pdf_sample}`
(what `make bench-report` runs). Client states are built in process by the classifier's
engine from synthetic quarters (2026Q1, about {events} events per client: daily maintenance,
incidents, RMM alerts, weekly visits, meetings, recommendations); {args.clients} clients share
{args.distinct} distinct histories. A report is `build_report` (pure) + `render_html`
(Jinja2, five charts drawn as plain SVG by `services/report/charts.py`) [+ `html_to_pdf`
(WeasyPrint)]. CPU is the process's CPU time: what a report costs on a core of its own,
whatever else the machine runs.

| | measured (wall) | CPU | target |
|---|---|---|---|
| one client's quarter, HTML (median of {args.rounds}) | **{html_1:.2f} s** | {cpu[0]:.2f} s | under 2 s |
| one client's quarter, HTML + PDF (median of {args.rounds}) | **{pdf_1:.2f} s** | {cpu[1]:.2f} s | under 2 s |
| `--all`, {args.clients} clients, HTML, {args.workers} processes | **{all_html:.0f} s** ({all_html / args.clients * 1000:.0f} ms a client) | | under 5 minutes |
| `--all`, PDF, {args.pdf_sample} clients measured, {args.clients} extrapolated | {sample_pdf:.1f} s, so **~{pdf_all:.0f} s** | | |

A report's HTML is about {html_kb:.0f} KB (charts inline). Through the API, the classifier
renders at most two reports at a time, in threads beside its agent (503 with Retry-After
beyond that), so `partnerpulse report --all` costs about the figures above plus HTTP.
{MARK_END}"""


if __name__ == "__main__":
    raise SystemExit(main())
