"""`partnerpulse up`: the embedded broker (unless one is configured) and every service.

Each service runs as its own process (`partnerpulse <service>`), so one crash
does not take the others down; a service that exits is restarted with
back-off. If the embedded broker dies it comes back empty, so the services are
restarted and the relay replays ingest's journal into it (only at those starts:
a relay restarted alone finds the broker as it left it). Ctrl+C or SIGTERM stops
the services first, then the broker.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

from services.events import topics
from services.platform.process import Process, spawn, stop_processes, wait_healthy
from services.runtime.broker import EmbeddedBroker
from services.runtime.kafka import ensure_topics
from services.runtime.settings import CommonSettings

log = logging.getLogger("partnerpulse.up")


@dataclass
class ServiceSpec:
    name: str
    health_url: str | None = None
    describe: str = ""
    command: str | None = None  # the `partnerpulse` command it runs; default: its name
    env: dict[str, str] = field(default_factory=dict)  # on top of the supervisor's


@dataclass
class _Child:
    spec: ServiceSpec
    proc: Process | None = None
    restarts: int = 0
    next_start: float = 0.0
    started_at: float = field(default_factory=time.monotonic)
    exits: list[dict[str, float | int]] = field(default_factory=list)  # the latest, wall time


EXITS_KEPT = 20


def status_file(settings: CommonSettings) -> Path:
    """Each service's exits, for whoever watches the stack (`evaluate`, `demo`)."""
    return settings.data_dir / "services.json"


def read_status(path: Path) -> dict[str, list[dict[str, float | int]]]:
    """service -> its latest exits, `{"at": unix time, "code": exit code}` oldest first."""
    try:
        data = json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return {}
    services = data.get("services") if isinstance(data, dict) else None
    if not isinstance(services, dict):
        return {}
    return {
        str(name): [e for e in entry.get("exits", []) if isinstance(e, dict)]
        for name, entry in services.items()
        if isinstance(entry, dict)
    }


def runtime_file(settings: CommonSettings) -> Path:
    return settings.data_dir / "runtime.json"


def read_runtime(settings: CommonSettings) -> dict[str, str]:
    """What a running `partnerpulse up` published: bootstrap and service URLs."""
    try:
        data = json.loads(runtime_file(settings).read_text())
    except (FileNotFoundError, ValueError):
        return {}
    return {k: str(v) for k, v in data.items()}


class Supervisor:
    def __init__(
        self,
        settings: CommonSettings,
        services: list[ServiceSpec],
        *,
        broker_port: int = 19092,
        echo: bool = True,
        who: str = "partnerpulse up",
    ) -> None:
        self.settings = settings
        self.services = services
        self.broker_port = broker_port
        self.echo = echo
        self.who = who  # what it says it is; only `up` publishes the stack's runtime file
        self.broker: EmbeddedBroker | None = None
        self.incarnation = ""  # of the embedded broker started last
        self.children = [_Child(spec) for spec in services]
        self._stopping = False

    def _say(self, message: str) -> None:
        if self.echo:
            print(f"{self.who}: {message}", flush=True)

    def _request_stop(self, signum: int, frame: FrameType | None) -> None:
        if not self._stopping:
            self._say(f"received {signal.Signals(signum).name}, stopping")
        self._stopping = True

    # -- broker ---------------------------------------------------------------

    def _start_broker(self) -> str:
        if self.settings.kafka_bootstrap:
            bootstrap = self.settings.kafka_bootstrap
            self._say(f"using the configured Kafka broker {bootstrap}")
        else:
            log_dir = self.settings.data_dir / "logs"
            log_dir.mkdir(parents=True, exist_ok=True)
            self.broker = EmbeddedBroker(self.broker_port, log_file=log_dir / "broker.log").start()
            bootstrap = self.broker.bootstrap
            # A new memory-only broker: offsets of the last one mean nothing in it.
            self.incarnation = uuid.uuid4().hex
            self._say(f"embedded Kafka broker (tansu, memory only) on {bootstrap}")
        ensure_topics(bootstrap, topics.ALL, partitions=self.settings.topic_partitions)
        return bootstrap

    # -- children -------------------------------------------------------------

    def _env(self, bootstrap: str, replay: bool) -> dict[str, str]:
        env = dict(os.environ)
        env["PARTNERPULSE_KAFKA_BOOTSTRAP"] = bootstrap
        env["PARTNERPULSE_DATA_DIR"] = str(self.settings.data_dir)
        env["PARTNERPULSE_TENANT_FILE"] = str(self.settings.tenant_file)
        env["PARTNERPULSE_INGEST_REPLAY_JOURNAL"] = "1" if replay else "0"  # read by the relay
        if self.incarnation:
            env["PARTNERPULSE_BROKER_INCARNATION"] = self.incarnation
        return env

    def _spawn(self, child: _Child, bootstrap: str, replay: bool) -> None:
        env = self._env(bootstrap, replay and self.broker is not None)
        env.update(child.spec.env)
        child.proc = spawn(
            [sys.executable, "-m", "services.cli", child.spec.command or child.spec.name],
            env=env,
            log_file=self.settings.data_dir / "logs" / f"{child.spec.name}.log",
            new_session=True,  # Ctrl+C reaches us; we stop children in order
        )
        child.started_at = time.monotonic()

    def _wait_healthy(self, child: _Child, timeout: float = 30.0) -> bool:
        if child.spec.health_url is None:
            return True
        return wait_healthy(
            child.spec.health_url,
            timeout=timeout,
            proc=child.proc,
            cancelled=lambda: self._stopping,
        )

    def _stop_children(self, timeout: float = 20.0) -> None:
        running = [c for c in reversed(self.children) if c.proc is not None]
        names = {id(c.proc): c.spec.name for c in running}
        stop_processes(
            [c.proc for c in running if c.proc is not None],
            timeout,
            name=lambda proc: names[id(proc)],
        )
        for child in running:
            child.proc = None

    def _start_all(self, bootstrap: str, replay: bool) -> None:
        for child in self.children:
            self._spawn(child, bootstrap, replay)
            healthy = self._wait_healthy(child)
            where = f" - {child.spec.describe}" if child.spec.describe else ""
            self._say(f"{child.spec.name} {'up' if healthy else 'NOT healthy'}{where}")

    def _publish(self, bootstrap: str) -> None:
        if self.who != "partnerpulse up":
            return
        info = {"kafka_bootstrap": bootstrap, "pid": str(os.getpid())}
        for spec in self.services:
            if spec.describe:
                info[spec.name] = spec.describe
        path = runtime_file(self.settings)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(info, indent=2))

    def _write_status(self) -> None:
        services = {c.spec.name: {"exits": c.exits} for c in self.children}
        path = status_file(self.settings)
        temporary = path.with_suffix(".tmp")
        try:
            temporary.write_text(json.dumps({"services": services}))
            temporary.replace(path)  # a reader never sees half a file
        except OSError as exc:
            log.warning("could not write %s: %s", path, exc)

    # -- main loop ------------------------------------------------------------

    def run(self) -> int:
        signal.signal(signal.SIGINT, self._request_stop)
        signal.signal(signal.SIGTERM, self._request_stop)
        bootstrap = self._start_broker()
        status_file(self.settings).unlink(missing_ok=True)
        try:
            self._start_all(bootstrap, replay=True)
            self._publish(bootstrap)
            self._say("running; Ctrl+C stops everything")
            while not self._stopping:
                time.sleep(0.5)
                if self._stopping:
                    break
                if self.broker is not None and not self.broker.alive():
                    self._say(
                        "embedded broker died; restarting it and the services (journal replay)"
                    )
                    self._stop_children()
                    self.broker.stop()
                    bootstrap = self._start_broker()
                    self._start_all(bootstrap, replay=True)
                    self._publish(bootstrap)
                    continue
                self._restart_exited(bootstrap)
        finally:
            self._stop_children()
            if self.broker is not None:
                self.broker.stop()
            if self.who == "partnerpulse up":
                runtime_file(self.settings).unlink(missing_ok=True)
            self._say("stopped")
        return 0

    def _restart_exited(self, bootstrap: str) -> None:
        now = time.monotonic()
        for child in self.children:
            if child.proc is None or child.proc.poll() is None:
                continue
            code = child.proc.returncode
            if child.next_start == 0.0:
                # A service that ran a while gets a quick restart; a crash loop backs off.
                ran = now - child.started_at
                child.restarts = 0 if ran > 60 else child.restarts + 1
                delay = min(30.0, 0.5 * 2**child.restarts)
                child.next_start = now + delay
                self._say(f"{child.spec.name} exited with {code}; restarting in {delay:.1f}s")
                child.exits = [*child.exits, {"at": time.time(), "code": code}][-EXITS_KEPT:]
                self._write_status()
            elif now >= child.next_start:
                child.next_start = 0.0
                self._spawn(child, bootstrap, replay=False)
