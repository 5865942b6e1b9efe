"""The partnership review mailed to the account lead by `partnerpulse alerts`, a process
of its own, through a real SMTP server (aiosmtpd) that is down at first.

The report API it fetches the PDF from is a stand-in HTTP server serving a real PDF made
by services/report (a classifier needs the whole pipeline; test_report.py covers the
real route): it asks for the API token and answers 503 once, as a busy classifier does.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest
import yaml

from services.alerts.report_schedule import ended_by
from services.classifier.domain.state import ClientState
from services.events.tenant import load_tenant
from services.events.tenant_reports import Cadence
from services.platform import local_http
from services.report.build import build_report
from services.report.pdf import html_to_pdf
from services.report.period import between
from services.report.render import render_html
from services.runtime.auth import bearer, new_token
from services.runtime.broker import EmbeddedBroker, free_port

from .alerts_support import ALICE_TOKEN, REPO, AlertsProcess, SmtpSink, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ALICE = "alice.lead@northwind-msp.example"  # acme's account lead
READ_TOKEN, _ = new_token("alerts-service")


@dataclass
class ReportApi:
    """GET /v1/clients/{id}/report.pdf as the classifier answers it."""

    pdf: bytes
    port: int = field(default_factory=free_port)
    busy_left: int = 1
    asked: list[tuple[str, dict[str, list[str]]]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@pytest.fixture
def report_api(tmp_path: Path) -> Iterator[ReportApi]:
    tenant = load_tenant(REPO / "tests" / "fixtures" / "tenant.yaml")
    client = tenant.client("acme")
    assert client is not None
    period = between("2026-10-01", "2026-10-31")
    assert not isinstance(period, str)
    html = render_html(build_report(ClientState("acme"), tenant, client, period))
    api = ReportApi(html_to_pdf(html))
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            url = urlsplit(self.path)
            with lock:
                if self.headers.get("Authorization") != bearer(READ_TOKEN)["Authorization"]:
                    status, body, kind = 401, b'{"error": "token"}', "application/json"
                elif api.busy_left > 0:
                    api.busy_left -= 1
                    status, body, kind = 503, b'{"error": "busy"}', "application/json"
                elif url.path == "/v1/clients/acme/report.pdf":
                    api.asked.append((url.path, parse_qs(url.query)))
                    status, body, kind = 200, api.pdf, "application/pdf"
                else:
                    status, body, kind = 404, b'{"error": "no client"}', "application/json"
            self.send_response(status)
            self.send_header("content-type", kind)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", api.port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield api
    server.shutdown()
    server.server_close()


def reports(service: AlertsProcess) -> list[dict[str, Any]]:
    response = local_http.get(
        f"{service.url}/v1/reports", headers=bearer(ALICE_TOKEN), trust_env=False, timeout=10
    )
    assert response.status_code == 200, response.text
    return list(response.json())


def test_the_review_pdf_reaches_the_lead_once_through_an_smtp_outage(
    tmp_path: Path, report_api: ReportApi, broker: EmbeddedBroker
) -> None:
    data = yaml.safe_load((REPO / "tests" / "fixtures" / "tenant.yaml").read_text())
    data["alerts"].pop("quiet_hours", None)
    data["reports"] = {"clients": {"acme": "monthly"}, "send_after_hours": 0}
    tenant_file = tmp_path / "tenant.yaml"
    tenant_file.write_text(yaml.safe_dump(data))
    smtp = SmtpSink()  # not started: the mail server is down
    service = AlertsProcess(
        tmp_path / "var",
        tenant_file,
        smtp.port,
        PARTNERPULSE_ALERTS_CLASSIFIER_URL=report_api.url,
        PARTNERPULSE_ALERTS_CLASSIFIER_TOKEN=READ_TOKEN,
        PARTNERPULSE_KAFKA_BOOTSTRAP=broker.bootstrap,
    )
    try:
        service.start()
        period = ended_by(Cadence.monthly, time.time(), ZoneInfo(data["alerts"]["timezone"]))
        [row] = wait_for(
            "the review fetched, then refused by the SMTP outage",
            lambda: [r for r in reports(service) if r["prepared"] and r["last_error"]],
        )
        assert row["client_id"] == "acme" and row["period"] == period.label
        assert row["to"] == ALICE and row["state"] == "pending"
        assert "unavailable" in row["last_error"]
        assert report_api.busy_left == 0  # the 503 was retried
        assert report_api.asked == [
            (
                "/v1/clients/acme/report.pdf",
                {"from": [period.first.isoformat()], "to": [period.last.isoformat()]},
            )
        ]

        smtp.start()
        [mail] = wait_for("the review email", lambda: smtp.to(ALICE), timeout=30)
        assert mail.subject == (
            f"[partnerpulse] Partnership review: Acme Dental, {period.describe()}"
        )
        [pdf] = list(mail.message.iter_attachments())
        assert pdf.get_content_type() == "application/pdf"
        assert pdf.get_filename() == f"acme-{period.label}.pdf"
        assert pdf.get_content() == report_api.pdf
        wait_for("the delivery marked sent", lambda: reports(service)[0]["state"] == "sent")

        # A restart finds the period delivered: no second fetch, no second mail.
        service.stop(signal.SIGTERM)
        service.start()
        time.sleep(1.5)  # three review rounds (tick 0.5 s): a second fetch would be out by now
        assert len(smtp.mails) == 1 and len(report_api.asked) == 1
        assert [r["state"] for r in reports(service)] == ["sent"]
    finally:
        service.stop(signal.SIGKILL)
        smtp.stop()
