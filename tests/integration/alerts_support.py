"""What the alerts service's integration tests share: a real SMTP server (aiosmtpd) a test
can stop and start, the service as its own process, and waiting for a condition."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
from aiosmtpd.controller import Controller

from services.runtime.auth import Scope, bearer, new_token
from services.runtime.broker import free_port

REPO = Path(__file__).resolve().parents[2]
ALICE_TOKEN, ALICE_TOKEN_ENTRY = new_token("alice", Scope.ack)  # an account lead's token


def wait_for(what: str, check: Callable[[], Any], timeout: float = 30, every: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(every)


# -- a real SMTP server ---------------------------------------------------------------------


@dataclass
class Mail:
    to: list[str]
    message: EmailMessage
    at: float

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    @property
    def text(self) -> str:
        return str(self.message.get_content())


def _parse(content: bytes) -> EmailMessage:
    message = message_from_bytes(content, policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


class SmtpSink:
    """aiosmtpd on a fixed port, which a test can stop (an outage) and start again."""

    def __init__(self) -> None:
        self.port = free_port()
        self.mails: list[Mail] = []
        self._controller: Controller | None = None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.mails.append(Mail(list(envelope.rcpt_tos), _parse(envelope.content), time.time()))
        return "250 OK"

    def start(self) -> SmtpSink:
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def to(self, address: str, subject: str = "") -> list[Mail]:
        return [m for m in self.mails if address in m.to and subject in m.subject]


class AlertsProcess:
    def __init__(self, data_dir: Path, tenant_file: Path, smtp_port: int, **env: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = data_dir / f"alerts-{self.port}.log"
        data_dir.mkdir(parents=True, exist_ok=True)
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("PARTNERPULSE_")}
        self.env.update(
            PARTNERPULSE_DATA_DIR=str(data_dir),
            PARTNERPULSE_TENANT_FILE=str(tenant_file),
            PARTNERPULSE_SETTINGS_FILE=str(data_dir / "no-settings.yaml"),
            PARTNERPULSE_ALERTS_PORT=str(self.port),
            PARTNERPULSE_ALERTS_SMTP_HOST="127.0.0.1",
            PARTNERPULSE_ALERTS_SMTP_PORT=str(smtp_port),
            PARTNERPULSE_ALERTS_SMTP_FROM="partnerpulse@northwind-msp.example",
            PARTNERPULSE_ALERTS_SETTLE_SECONDS="0.5",
            PARTNERPULSE_ALERTS_RETRY_INITIAL_SECONDS="0.5",
            PARTNERPULSE_ALERTS_RETRY_MAX_SECONDS="2",
            PARTNERPULSE_ALERTS_TICK_SECONDS="0.5",
            PARTNERPULSE_ALERTS_SMTP_TIMEOUT="5",
            PARTNERPULSE_API_TOKENS=ALICE_TOKEN_ENTRY.line(),
        )
        self.env.update(env)
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, **env: str) -> AlertsProcess:
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "services.cli", "alerts"],
                env={**self.env, **env},
                cwd=REPO,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        wait_for(f"the alerts service on {self.url}\n{self.output()}", self._healthy, 120)
        return self

    def _healthy(self) -> bool:
        assert self.proc is not None and self.proc.poll() is None, self.output()
        try:
            return httpx.get(f"{self.url}/healthz", trust_env=False).status_code == 200
        except httpx.HTTPError:
            return False

    def wait_ready(self, timeout: float = 40) -> None:
        def ready() -> bool:
            try:
                return httpx.get(f"{self.url}/readyz", trust_env=False).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(f"the consumer to join its group\n{self.output()}", ready, timeout)

    def stop(self, sig: signal.Signals = signal.SIGTERM) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(30)
        self.proc = None

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def metric(self, name: str, **labels: str) -> float:
        text = httpx.get(f"{self.url}/metrics", trust_env=False, timeout=10).text
        want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
        for line in text.splitlines():
            m = re.match(rf"^{re.escape(name)}(?:\{{(.*)\}})? (\S+)$", line)
            if m and ",".join(sorted((m.group(1) or "").split(","))).strip(",") == want:
                return float(m.group(2))
        raise AssertionError(f"{name}{{{want}}} not exported")

    def alerts(self, **params: str) -> list[dict[str, Any]]:
        response = httpx.get(
            f"{self.url}/v1/alerts", params=params, headers=bearer(ALICE_TOKEN), trust_env=False
        )
        assert response.status_code == 200, response.text
        return list(response.json())
