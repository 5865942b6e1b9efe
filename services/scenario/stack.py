"""A pipeline of one's own: `partnerpulse up` in a subprocess, for evaluate and demo.

It runs with the scenario's tenant file, its own data directory and its own
ports (free ones unless asked otherwise), so it never meets a `make run`
started elsewhere. Its output goes to `up.log` in the data directory; the
services' logs are in `logs/` there. `stop` sends SIGTERM and waits, so `up`
stops its services and its broker in order.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from services.platform.process import Process, answers, free_port, spawn, stop_process
from services.runtime.auth import read_local_token
from services.scenario import collect

# Settings `up` passes on to its services; ours replace whatever the caller's shell holds.
_OURS = (
    "PARTNERPULSE_KAFKA_BOOTSTRAP",
    "PARTNERPULSE_TENANT_FILE",
    "PARTNERPULSE_DATA_DIR",
    "PARTNERPULSE_SETTINGS_FILE",
    "PARTNERPULSE_BROKER_PORT",
    "PARTNERPULSE_INGEST_HOST",
    "PARTNERPULSE_INGEST_PORT",
    "PARTNERPULSE_RELAY_HOST",
    "PARTNERPULSE_RELAY_PORT",
    "PARTNERPULSE_CLASSIFIER_HOST",
    "PARTNERPULSE_CLASSIFIER_PORT",
    "PARTNERPULSE_ALERTS_HOST",
    "PARTNERPULSE_ALERTS_PORT",
    "PARTNERPULSE_POLL_HOST",
    "PARTNERPULSE_POLL_PORT",
    "PARTNERPULSE_POLL_RECEIPTS_FILE",
    "PARTNERPULSE_API_TOKENS",  # `up` makes its own local token, which `collect` sends
)


class StackError(RuntimeError):
    """The pipeline did not start; the message says what to look at."""


@dataclass(frozen=True)
class Ports:
    ingest: int
    relay: int
    classifier: int
    broker: int
    alerts: int
    poll: int = field(default_factory=free_port)  # the poller's /metrics (with polling only)

    @classmethod
    def free(cls) -> Ports:
        return cls(free_port(), free_port(), free_port(), free_port(), free_port())

    @classmethod
    def defaults_if_free(cls) -> Ports:
        """The ports `make run` uses (8480, 8482, 8481, 19092, 8483), each unless taken."""
        return cls(*(_free_or(p) for p in (8480, 8482, 8481, 19092, 8483)))


def _free_or(port: int) -> int:
    import socket

    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return free_port()
    return port


@dataclass(frozen=True)
class Endpoints:
    ingest_url: str
    classifier_url: str
    bootstrap: str
    alerts_url: str = ""  # unknown when evaluating a pipeline someone else runs
    poll_url: str = ""  # the poller's /metrics root (a pipeline of one's own)


class Stack:
    def __init__(
        self,
        tenant_file: Path,
        data_dir: Path,
        ports: Ports | None = None,
        *,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.tenant_file = tenant_file.resolve()
        self.data_dir = data_dir.resolve()
        self.ports = ports or Ports.free()
        self.extra_env = dict(env or {})  # settings of this run only (e.g. the key file)
        self.proc: Process | None = None

    @property
    def log_file(self) -> Path:
        return self.data_dir / "up.log"

    def start(
        self, timeout: float = 180.0, *, give_up: Callable[[], str | None] | None = None
    ) -> Endpoints:
        """Start `up` and wait until ingest and the classifier answer. `give_up`, asked
        while waiting, says why not to wait any longer (a service crash-looping)."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        (self.data_dir / "services.json").unlink(missing_ok=True)  # exits of an earlier run
        env = {k: v for k, v in os.environ.items() if k not in _OURS}
        env |= {
            "PARTNERPULSE_TENANT_FILE": str(self.tenant_file),
            "PARTNERPULSE_DATA_DIR": str(self.data_dir),
            "PARTNERPULSE_SETTINGS_FILE": str(self.data_dir / "no-settings-file.yaml"),
            "PARTNERPULSE_BROKER_PORT": str(self.ports.broker),
            "PARTNERPULSE_INGEST_PORT": str(self.ports.ingest),
            "PARTNERPULSE_RELAY_PORT": str(self.ports.relay),
            "PARTNERPULSE_CLASSIFIER_PORT": str(self.ports.classifier),
            "PARTNERPULSE_ALERTS_PORT": str(self.ports.alerts),
            "PARTNERPULSE_POLL_PORT": str(self.ports.poll),
        }
        env |= self.extra_env
        self.proc = spawn(
            [sys.executable, "-m", "services.cli", "up"],
            cwd=self.data_dir,  # the classifier keeps its Faust data dir in the cwd
            env=env,
            log_file=self.log_file,
            new_session=True,  # a Ctrl+C reaches us; we stop it in order
        )
        endpoints = Endpoints(
            ingest_url=f"http://127.0.0.1:{self.ports.ingest}",
            classifier_url=f"http://127.0.0.1:{self.ports.classifier}",
            bootstrap="",
        )
        deadline = time.monotonic() + timeout
        runtime = self.data_dir / "runtime.json"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise StackError(
                    f"`partnerpulse up` exited with {self.proc.returncode} while starting; "
                    f"its output ({self.log_file}):\n{self._tail()}"
                )
            if give_up is not None and (why := give_up()) is not None:
                self.stop()
                raise StackError(f"the pipeline did not come up: {why}")
            if runtime.is_file():
                try:
                    bootstrap = json.loads(runtime.read_text())["kafka_bootstrap"]
                except (ValueError, KeyError):
                    bootstrap = ""
                if bootstrap and self._healthy(endpoints):
                    token = read_local_token(self.data_dir) or ""  # `up` made it (0600)
                    collect.authorize(endpoints.classifier_url, token)
                    return Endpoints(
                        endpoints.ingest_url,
                        endpoints.classifier_url,
                        bootstrap,
                        f"http://127.0.0.1:{self.ports.alerts}",
                        f"http://127.0.0.1:{self.ports.poll}",
                    )
            time.sleep(0.3)
        self.stop()
        raise StackError(
            f"the pipeline did not come up within {timeout:.0f}s; its output "
            f"({self.log_file}):\n{self._tail()}\nservice logs: {self.data_dir / 'logs'}"
        )

    def _healthy(self, endpoints: Endpoints) -> bool:
        return all(
            answers(f"{url}/healthz", timeout=2.0)
            for url in (endpoints.ingest_url, endpoints.classifier_url)
        )

    def _tail(self, lines: int = 30) -> str:
        try:
            text = self.log_file.read_text(errors="replace")
        except FileNotFoundError:
            return "(no output)"
        return "\n".join(text.splitlines()[-lines:])

    def exit_code(self) -> int | None:
        """`partnerpulse up`'s exit code once it has exited on its own; None while it runs."""
        return None if self.proc is None else self.proc.poll()

    def stop(self, timeout: float = 60.0) -> None:
        proc, self.proc = self.proc, None
        stop_process(proc, timeout)

    def __enter__(self) -> Stack:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
