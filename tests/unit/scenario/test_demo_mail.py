"""The demo's mail sink: a real SMTP conversation in, an .eml file and a line of who got what
out; the stack's SMTP settings point at it only while the demo runs."""

from __future__ import annotations

import os
import smtplib
from pathlib import Path

from rich.console import Console

from services.alerts import messages
from services.alerts.messages import Message
from services.scenario.demo_mail import SMTP_ENV, demo_mail, mail_table


def alert_mail() -> Message:
    return Message(
        subject="[partnerpulse] Globex Logistics: problems reported late",
        text="Globex Logistics reports problems late.",
        reference="PP-0123456789ab",
        message_id="<al-0123456789ab.1@demo.example>",
        in_reply_to=None,
        date=1_780_000_000.0,
    )


def test_each_message_is_kept_as_eml_and_listed_with_client_and_behaviour(tmp_path: Path) -> None:
    before = {name: os.environ.get(name) for name in SMTP_ENV}
    with demo_mail(tmp_path) as sink:
        host, port = os.environ[SMTP_ENV[0]], int(os.environ[SMTP_ENV[1]])
        assert (host, port) == ("127.0.0.1", sink.port)
        mail = messages.email(alert_mail(), "pp@demo.example", "bob@demo.example", "Bob Lead")
        with smtplib.SMTP(host, port, timeout=10) as smtp:
            smtp.send_message(mail)
        [received] = sink.received
    assert {name: os.environ.get(name) for name in SMTP_ENV} == before  # restored
    assert received.file == tmp_path / "mail" / "001-globex-logistics-problems-reported-late.eml"
    assert b"Subject: [partnerpulse] Globex Logistics: problems reported late" in (
        received.file.read_bytes()
    )
    alerts = [{"reference": "PP-0123456789ab", "client_name": "Globex Logistics",
               "risk": "late_reporting"}]  # fmt: skip
    console = Console(record=True, width=200)
    console.print(mail_table(sink.received, alerts))
    line = next(row for row in console.export_text().splitlines() if "bob@demo.example" in row)
    assert "Globex Logistics" in line and "late_reporting" in line
