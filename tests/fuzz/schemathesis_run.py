"""`make fuzz`: schemathesis over every service's OpenAPI spec, against `partnerpulse up`.

Starts the whole stack (embedded broker, ingest, relay, classifier, alerts) on free
ports with a temporary data dir and the test tenant (tests/fixtures/tenant.yaml), an
API token from `partnerpulse token`, and a Grafana secret so /v1/grafana checks
signatures rather than refusing everything. Then runs schemathesis, check
`not_a_server_error`, over:

- ingest's spec (every source's body and auth headers), twice: without credentials,
  and with the static-secret sources' secrets (HaloPSA, NinjaOne, Datto RMM, Tactical
  RMM), so generated bodies reach those adapters;
- the classifier's spec (/openapi.json, behind the token) with the token;
- the alerts service's spec with the token.

Counts every request and its status from schemathesis's HAR reports, asserts no 5xx
and that every service still answers /healthz, and with `--write PATH` records the
figures in PATH's "Fuzzing" section (docs/security.md).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
import yaml

from services.platform import local_http
from services.runtime.broker import free_port

REPO = Path(__file__).resolve().parents[2]
TENANT = REPO / "tests" / "fixtures" / "tenant.yaml"
BIN = Path(sys.executable).parent
START = "<!-- fuzz:start -->"
END = "<!-- fuzz:end -->"


@dataclass
class Run:
    api: str
    label: str
    requests: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    exit_code: int = 0

    @property
    def server_errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if status >= 500)


def make_token() -> tuple[str, str]:
    """`partnerpulse token fuzz --scope ack`: the token and its entry."""
    out = subprocess.run(
        [str(BIN / "partnerpulse"), "token", "fuzz", "--scope", "ack"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return out[0], out[1]


class Stack:
    """`partnerpulse up` in its own process group, on free ports."""

    def __init__(self, data_dir: Path, token_entry: str) -> None:
        self.ports = {
            "ingest": free_port(),
            "classifier": free_port(),
            "alerts": free_port(),
            "relay": free_port(),
        }
        self.broker_port = free_port()
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("PARTNERPULSE_")}
        self.env.update(
            PARTNERPULSE_DATA_DIR=str(data_dir),
            PARTNERPULSE_TENANT_FILE=str(TENANT),
            PARTNERPULSE_SETTINGS_FILE=str(data_dir / "no-settings.yaml"),
            PARTNERPULSE_API_TOKENS=json.dumps([token_entry]),
            PARTNERPULSE_ALERTS_GRAFANA_SECRETS=json.dumps(["fuzz-grafana-secret"]),
            PARTNERPULSE_INGEST_PORT=str(self.ports["ingest"]),
            PARTNERPULSE_CLASSIFIER_PORT=str(self.ports["classifier"]),
            PARTNERPULSE_ALERTS_PORT=str(self.ports["alerts"]),
            PARTNERPULSE_RELAY_PORT=str(self.ports["relay"]),
        )
        self.log = data_dir / "up.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    def start(self, timeout: float = 120) -> None:
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                [str(BIN / "partnerpulse"), "up", "--broker-port", str(self.broker_port)],
                env=self.env,
                cwd=REPO,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while "running; Ctrl+C stops everything" not in self.log.read_text(errors="replace"):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("partnerpulse up did not start:\n" + self.output())
            time.sleep(0.2)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def alive(self) -> dict[str, bool]:
        up: dict[str, bool] = {"up": self.proc is not None and self.proc.poll() is None}
        for service in self.ports:
            try:
                r = local_http.get(f"{self.url(service)}/healthz", timeout=5)
                up[service] = r.status_code == 200
            except httpx.HTTPError:
                up[service] = False
        return up

    def stop(self) -> None:
        if self.proc is None:
            return
        os.killpg(self.proc.pid, signal.SIGINT)
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


def schemathesis(
    run: Run, spec: str, base_url: str, headers: list[str], report: Path, examples: int
) -> Run:
    command = [
        str(BIN / "schemathesis"),
        "run",
        spec,
        "--url",
        base_url,
        "--checks",
        "not_a_server_error",
        "--phases",
        "examples,coverage,fuzzing",
        "--max-examples",
        str(examples),
        "--seed",
        "11",
        # One worker: hypothesis's source introspection in threads trips CPython 3.11's
        # "AST constructor recursion depth mismatch" (an error of the tool, not the API).
        "--workers",
        "1",
        "--request-timeout",
        "30",
        "--suppress-health-check",
        "all",
        "--generation-database",
        "none",
        "--continue-on-failure",
        "--report",
        "har",
        "--report-har-path",
        str(report),
        "--no-color",
    ]
    for header in headers:
        command += ["--header", header]
    print(f"\n== schemathesis: {run.api} ({run.label})", flush=True)
    run.exit_code = subprocess.run(command, cwd=REPO, check=False).returncode
    entries = json.loads(report.read_text())["log"]["entries"]
    run.requests = len(entries)
    run.statuses = Counter(int(e["response"]["status"]) for e in entries)
    return run


def fetch_spec(url: str, token: str | None, into: Path) -> str:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    r = local_http.get(url, headers=headers, timeout=10)
    r.raise_for_status()
    into.write_text(r.text)
    return str(into)


def static_secret_headers() -> list[str]:
    hooks = yaml.safe_load(TENANT.read_text())["webhooks"]
    headers = [f"{hooks[s]['header']}: {hooks[s]['secrets'][0]}" for s in ("ninjaone", "dattormm")]
    headers.append(f"{hooks['tacticalrmm']['header']}: {hooks['tacticalrmm']['secrets'][0]}")
    halo = hooks["halopsa"]
    basic = base64.b64encode(f"{halo['username']}:{halo['secrets'][0]}".encode()).decode()
    headers.append(f"Authorization: Basic {basic}")
    return headers


def report_markdown(
    runs: list[Run], alive: dict[str, bool], examples: int, api_examples: int
) -> str:
    total = sum(r.requests for r in runs)
    errors = sum(r.server_errors for r in runs)
    lines = [
        START,
        f"Last run: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, `make fuzz` "
        f"(schemathesis, `--checks not_a_server_error`, phases examples, coverage and "
        f"fuzzing, `--max-examples` {examples} for ingest and {api_examples} for the "
        "classifier and alerts APIs, seed 11).",
        "",
        "| API | spec | credentials | requests | answers | 5xx |",
        "|---|---|---|---:|---|---:|",
    ]
    for r in runs:
        answers = ", ".join(f"{s}: {n}" for s, n in sorted(r.statuses.items()))
        lines.append(
            f"| {r.api} | {SPECS[r.api]} | {r.label} | {r.requests:,} | {answers} | "
            f"{r.server_errors} |"
        )
    lines += [
        f"| **all** | | | **{total:,}** | | **{errors}** |",
        "",
        "Every service still up at the end: "
        + ", ".join(f"{name} {'yes' if ok else 'NO'}" for name, ok in alive.items())
        + ".",
        END,
    ]
    return "\n".join(lines)


SPECS = {
    "ingest": "`/openapi.json` (FastAPI, bodies per source)",
    "classifier": "`/openapi.json` (services/classifier/openapi.py)",
    "alerts": "`/openapi.json` (FastAPI)",
}


def write_section(path: Path, section: str) -> None:
    text = path.read_text()
    if START in text:
        text = re.sub(re.escape(START) + ".*?" + re.escape(END), section, text, flags=re.S)
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    path.write_text(text)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=60, help="ingest: per operation and phase")
    parser.add_argument(
        "--api-examples",
        type=int,
        default=300,
        help="the classifier and alerts APIs (fewer operations, simpler inputs)",
    )
    parser.add_argument("--write", type=Path, help="record the figures in this markdown file")
    args = parser.parse_args()

    token, entry = make_token()
    with tempfile.TemporaryDirectory(prefix="partnerpulse-fuzz-") as tmp:
        work = Path(tmp)
        stack = Stack(work / "var", entry)
        (work / "var").mkdir()
        stack.start()
        runs: list[Run] = []
        try:
            ingest = stack.url("ingest")
            spec = fetch_spec(f"{ingest}/openapi.json", None, work / "ingest.json")
            runs.append(
                schemathesis(
                    Run("ingest", "none"), spec, ingest, [], work / "i0.har", args.examples
                )
            )
            runs.append(
                schemathesis(
                    Run("ingest", "static secrets"),
                    spec,
                    ingest,
                    static_secret_headers(),
                    work / "i1.har",
                    args.examples,
                )
            )
            bearer = [f"Authorization: Bearer {token}"]
            for api in ("classifier", "alerts"):
                url = stack.url(api)
                spec = fetch_spec(f"{url}/openapi.json", token, work / f"{api}.json")
                runs.append(
                    schemathesis(
                        Run(api, "API token (ack)"),
                        spec,
                        url,
                        bearer,
                        work / f"{api}.har",
                        args.api_examples,
                    )
                )
            alive = stack.alive()
        finally:
            stack.stop()
        section = report_markdown(runs, alive, args.examples, args.api_examples)
        print("\n" + section)
        total = sum(r.requests for r in runs)
        failed = [r for r in runs if r.server_errors or r.exit_code]
        if failed or not all(alive.values()):
            print("\n".join(f"FAILED: {r.api} ({r.label})" for r in failed))
            print(stack.output()[-5000:])
            return 1
        if total < 2000:
            print(f"only {total} requests: raise --examples")
            return 1
        if args.write:
            write_section(args.write, section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
