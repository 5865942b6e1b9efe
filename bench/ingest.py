"""`make bench-ingest`: signed webhooks per second and latency, ingest vs a bare handler.

Both servers are the same ASGI stack (FastAPI on one uvicorn process); the bare
one only reads the body and answers 202, which is the ceiling of the HTTP layer
on this machine. Ingest does the whole job: Autotask HMAC-SHA1 verification
over the raw body, normalisation, group-committed SQLite journal (FULL sync),
with `partnerpulse relay` running beside it (its own process, same machine)
sending the journal to the embedded Kafka broker.

1. Saturation: wrk, 50 connections, --rounds rounds of --duration seconds each,
   bare and ingest taking turns (both servers stay up), so that the load other
   work puts on a shared machine falls on both alike. Throughput is each
   server's requests over its total time; the ratio is of those two.
2. Latency at a fixed rate: wrk's 50 connections hold --rate requests/s in all
   (wrk2-style schedule, see wrk_post.lua) for --rate-duration seconds each.

Every request is a distinct event (each run has its own bodies): no duplicates.
Results are ratios against the bare handler measured in the same run.

Beside requests/s, each saturation round reads the CPU time of the server process (and of
the relay) from /proc before and after: CPU milliseconds per request is the work the code
does for one request, which a busy shared machine changes much less than the requests/s
it can reach (that depends on how much of a core the server gets).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.docs import update_section
from bench.procstat import cpu_seconds
from services.events import topics
from services.events.tenant import load_tenant
from services.platform import local_http
from services.platform.process import start_service, stop_process
from services.runtime.broker import EmbeddedBroker, free_port
from services.runtime.kafka import ensure_topics

REPO = Path(__file__).resolve().parents[1]
TENANT = REPO / "tests" / "fixtures" / "tenant.yaml"
MARK_START, MARK_END = "<!-- bench-ingest:start -->", "<!-- bench-ingest:end -->"


def say(message: str) -> None:
    print(f"[bench-ingest] {message}", flush=True)


def autotask_bodies(count: int) -> list[tuple[str, str]]:
    """Unique Autotask ticket webhooks (documented format), signed as Autotask does."""
    tenant = load_tenant(TENANT)
    secret = tenant.webhooks.autotask.secrets[-1].get_secret_value().encode()
    # Recent: ingest refuses deliveries older than the tenant's webhooks.max_event_age_hours.
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=count // 3600 + 1)
    out = []
    for i in range(count):
        created = start + timedelta(seconds=i)
        body = json.dumps(
            {
                "Action": "Create",
                "Guid": str(uuid.UUID(int=i + 1)),
                "EntityType": "Ticket",
                "Id": 100000 + i,
                "Fields": {
                    "id": 100000 + i,
                    "ticketNumber": f"T20260302.{i:05d}",
                    "title": "Outlook keeps asking for a password",
                    "companyID": 29683 if i % 2 else 29684,
                    "source": 4,
                    "ticketType": 2,
                    "priority": 2,
                    "creatorType": 1,
                    "creatorResourceID": 29682800,
                    "createDate": created.isoformat().replace("+00:00", "Z"),
                },
                "EventTime": created.isoformat().replace("+00:00", "Z"),
                "SequenceNumber": i + 1,
                "PersonId": 29682800,
            },
            separators=(",", ":"),
        )
        digest = hmac.new(secret, body.encode(), hashlib.sha1).digest()
        out.append(("sha1=" + base64.b64encode(digest).decode(), body))
    return out


def wrk(
    url: str, requests_file: Path, duration: int, connections: int, rate: int | None = None
) -> dict[str, float]:
    env = {**os.environ, "BENCH_REQUESTS": str(requests_file), "BENCH_HEADER": "X-Hook-Signature"}
    if rate:
        env["BENCH_RATE"] = str(rate)
    out = subprocess.run(
        [
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{duration}s",
            "--latency",
            "-s",
            str(REPO / "bench" / "wrk_post.lua"),
            url,
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    requests = float(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    pct = {p: _ms(m) for p, m in re.findall(r"^\s+(50|99)%\s+(\S+)", out, re.M)}
    return {
        "rps": rps,
        "requests": requests,
        "p50_ms": pct.get("50", float("nan")),
        "p99_ms": pct.get("99", float("nan")),
        "non2xx": float(non2xx.group(1)) if non2xx else 0.0,
        "socket_errors": 1.0 if errors else 0.0,
    }


def _ms(text: str) -> float:
    value, unit = re.match(r"([\d.]+)(\w+)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=int, default=5, help="seconds per saturation round")
    parser.add_argument("--rounds", type=int, default=3, help="saturation rounds per server")
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--rate", type=int, default=500, help="requests/s of the latency run")
    parser.add_argument("--rate-duration", type=int, default=15)
    parser.add_argument("--write", type=Path, help="update this Markdown file's ingest section")
    parser.add_argument(
        "--code",
        type=Path,
        default=REPO,
        help="run ingest and the relay from this checkout (with its own .venv), to compare "
        "another commit against the same bare handler",
    )
    args = parser.parse_args()

    if shutil.which("wrk") is None:
        if os.geteuid() == 0:
            say("installing wrk (Debian package)")
            subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True)
        else:
            sys.exit("bench-ingest needs wrk: apt-get install wrk")

    work = Path(tempfile.mkdtemp(prefix="pp-bench-"))
    # Distinct events for every run: more than the fastest server sends in one.
    per_round = 8_000 * args.duration
    per_rate = 2 * args.rate * args.rate_duration
    count = args.rounds * per_round + per_rate
    say(f"signing {count} unique Autotask webhooks")
    bodies = autotask_bodies(count)
    files = []
    for start in [per_round * r for r in range(args.rounds)] + [args.rounds * per_round]:
        size = per_rate if start == args.rounds * per_round else per_round
        files.append(work / f"requests-{start}.tsv")
        files[-1].write_text("".join(f"{s}\t{b}\n" for s, b in bodies[start : start + size]))
    round_files, rate_file = files[:-1], files[-1]

    results: dict[str, Any] = {"bare_sat": [], "ingest_sat": []}
    with EmbeddedBroker(log_file=work / "broker.log") as broker:
        ensure_topics(broker.bootstrap, topics.ALL)
        env = {
            **os.environ,
            "PARTNERPULSE_KAFKA_BOOTSTRAP": broker.bootstrap,
            # The checkout's own copy: an older commit may not know a newer setting.
            "PARTNERPULSE_TENANT_FILE": str(args.code.resolve() / TENANT.relative_to(REPO)),
            "PARTNERPULSE_LOG_LEVEL": "WARNING",
        }
        for phase in ("saturation", "rate"):
            ports = {name: free_port() for name in ("bare", "ingest", "relay")}
            proc_env = {
                **env,
                "PARTNERPULSE_INGEST_PORT": str(ports["ingest"]),
                "PARTNERPULSE_RELAY_PORT": str(ports["relay"]),
                "PARTNERPULSE_DATA_DIR": str(work / f"ingest-{phase}"),
            }
            code = args.code.resolve()
            python = code / ".venv" / "bin" / "python" if code != REPO else Path(sys.executable)
            commands: dict[str, list[str | Path]] = {
                "bare": [sys.executable, "-m", "bench.bare_app", str(ports["bare"])],
                "ingest": [python, "-m", "services.cli", "ingest"],
                "relay": [python, "-m", "services.cli", "relay"],
            }
            procs = [
                start_service(
                    commands[n],
                    port=ports[n],
                    env=proc_env,
                    log_file=work / f"{n}.log",
                    cwd=REPO if n == "bare" else code,
                )
                for n in commands
            ]
            urls = {n: f"http://127.0.0.1:{ports[n]}/v1/webhooks/autotask" for n in ports}
            try:
                time.sleep(1)
                if phase == "saturation":
                    for r, requests_file in enumerate(round_files, 1):
                        for name in ("bare", "ingest"):
                            say(f"{name}: wrk, {args.connections} connections, round {r}")
                            pids = {n: procs[list(commands).index(n)].pid for n in commands}
                            before = {n: cpu_seconds(pid) for n, pid in pids.items()}
                            result = wrk(urls[name], requests_file, args.duration, args.connections)
                            for n, pid in pids.items():
                                result[f"cpu_{n}"] = cpu_seconds(pid) - before[n]
                            results[f"{name}_sat"].append(result)
                            say(f"{name} round {r}: {result}")
                else:
                    for name in ("bare", "ingest"):
                        say(f"{name}: {args.rate} requests/s for {args.rate_duration}s")
                        results[f"{name}_rate"] = result = wrk(
                            urls[name], rate_file, args.rate_duration, args.connections, args.rate
                        )
                        say(f"{name} rate: {result}")
                results[f"ingest_{phase}_metrics"] = scrape(
                    f"http://127.0.0.1:{ports['ingest']}/metrics",
                    f"http://127.0.0.1:{ports['relay']}/metrics",
                )
            finally:
                for proc in reversed(procs):
                    stop_process(proc, 20)

    report = render(results, args)
    print(report)
    if args.write:
        update_section(args.write, report)
        say(f"wrote {args.write}")
    runs = [*results["ingest_sat"], results["ingest_rate"]]
    duplicates = sum(results[f"ingest_{p}_metrics"]["duplicates"] for p in ("saturation", "rate"))
    return 1 if sum(r["non2xx"] for r in runs) or duplicates else 0


def scrape(ingest_url: str, relay_url: str) -> dict[str, float]:
    """Just after a phase: what ingest accepted, what the relay sent and has still to send."""
    wanted = {
        ingest_url: {
            "accepted": 'partnerpulse_ingest_events_accepted_total{source="autotask"}',
            "duplicates": 'partnerpulse_ingest_duplicate_events_total{source="autotask"}',
        },
        relay_url: {
            "relayed": 'partnerpulse_ingest_relayed_records_total{topic="partnerpulse.events"}',
            "pending": "partnerpulse_ingest_relay_pending_records",
        },
    }
    out = {}
    for url, names in wanted.items():
        text = local_http.get(url).text
        for key, name in names.items():
            m = re.search(rf"^{re.escape(name)} ([\d.e+]+)$", text, re.M)
            out[key] = float(m.group(1)) if m else float("nan")
    return out


def aggregate(runs: list[dict[str, float]], duration: int) -> dict[str, float]:
    """Rounds as one run: requests over time; the median round's latency percentiles."""
    return {
        "rps": sum(r["requests"] for r in runs) / (duration * len(runs)),
        "p50_ms": statistics.median(r["p50_ms"] for r in runs),
        "p99_ms": statistics.median(r["p99_ms"] for r in runs),
        "non2xx": sum(r["non2xx"] for r in runs),
    }


def render(r: dict[str, Any], args: argparse.Namespace) -> str:
    bare, ing = aggregate(r["bare_sat"], args.duration), aggregate(r["ingest_sat"], args.duration)
    per_round = [i["rps"] / b["rps"] for b, i in zip(r["bare_sat"], r["ingest_sat"], strict=True)]
    bare_rate, ing_rate = r["bare_rate"], r["ingest_rate"]
    sat, rate = r["ingest_saturation_metrics"], r["ingest_rate_metrics"]
    ratio = ing["rps"] / bare["rps"]
    cpu = {
        name: 1000
        * sum(run[f"cpu_{proc}"] for run in r[f"{server}_sat"])
        / sum(run["requests"] for run in r[f"{server}_sat"])
        for name, server, proc in (
            ("bare", "bare", "bare"),
            ("ingest", "ingest", "ingest"),
            ("relay", "ingest", "relay"),
        )
    }
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    code_note = "" if args.code.resolve() == REPO else f" (ingest and relay from {args.code})"
    rounds = f"{args.rounds} rounds of {args.duration}s, taking turns"
    return f"""{MARK_START}
## Ingest (`make bench-ingest`)

Measured {now} on this project's 2-core machine{code_note} with
`python -m bench.ingest --duration {args.duration} --rounds {args.rounds} --connections {args.connections} --rate {args.rate} --rate-duration {args.rate_duration}`
(what `make bench-ingest` runs). Signed Autotask ticket webhooks (HMAC-SHA1 over the raw
body), each a distinct event; ingest journals every one (SQLite WAL, synchronous=FULL,
group commit) and `partnerpulse relay`, its own process beside it, sends it to the
embedded broker. The baseline is a bare handler of the same ASGI stack (FastAPI on one
uvicorn process, h11) that reads the body and answers 202.

| saturation (wrk, {args.connections} connections, {rounds}) | requests/s | p50 ms | p99 ms | non-2xx |
|---|---|---|---|---|
| bare handler (ceiling) | {bare["rps"]:.0f} | {bare["p50_ms"]:.2f} | {bare["p99_ms"]:.2f} | {bare["non2xx"]:.0f} |
| ingest | {ing["rps"]:.0f} | {ing["p50_ms"]:.2f} | {ing["p99_ms"]:.2f} | {ing["non2xx"]:.0f} |
| **ratio ingest / bare** | **{ratio:.2f}** (rounds: {", ".join(f"{x:.2f}" for x in per_round)}) | | | |

CPU time per request in the saturation rounds (from /proc, all threads of the process):
bare handler {cpu["bare"]:.3f} ms, ingest {cpu["ingest"]:.3f} ms
(**{cpu["ingest"] / cpu["bare"]:.2f}x** the bare handler's), and the relay {cpu["relay"]:.3f} ms
per request beside it. The work per request; the requests/s above also depend on how much
of a core each process gets on a shared machine.

| fixed rate ({args.rate} requests/s held by wrk, {args.connections} connections, {args.rate_duration}s) | achieved/s | p50 ms | p99 ms | non-2xx |
|---|---|---|---|---|
| bare handler | {bare_rate["rps"]:.0f} | {bare_rate["p50_ms"]:.2f} | {bare_rate["p99_ms"]:.2f} | {bare_rate["non2xx"]:.0f} |
| ingest | {ing_rate["rps"]:.0f} | {ing_rate["p50_ms"]:.2f} | {ing_rate["p99_ms"]:.2f} | {ing_rate["non2xx"]:.0f} |

Target: ratio at least 0.40, p99 under 50 ms at 500 requests/s. Just after each phase
(saturation / fixed rate) ingest had accepted {sat["accepted"]:.0f} / {rate["accepted"]:.0f} events
({sat["duplicates"]:.0f} / {rate["duplicates"]:.0f} duplicates); the relay had sent {sat["relayed"]:.0f} / {rate["relayed"]:.0f} to Kafka and had
{sat["pending"]:.0f} / {rate["pending"]:.0f} still to send.
{MARK_END}"""


if __name__ == "__main__":
    sys.exit(main())
