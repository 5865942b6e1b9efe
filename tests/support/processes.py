"""partnerpulse services as their own processes, the way a user starts them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from .waiting import answers, wait_for

REPO = Path(__file__).resolve().parents[2]
FIXTURE_TENANT = REPO / "tests" / "fixtures" / "tenant.yaml"


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without any PARTNERPULSE_ setting, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARTNERPULSE_")}
    env.update(extra)
    return env


def cli(*args: str) -> list[str]:
    """The command line of `partnerpulse <args>` with this interpreter."""
    return [sys.executable, "-m", "services.cli", *args]


def stop_process(
    proc: subprocess.Popen[bytes] | subprocess.Popen[str],
    sig: signal.Signals = signal.SIGTERM,
    timeout: float = 30.0,
) -> int:
    """Send `sig`, wait up to `timeout`, then SIGKILL; the exit code."""
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return int(proc.returncode)


class ServiceProcess:
    """`partnerpulse <command>` with `env`, its output in `log`; started by `start()`."""

    def __init__(self, command: str, env: dict[str, str], log: Path, url: str) -> None:
        self.command = command
        self.env = env
        self.log = log
        self.url = url
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def proc(self) -> subprocess.Popen[bytes]:
        """The process of the last `start()`."""
        assert self._proc is not None, f"{self.command} was never started"
        return self._proc

    def start(self, **env: str) -> ServiceProcess:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as out:
            self._proc = subprocess.Popen(
                cli(self.command),
                env={**self.env, **env},
                cwd=REPO,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        return self

    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def wait_answering(self, path: str, timeout: float = 40.0) -> ServiceProcess:
        """Until GET `path` answers 200; fails at once, with the log, if the process exits."""

        def up() -> bool:
            assert self.alive(), f"{self.command} exited:\n{self.output()}"
            return answers(f"{self.url}{path}")

        try:
            wait_for(f"{self.command} at {self.url}{path}", up, timeout)
        except AssertionError as exc:
            raise AssertionError(f"{exc}; its log:\n{self.output()[-3000:]}") from None
        return self

    def stop(self, sig: signal.Signals = signal.SIGTERM, timeout: float = 30.0) -> int | None:
        """Stop it (SIGKILL after `timeout`); its exit code, None if never started."""
        return None if self._proc is None else stop_process(self._proc, sig, timeout)

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""
