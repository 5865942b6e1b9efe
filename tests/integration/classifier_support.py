"""Running classifier workers in tests: processes, their API, the exact counts to expect."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from services.classifier.domain.engine import Engine
from services.classifier.domain.state import ClientState
from services.events.models import CanonicalEvent
from services.events.tenant import Tenant
from services.platform import local_http
from services.runtime.auth import bearer, new_token
from services.runtime.broker import free_port

from ..support.metrics import scrape
from ..support.processes import FIXTURE_TENANT, REPO, clean_env, stop_process

TENANT_FILE = FIXTURE_TENANT
TOKEN, TOKEN_ENTRY = new_token("tests")  # the query API's reader
AUTH = bearer(TOKEN)


def worker_env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {
        "PARTNERPULSE_DATA_DIR": str(data_dir),
        "PARTNERPULSE_TENANT_FILE": str(TENANT_FILE),
        "PARTNERPULSE_API_TOKENS": TOKEN_ENTRY.line(),
    }
    return clean_env(**(env | extra))  # the caller's settings win


def series(url: str, name: str, **labels: str) -> list[str]:
    """The exported lines of metric `name` whose labels include `labels`."""
    text = local_http.get(f"{url}/metrics", timeout=10).text
    wanted = [f'{k}="{v}"' for k, v in labels.items()]
    return [
        line
        for line in text.splitlines()
        if line.startswith(name + "{") and all(w in line for w in wanted)
    ]


def get_json(url: str) -> Any:
    response = local_http.get(url, headers=AUTH, timeout=10)
    assert response.status_code == 200, f"{url}: {response.status_code} {response.text[:500]}"
    return response.json()


def metric(url: str, name: str, **labels: str) -> float:
    return scrape(url, name, **labels)


def wait_processed(url: str, ids: list[str], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    missing: list[str] = ids
    while time.monotonic() < deadline:
        try:
            answer = local_http.post(
                f"{url}/v1/processed",
                json={"event_ids": ids},
                headers=AUTH,
                trust_env=False,
                timeout=30,
            ).json()
            missing = answer["missing"]
            if not missing:
                return
        except httpx.HTTPError:
            pass  # a restarting worker
        time.sleep(0.5)
    status = local_http.get(f"{url}/v1/status", headers=AUTH, timeout=10).text
    raise AssertionError(
        f"{len(missing)} of {len(ids)} events never processed ({missing[:5]}...); {status}"
    )


def wait_judged(workers: list[Worker], timeout: float = 60) -> None:
    """Until each worker has had a tick that judged every client it owns after its last
    batch: a client whose partition changed hands and got no event since is judged by
    the tick only (a drain defers the tick's pass until it ends)."""
    deadline = time.monotonic() + timeout
    for w in workers:
        status = w.status(local=True)
        while not 0 < status.get("handled_at", 0.0) <= status.get("ticked_at", 0.0):
            assert time.monotonic() < deadline, f"no tick after the last batch: {status}"
            time.sleep(0.2)
            status = w.status(local=True)


class Worker:
    def __init__(
        self, bootstrap: str, data_dir: Path, port: int | None = None, **extra: str
    ) -> None:
        self.port = port or free_port()  # the same port: the same data dir (RocksDB)
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = data_dir / f"classifier-{self.port}.log"
        data_dir.mkdir(parents=True, exist_ok=True)
        self.env = worker_env(
            data_dir,
            PARTNERPULSE_KAFKA_BOOTSTRAP=bootstrap,
            PARTNERPULSE_CLASSIFIER_PORT=str(self.port),
            PARTNERPULSE_CLASSIFIER_BATCH_SIZE="25",  # many batches: a stop lands mid-stream
            **extra,
        )
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Worker:
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "services.cli", "classifier"],
                env=self.env,
                cwd=REPO,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        return self

    def status(self, *, local: bool = False) -> dict[str, Any]:
        """The group's status, or this worker's own (`local`)."""
        headers = {**AUTH, "X-Partnerpulse-Local": "1"} if local else AUTH
        try:
            response = local_http.get(
                f"{self.url}/v1/status", headers=headers, trust_env=False, timeout=10
            )
            return dict(response.json()) if response.status_code == 200 else {}
        except httpx.HTTPError:
            return {}

    def stop(self, sig: signal.Signals) -> None:
        assert self.proc is not None
        stop_process(self.proc, sig, 60)
        self.proc = None


def expected_state(tenant: Tenant, events: list[CanonicalEvent]) -> dict[str, Any]:
    engine = Engine(tenant)
    states: dict[str, ClientState] = {}
    watermark = 0.0
    for e in events:
        state = states.setdefault(e.client_id, ClientState(e.client_id))
        engine.apply(state, e, watermark)
        watermark = max(watermark, e.occurred_at.timestamp())
    return {
        c: engine.judge(s, tenant.tenant, watermark, 0).view.windows["90d"].model_dump(mode="json")
        for c, s in states.items()
    }
