"""A real Prometheus (the Debian package's binary) for a test, on a free port.

Its configuration is deploy/prometheus/prometheus.yml with the targets pointed at
the test's ports and a one-second scrape and evaluation interval; the rule files
are the deployed ones.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx
import yaml

from services.platform import local_http
from services.runtime.broker import free_port

from ..support.processes import stop_process
from . import catalog

INTERVAL = "1s"


def scrape_config(job_ports: Mapping[str, int]) -> dict[str, Any]:
    """deploy/prometheus/prometheus.yml aimed at 127.0.0.1:<port> per job."""
    config: dict[str, Any] = yaml.safe_load((catalog.PROMETHEUS / "prometheus.yml").read_text())
    config["global"] |= {"scrape_interval": INTERVAL, "evaluation_interval": INTERVAL}
    config["rule_files"] = [str(catalog.PROMETHEUS / f) for f in config["rule_files"]]
    jobs = {job["job_name"] for job in config["scrape_configs"]}
    if jobs != set(job_ports):
        raise AssertionError(
            f"prometheus.yml scrapes {sorted(jobs)}; ports for {sorted(job_ports)}"
        )
    for job in config["scrape_configs"]:
        job["static_configs"] = [{"targets": [f"127.0.0.1:{job_ports[job['job_name']]}"]}]
    return config


class PrometheusServer:
    def __init__(self, work_dir: Path, job_ports: Mapping[str, int]) -> None:
        self.work_dir = work_dir
        self.config_file = work_dir / "prometheus.yml"
        self.config_file.parent.mkdir(parents=True, exist_ok=True)
        self.config_file.write_text(yaml.safe_dump(scrape_config(job_ports)))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_file = work_dir / "prometheus.log"
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30.0) -> PrometheusServer:
        binary = shutil.which("prometheus")
        if binary is None:
            raise RuntimeError("prometheus not found: apt-get install prometheus (.ci/run does)")
        with self.log_file.open("wb") as log:
            self._proc = subprocess.Popen(
                [
                    binary,
                    f"--config.file={self.config_file}",
                    f"--storage.tsdb.path={self.work_dir / 'data'}",
                    f"--web.listen-address=127.0.0.1:{self.port}",
                    "--log.level=warn",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"prometheus exited: {self.log_file.read_text()[-2000:]}")
            try:
                if local_http.get(f"{self.url}/-/ready", timeout=1.0).is_success:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"prometheus not ready in {timeout}s: {self.log_file.read_text()}")

    def query(self, expr: str) -> list[dict[str, Any]]:
        """An instant query's vector (a scalar result as one sample without labels)."""
        answer = local_http.post(
            f"{self.url}/api/v1/query", data={"query": expr}, timeout=10.0, trust_env=False
        )
        body = answer.json()
        if body.get("status") != "success":
            raise AssertionError(f"{expr}: {body.get('error', body)}")
        data = body["data"]
        if data["resultType"] == "scalar":
            return [{"metric": {}, "value": data["result"]}]
        result: list[dict[str, Any]] = data["result"]
        return result

    def wait_for_targets(self, jobs: Iterable[str], timeout: float = 60.0) -> None:
        """Until every one of `jobs` has been scraped successfully (up == 1)."""
        deadline = time.monotonic() + timeout
        while True:
            up = {s["metric"]["job"]: s["value"][1] for s in self.query("up")}
            down = [job for job in jobs if up.get(job) != "1"]
            if not down:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"prometheus could not scrape {down} in {timeout}s: {up}")
            time.sleep(0.2)

    def rules(self) -> list[dict[str, Any]]:
        answer = local_http.get(f"{self.url}/api/v1/rules", timeout=10.0).json()
        groups: list[dict[str, Any]] = answer["data"]["groups"]
        return groups

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        stop_process(proc, timeout=30)

    def __enter__(self) -> PrometheusServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
