"""What the alerts service's integration tests share: the service as its own process (on
the shared test plumbing of tests/support), an account lead's token, and re-exports of the
SMTP sink and the waiting helpers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from services.platform import local_http
from services.runtime.auth import Scope, bearer, new_token
from services.runtime.broker import free_port

from ..support.metrics import scrape
from ..support.processes import ServiceProcess, clean_env
from ..support.smtp import Mail, SmtpSink
from ..support.waiting import wait_for

__all__ = ["ALICE_TOKEN", "REPO", "AlertsProcess", "Mail", "SmtpSink", "wait_for"]

REPO = Path(__file__).resolve().parents[2]
ALICE_TOKEN, ALICE_TOKEN_ENTRY = new_token("alice", Scope.ack)  # an account lead's token


class AlertsProcess(ServiceProcess):
    def __init__(self, data_dir: Path, tenant_file: Path, smtp_port: int, **env: str) -> None:
        self.port = free_port()
        data_dir.mkdir(parents=True, exist_ok=True)
        super().__init__(
            "alerts",
            clean_env(
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
            | env,  # a test's settings override these
            data_dir / f"alerts-{self.port}.log",
            f"http://127.0.0.1:{self.port}",
        )

    def start(self, **env: str) -> AlertsProcess:
        super().start(**env)
        self.wait_answering("/healthz", 120)  # generous: a loaded machine starts slowly
        return self

    def wait_ready(self, timeout: float = 90) -> None:
        self.wait_answering("/readyz", timeout)

    def metric(self, name: str, **labels: str) -> float:
        return scrape(self.url, name, **labels)

    def alerts(self, **params: str) -> list[dict[str, Any]]:
        response = local_http.get(
            f"{self.url}/v1/alerts", params=params, headers=bearer(ALICE_TOKEN), trust_env=False
        )
        assert response.status_code == 200, response.text
        return list(response.json())
