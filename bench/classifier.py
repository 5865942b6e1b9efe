"""`make bench-classifier`: classifier throughput vs a trivial agent, and end-to-end latency.

1. Backlog drain. A backlog of realistic canonical events (every client's
   planned work, incidents, RMM alerts, visits, direct requests; keyed by
   client as ingest keys them) sits on `partnerpulse.events`. One classifier
   worker drains it; so does a trivial Faust agent with the same app settings
   and transport, which only counts (the transport ceiling). Each runs
   `--rounds` times, alternating, each in a fresh consumer group; the ratio of
   the medians is the figure.
2. End to end. `partnerpulse up` (ingest, relay, classifier on the embedded
   broker) receives signed canonical NDJSON batches at `--rate` events/s for
   `--duration` seconds; the classifier's histogram of "ingest accepted ->
   client health updated" gives p50/p99 (interpolated within buckets, as
   Prometheus' histogram_quantile does).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import yaml
from kafka import KafkaProducer

from bench.docs import update_section
from bench.procstat import cpu_seconds
from services.events import topics
from services.events.models import CanonicalEvent, Source
from services.events.tenant import load_tenant
from services.ingest.sender import Signer
from services.platform import local_http
from services.platform.process import spawn, stop_process
from services.runtime.auth import bearer, new_token
from services.runtime.broker import EmbeddedBroker, free_port
from services.runtime.kafka import ensure_topics
from tests.unit.classifier import factory as f

REPO = Path(__file__).resolve().parents[1]
MARK_START, MARK_END = "<!-- bench-classifier:start -->", "<!-- bench-classifier:end -->"


def say(message: str) -> None:
    print(f"[bench-classifier] {message}", flush=True)


def write_tenant(path: Path, clients: int, large: int = 0) -> Path:
    """The test tenant with `clients` clients; the first `large` of 2,500 endpoints."""
    base = yaml.safe_load((REPO / "tests" / "fixtures" / "tenant.yaml").read_text())
    base.pop("alerts", None)  # it names the fixture's clients, replaced here
    base["clients"] = [
        {
            "id": f"c{i:03d}",
            "name": f"Client {i:03d}",
            "account_lead": {"name": "Lead", "email": "lead@msp.example"},
            "endpoints": 2500 if i < large else 20 + i % 80,
            "identities": {"connectwise": [str(1000 + i)]},
        }
        for i in range(clients)
    ]
    path.write_text(yaml.safe_dump(base))
    return path


def client_day(client: str, day: int, start: datetime, rng: random.Random) -> list[CanonicalEvent]:
    """One client's day: planned work, some incidents (some direct, some late), alerts, visits."""

    def at(hours: float) -> datetime:
        return start + timedelta(days=day, hours=hours)

    n = f"{client}-{day}"
    out = [
        f.ticket(f"pm-{n}", at(8), client=client, nature="maintenance", channel="scheduled"),
        f.time_entry(f"tpm-{n}", at(9), 1.0 + rng.random(), ticket_id=f"pm-{n}", client=client),
    ]
    for k in range(rng.randrange(3)):
        device = f"{client}-pc-{rng.randrange(30)}"
        if rng.random() < 0.5:
            out.append(f.alert(f"a-{n}-{k}", at(6 + k), device=device, client=client))
        channel = "phone" if rng.random() < 0.2 else "email"
        entered = f.TECH if channel == "phone" else f.DESK
        out.append(
            f.ticket(
                f"i-{n}-{k}",
                at(11 + k),
                client=client,
                channel=channel,
                entered_by=entered,
                devices=[device],
            )
        )
        out.append(
            f.time_entry(f"ti-{n}-{k}", at(12 + k), 0.5, ticket_id=f"i-{n}-{k}", client=client)
        )
    if day % 7 == 2:
        out.append(f.visit(f"v-{n}", at(13), booked=at(-3), ticket_id=f"pm-{n}", client=client))
    if day % 30 == 5:
        out.append(
            f.meeting(
                f"m-{n}", at(15), status="no_show" if rng.random() < 0.3 else "held", client=client
            )
        )
    return out


def backlog(clients: int, events: int, seed: int) -> list[CanonicalEvent]:
    rng = random.Random(seed)
    start = datetime(2026, 1, 5, tzinfo=UTC)
    out: list[CanonicalEvent] = []
    day = 0
    while len(out) < events:
        for i in range(clients):
            out += client_day(f"c{i:03d}", day, start, rng)
        day += 1
    return out[:events]


def produce(bootstrap: str, events: list[CanonicalEvent]) -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5, batch_size=65536)
    for e in events:
        producer.send(topics.EVENTS, key=e.client_id.encode(), value=e.model_dump_json().encode())
    producer.flush()
    producer.close()


STORE = os.environ.get("BENCH_CLASSIFIER_STORE", "rocksdb://")  # or memory://, to compare
TOKEN, TOKEN_ENTRY = new_token("bench")  # reads the classifier's /v1/status
AUTH = bearer(TOKEN)


def env_for(data_dir: Path, tenant: Path, **extra: str) -> dict[str, str]:
    # The caller's classifier settings (PARTNERPULSE_CLASSIFIER_*) pass, to compare them.
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("PARTNERPULSE_") or k.startswith("PARTNERPULSE_CLASSIFIER_")
    }
    env.update(
        PARTNERPULSE_DATA_DIR=str(data_dir),
        PARTNERPULSE_TENANT_FILE=str(tenant),
        PARTNERPULSE_LOG_LEVEL=os.environ.get("BENCH_LOG_LEVEL", "WARNING"),
        PARTNERPULSE_API_TOKENS=TOKEN_ENTRY.line(),
        **extra,
    )
    return env


class Drained:
    """One drain: events/s from the first event to the last, and the worker's CPU
    microseconds per event over the same span (less noisy than the rate on a shared
    machine, and what the code costs)."""

    def __init__(self, rate: float, cpu_us: float) -> None:
        self.rate, self.cpu_us = rate, cpu_us


def run_trivial(bootstrap: str, expect: int, work: Path, round_no: int) -> Drained:
    out = work / f"trivial-{round_no}.json"
    proc = spawn(
        [
            sys.executable,
            "-m",
            "bench.trivial_agent",
            "--bootstrap",
            bootstrap,
            "--expect",
            str(expect),
            "--out",
            str(out),
            "--app-id",
            f"bench-trivial-{round_no}",
        ],
        cwd=REPO,
    )
    try:
        deadline = time.monotonic() + 600
        while not out.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the trivial agent stopped before draining the backlog")
            time.sleep(0.2)
        result = json.loads(out.read_text())
    finally:
        stop_process(proc, 60)
    rate = expect / (result["last"] - result["first"])
    return Drained(rate, result["cpu"] / (expect - 1) * 1e6)


def run_classifier(bootstrap: str, tenant: Path, expect: int, work: Path, round_no: int) -> Drained:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = work / f"classifier-{round_no}.log"
    proc = spawn(
        [sys.executable, "-m", "services.cli", "classifier"],
        cwd=REPO,
        env=env_for(
            work / f"var-{round_no}",
            tenant,
            PARTNERPULSE_KAFKA_BOOTSTRAP=bootstrap,
            PARTNERPULSE_CLASSIFIER_PORT=str(port),
            PARTNERPULSE_CLASSIFIER_APP_ID=f"bench-classifier-{round_no}",
            PARTNERPULSE_CLASSIFIER_STORE=STORE,
        ),
        log_file=log,
    )
    try:
        first = last = 0.0
        done_first = 0
        cpu_first = cpu_last = 0.0
        deadline = time.monotonic() + 900
        with httpx.Client(trust_env=False, timeout=5, headers=AUTH) as http:
            # Polled every 0.1 s (each poll is work for the worker: every 20 ms cost it
            # about 2% of its CPU). The span starts at the first poll that sees events
            # done and counts only the events done after it; it ends when the worker
            # handled its last batch, by its own clock (`handled_at`).
            while time.monotonic() < deadline:
                if proc.poll() is not None:
                    tail = log.read_text(errors="replace").splitlines()[-15:]
                    raise RuntimeError(
                        "the classifier stopped before draining the backlog:\n" + "\n".join(tail)
                    )
                try:
                    status = http.get(f"{url}/v1/status").json()
                except httpx.HTTPError:
                    status = {"events_processed": 0}
                done = status["events_processed"]
                now = time.time()
                if done and not first:
                    first, done_first, cpu_first = now, done, cpu_seconds(proc.pid)
                if done >= expect:
                    last, cpu_last = float(status["handled_at"]), cpu_seconds(proc.pid)
                    break
                time.sleep(0.1)
        if not last:
            raise RuntimeError("the classifier did not drain the backlog in time")
    finally:
        stop_process(proc, 60)
    # The events done before the first poll that saw any are not in the span.
    counted = expect - done_first
    return Drained(counted / (last - first), (cpu_last - cpu_first) / counted * 1e6)


def histogram_quantile(q: float, buckets: list[tuple[float, float]]) -> float:
    """Prometheus' histogram_quantile over cumulative (le, count) buckets."""
    total = buckets[-1][1]
    rank = q * total
    prev_le, prev_count = 0.0, 0.0
    for le, count in buckets:
        if count >= rank:
            if le == float("inf"):
                return prev_le
            return prev_le + (le - prev_le) * (rank - prev_count) / max(count - prev_count, 1e-9)
        prev_le, prev_count = le, count
    return prev_le


def scrape_latency(url: str) -> tuple[list[tuple[float, float]], float]:
    text = local_http.get(f"{url}/metrics", timeout=10).text
    buckets = []
    for m in re.finditer(
        r'^partnerpulse_classifier_processing_latency_seconds_bucket\{le="([^"]+)"\} (\S+)$',
        text,
        re.M,
    ):
        buckets.append((float(m.group(1)), float(m.group(2))))
    found = re.search(
        r"^partnerpulse_classifier_processing_latency_seconds_count (\S+)$", text, re.M
    )
    if found is None:
        raise RuntimeError(f"{url}/metrics has no processing latency count")
    return sorted(buckets), float(found.group(1))


def end_to_end(
    tenant_path: Path, work: Path, rate: int, duration: int, clients: int
) -> dict[str, Any]:
    ports = {k: free_port() for k in ("ingest", "classifier", "relay", "broker")}
    env = env_for(
        work / "var-e2e",
        tenant_path,
        PARTNERPULSE_INGEST_PORT=str(ports["ingest"]),
        PARTNERPULSE_CLASSIFIER_PORT=str(ports["classifier"]),
        PARTNERPULSE_RELAY_PORT=str(ports["relay"]),
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "services.cli", "up", "--broker-port", str(ports["broker"])],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        if "running; Ctrl+C stops everything" in line:
            break
    else:
        raise RuntimeError("partnerpulse up did not start")
    ingest = f"http://127.0.0.1:{ports['ingest']}"
    classifier = f"http://127.0.0.1:{ports['classifier']}"
    signer = Signer(load_tenant(tenant_path))
    rng = random.Random(3)
    batch = max(1, rate // 20)  # 20 deliveries per second
    sent = 0
    try:
        # Warm up: the classifier joins its group and judges every client once.
        warm = [
            f.ticket(f"warm-{i}", datetime.now(UTC), client=f"c{i:03d}") for i in range(clients)
        ]
        post(ingest, signer, warm)
        deadline = time.monotonic() + 120
        while (
            local_http.get(f"{classifier}/v1/status", headers=AUTH).json()["events_processed"]
            < clients
        ):
            if time.monotonic() > deadline:
                raise RuntimeError("the classifier never processed the warm-up events")
            time.sleep(0.2)
        _, warm_count = scrape_latency(classifier)
        say(f"end to end: {rate} events/s for {duration}s in deliveries of {batch}")
        start = time.monotonic()
        tick = 0
        while time.monotonic() - start < duration:
            now = datetime.now(UTC)
            events = []
            for _ in range(batch):
                c = f"c{rng.randrange(clients):03d}"
                sent += 1
                events.append(
                    f.time_entry(f"live-{sent}", now, 0.25, client=c, nature="incident")
                    if sent % 2
                    else f.ticket(f"live-{sent}", now, client=c)
                )
            post(ingest, signer, events)
            tick += 1
            pause = start + tick / 20 - time.monotonic()
            if pause > 0:
                time.sleep(pause)
        achieved = sent / (time.monotonic() - start)
        deadline = time.monotonic() + 60
        while True:
            buckets, count = scrape_latency(classifier)
            if count - warm_count >= sent or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        return {
            "sent": sent,
            "achieved": achieved,
            "observed": int(count - warm_count),
            "p50": histogram_quantile(0.5, buckets),
            "p99": histogram_quantile(0.99, buckets),
        }
    finally:
        stop_process(proc, 60, sig=signal.SIGINT, group=True)  # as Ctrl+C would
        proc.stdout.close()


def post(ingest: str, signer: Signer, events: list[CanonicalEvent]) -> None:
    body = "\n".join(e.model_dump_json() for e in events).encode()
    r = local_http.post(
        f"{ingest}/v1/webhooks/canonical",
        content=body,
        headers=signer.headers(Source.canonical, body),
        trust_env=False,
        timeout=30,
    )
    if r.status_code >= 300:
        raise RuntimeError(f"ingest answered {r.status_code}: {r.text}")


def median_rate(runs: list[Drained]) -> float:
    return statistics.median(d.rate for d in runs)


def median_cpu(runs: list[Drained]) -> float:
    return statistics.median(d.cpu_us for d in runs)


def render(r: dict[str, Any], args: argparse.Namespace) -> str:
    e2e = r["e2e"]
    trivial: list[Drained] = r["trivial"]
    classified: list[Drained] = r["classifier"]
    rows = "\n".join(
        f"| {i + 1} | {t.rate:.0f} | {c.rate:.0f} | {t.cpu_us:.0f} | {c.cpu_us:.0f} |"
        for i, (t, c) in enumerate(zip(trivial, classified, strict=True))
    )
    ratio = median_rate(classified) / median_rate(trivial)
    cpu_ratio = median_cpu(trivial) / median_cpu(classified)
    return f"""{MARK_START}
## Classifier (`make bench-classifier`)

Measured {r["when"]} on this project's 2-core machine with
`python -m bench.classifier --events {args.events} --clients {args.clients} --rounds {args.rounds} --rate {args.rate} --duration {args.duration}`
(what `make bench-classifier` runs).

**Backlog drain.** {args.events} realistic canonical events for {args.clients} clients (planned
work, incidents, RMM alerts, visits, meetings; keyed by client as ingest keys them) on the
embedded broker. One classifier worker (parse, deduplicate, label, fold into the client's
state, judge the client, publish work/signals/health, checkpoint the changed states)
against a trivial Faust agent with the same app settings and transport that only counts.
Alternating rounds, each in a fresh consumer group; the ratio is of the medians. Each
worker's CPU time per event over the same span (from /proc) is beside its rate: the
work the code does, less noisy on a shared machine than the rate.

| round | trivial agent events/s | classifier events/s | trivial µs CPU/event | classifier µs CPU/event |
|---|---|---|---|---|
{rows}
| **median** | **{median_rate(trivial):.0f}** | **{median_rate(classified):.0f}** | **{median_cpu(trivial):.0f}** | **{median_cpu(classified):.0f}** |

**Ratio classifier / trivial: {ratio:.2f}** (target at least 0.60); by CPU per event
(trivial's / classifier's): {cpu_ratio:.2f}.

**End to end** through `partnerpulse up` (ingest over HTTP with Standard Webhooks signatures,
journal, relay, broker, classifier): {e2e["sent"]} events at {e2e["achieved"]:.0f} events/s
achieved (target rate {args.rate}), posted as NDJSON deliveries of {max(1, args.rate // 20)}.
From ingest accepting an event to its client's health being updated, over
{e2e["observed"]} events: **p50 {e2e["p50"] * 1000:.0f} ms, p99 {e2e["p99"] * 1000:.0f} ms**
(target p99 under 500 ms; quantiles interpolated within the histogram's buckets).
{MARK_END}"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=30000)
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=5)  # the machines are noisy: a median of 5
    parser.add_argument("--rate", type=int, default=1000)
    parser.add_argument("--duration", type=int, default=20)
    parser.add_argument("--write", type=Path, help="Update this markdown file's section.")
    parser.add_argument(
        "--part",
        choices=("all", "drain", "e2e"),
        default="all",
        help="Measure only the backlog drain or only end to end (development; --write needs all).",
    )
    args = parser.parse_args()
    if args.write and args.part != "all":
        parser.error("--write records a whole run: drop --part")
    with tempfile.TemporaryDirectory(prefix="bench-classifier-") as tmp:
        work = Path(tmp)
        tenant = write_tenant(work / "tenant.yaml", args.clients)
        say(f"generating {args.events} events for {args.clients} clients")
        events = backlog(args.clients, args.events, seed=1)
        trivial: list[Drained] = []
        classified: list[Drained] = []
        if args.part in ("all", "drain"):
            with EmbeddedBroker(free_port()) as broker:
                ensure_topics(broker.bootstrap, topics.ALL)
                produce(broker.bootstrap, events)
                say("backlog on the broker")
                for i in range(args.rounds):
                    trivial.append(run_trivial(broker.bootstrap, len(events), work, i))
                    say(
                        f"round {i + 1}: trivial agent {trivial[-1].rate:.0f} events/s, "
                        f"{trivial[-1].cpu_us:.0f} µs of CPU per event"
                    )
                    classified.append(
                        run_classifier(broker.bootstrap, tenant, len(events), work, i)
                    )
                    say(
                        f"round {i + 1}: classifier {classified[-1].rate:.0f} events/s, "
                        f"{classified[-1].cpu_us:.0f} µs of CPU per event"
                    )
            ratio = median_rate(classified) / median_rate(trivial)
            cpu_ratio = median_cpu(trivial) / median_cpu(classified)
            say(f"ratio classifier / trivial: {ratio:.2f} (by CPU per event: {cpu_ratio:.2f})")
        if args.part in ("all", "e2e"):
            e2e = end_to_end(tenant, work, args.rate, args.duration, args.clients)
            say(f"end to end: p50 {e2e['p50'] * 1000:.0f} ms, p99 {e2e['p99'] * 1000:.0f} ms")
    if args.part != "all":
        return 0
    result: dict[str, Any] = {
        "when": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "trivial": trivial,
        "classifier": classified,
        "e2e": e2e,
    }
    if args.write:
        update_section(args.write, render(result, args))
        say(f"wrote {args.write}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
