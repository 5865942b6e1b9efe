"""`make demo`'s mail: a local SMTP sink for its own stack, and the reports of its clients.

Without it the demo's alert emails go to 127.0.0.1:25, where nothing listens, and a new
user never sees what an account lead receives. `demo_mail(folder)` runs aiosmtpd on a
free loopback port for as long as the demo runs and points the alerts service of the
demo's stack at it (`PARTNERPULSE_ALERTS_SMTP_HOST/_PORT`, which `up` passes on); each
message is kept as `<folder>/mail/NNN-<subject>.eml`. Once the scenario has gone
through, `show` waits for the outbox to go quiet, prints who got what (recipient,
subject, client, behaviour), and writes the partnership review of every demo client
to `<folder>/reports/`.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import httpx
from aiosmtpd.controller import Controller
from rich.console import Console
from rich.table import Table

from services.platform import local_http
from services.runtime.auth import bearer, read_local_token
from services.runtime.broker import free_port
from services.runtime.report_client import ReportClient, ReportFetchError
from services.scenario.stack import Endpoints

SMTP_ENV = ("PARTNERPULSE_ALERTS_SMTP_HOST", "PARTNERPULSE_ALERTS_SMTP_PORT")
QUIET_FOR = 4.0  # seconds without a new mail or a due notice: the outbox is done
WAIT_AT_MOST = 90.0


@dataclass(frozen=True)
class Received:
    to: str
    subject: str
    reference: str  # X-Partnerpulse-Reference: the alert's thread key
    attachment: str | None
    file: Path


@dataclass
class MailSink:
    """aiosmtpd keeping every message it accepts as an .eml file."""

    folder: Path
    port: int = field(default_factory=free_port)
    received: list[Received] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        content = bytes(envelope.content)
        message = message_from_bytes(content, policy=policy.default)
        subject = str(message.get("Subject", ""))
        attachments = [str(p.get_filename()) for p in message.iter_attachments()]
        with self._lock:
            self.folder.mkdir(parents=True, exist_ok=True)
            slug = re.sub(r"[^a-z0-9]+", "-", subject.lower().removeprefix("[partnerpulse] "))
            path = self.folder / f"{len(self.received) + 1:03d}-{slug.strip('-')[:60]}.eml"
            path.write_bytes(content)
            self.received.append(
                Received(
                    ", ".join(envelope.rcpt_tos),
                    subject,
                    str(message.get("X-Partnerpulse-Reference", "")),
                    attachments[0] if attachments else None,
                    path,
                )
            )
        return "250 kept"

    def count(self) -> int:
        with self._lock:
            return len(self.received)


@contextmanager
def demo_mail(folder: Path) -> Iterator[MailSink]:
    """The sink, with the SMTP settings of the stacks started meanwhile pointing at it."""
    sink = MailSink(folder / "mail")
    controller = Controller(sink, hostname="127.0.0.1", port=sink.port)
    controller.start()
    before = {name: os.environ.get(name) for name in SMTP_ENV}
    os.environ.update({SMTP_ENV[0]: "127.0.0.1", SMTP_ENV[1]: str(sink.port)})
    try:
        yield sink
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        controller.stop()


def _alerts(endpoints: Endpoints, token: str) -> list[dict[str, Any]]:
    try:
        response = local_http.get(
            f"{endpoints.alerts_url}/v1/alerts", headers=bearer(token), timeout=10, trust_env=False
        )
    except httpx.HTTPError:
        return []
    return list(response.json()) if response.status_code == 200 else []


def _waiting(alerts: list[dict[str, Any]], now: float) -> int:
    """Email notices due (or being sent) but not sent yet."""
    return sum(
        1
        for a in alerts
        for n in a.get("notifications", [])
        if n.get("channel") == "email"
        and (n.get("state") == "sending" or (n.get("state") == "pending" and n["due_at"] <= now))
    )


def wait_for_quiet(sink: MailSink, endpoints: Endpoints, token: str) -> list[dict[str, Any]]:
    """Until no email notice is due and no mail has come for QUIET_FOR seconds (bounded)."""
    deadline = time.monotonic() + WAIT_AT_MOST
    last_count, quiet_since = -1, time.monotonic()
    alerts: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        alerts = _alerts(endpoints, token)
        count = sink.count()
        if count != last_count or _waiting(alerts, time.time()):
            last_count, quiet_since = count, time.monotonic()
        elif time.monotonic() - quiet_since >= QUIET_FOR:
            break
        time.sleep(0.5)
    return alerts


def mail_table(received: list[Received], alerts: list[dict[str, Any]]) -> Table:
    by_reference = {a.get("reference"): a for a in alerts}
    table = Table(title="what the account leads received", title_justify="left")
    for name in ("to", "subject", "client", "behaviour"):
        table.add_column(name)
    for mail in received:
        alert = by_reference.get(mail.reference) or {}
        client = str(alert.get("client_name") or alert.get("client_id") or "-")
        risk = str(alert.get("risk") or ("review (PDF)" if mail.attachment else "-"))
        table.add_row(mail.to, mail.subject.removeprefix("[partnerpulse] "), client, risk)
    return table


def write_reports(
    console: Console, endpoints: Endpoints, token: str, folder: Path
) -> list[Path]:  # fmt: skip
    """The partnership review (PDF; HTML where PDF cannot be made) of every client."""
    written: list[Path] = []
    with ReportClient(endpoints.classifier_url, token) as api:
        for client_id in api.clients():
            for fmt in ("pdf", "html"):
                try:
                    body = api.report(client_id, {}, fmt)
                except ReportFetchError as exc:
                    if fmt == "pdf" and exc.status == 503:
                        continue  # no pango here: the HTML then
                    console.print(f"[yellow]report of {client_id}: {exc}[/yellow]")
                    break
                folder.mkdir(parents=True, exist_ok=True)
                path = folder / f"{client_id}.{fmt}"
                path.write_bytes(body)
                written.append(path)
                break
    return written


def show(
    console: Console, sink: MailSink, endpoints: Endpoints, data_dir: Path, folder: Path
) -> None:  # fmt: skip
    """Who got what, and every client's report: the demo's last words before it waits."""
    token = read_local_token(data_dir) or ""
    console.print("waiting for the alerts service to send what it has to send ...")
    alerts = wait_for_quiet(sink, endpoints, token)
    if sink.received:
        console.print(mail_table(sink.received, alerts))
        console.print(f"each message as it arrived (open with any mail program): {sink.folder}/")
    else:
        console.print("no email was sent (no client showed a pattern worth an alert)")
    console.print("writing the partnership review of every client ...")
    reports = write_reports(console, endpoints, token, folder / "reports")
    if reports:
        console.print(
            f"partnership reviews (the 90 days up to the newest event): {reports[0].parent}/ "
            f"({', '.join(p.name for p in reports)})"
        )
