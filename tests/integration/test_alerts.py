"""`partnerpulse alerts` as its own process, against a real broker (tansu), a real SMTP
server (aiosmtpd) and a real HTTP receiver for the chat webhooks.

- a signal on `partnerpulse.signals` becomes exactly one email with its evidence (and one
  Slack post where the tenant says so), however often the record is delivered;
- an SMTP outage and a chat webhook answering 503 delay notices, never lose them;
- kill -9 of the service, with notices sent and notices waiting, then a restart, and a
  replay of every record under a fresh consumer group: nothing is sent twice;
- (acknowledging an alert stops its reminders and its escalation: on a fake clock in
  tests/unit/alerts/test_policy.py, through real processes once, in test_alerts_up.py);
- Grafana's webhook with a good signature is accepted, a bad one refused.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from kafka import KafkaProducer

from services.events import topics
from services.events.outputs import Band, Behaviour, HealthSnapshot, Signal
from services.platform import local_http
from services.runtime.broker import EmbeddedBroker, free_port

from ..support.smtp import SmtpSink
from ..support.waiting import stays, wait_for
from ..unit.alerts.records import health
from ..unit.alerts.records import signal as make_signal
from .alerts_support import REPO, AlertsProcess

pytestmark = [pytest.mark.integration, pytest.mark.slow]

FIXTURE_TENANT = REPO / "tests" / "fixtures" / "tenant.yaml"
BOB = "bob.lead@northwind-msp.example"  # globex: email and the leads' Slack channel
ALICE = "alice.lead@northwind-msp.example"  # acme, vandelay: email
OPS = "olivia.owner@northwind-msp.example"


# -- a real HTTP receiver for the chat webhooks ---------------------------------------------


@dataclass
class Receiver:
    port: int
    posts: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    failures_left: int = 0  # answer 503 to this many posts first
    refused: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def bodies(self, path: str) -> list[dict[str, Any]]:
        return [body for p, body in self.posts if p == path]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver(free_port())
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            with lock:
                failing = state.failures_left > 0
                if failing:
                    state.failures_left -= 1
                    state.refused += 1
                else:
                    state.posts.append((self.path, json.loads(body)))
            self.send_response(503 if failing else 200)
            self.send_header("content-length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", state.port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


# -- the service as its own process ---------------------------------------------------------


def write_tenant(path: Path, receiver: Receiver | None, **alerts: Any) -> Path:
    """The test-suite's tenant with chat webhooks pointing at `receiver`, no quiet hours
    (the clock of the machine must not decide a test), and `alerts` overrides."""
    data = yaml.safe_load(FIXTURE_TENANT.read_text())
    policy = data["alerts"]
    policy.pop("quiet_hours", None)
    base = receiver.url if receiver else "http://127.0.0.1:9"
    policy["chat_webhooks"]["leads-slack"]["url"] = f"{base}/slack/leads"
    policy["chat_webhooks"]["ops-teams"]["url"] = f"{base}/teams/ops"
    policy.update(alerts)
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.fixture
def start_alerts(tmp_path: Path, smtp: SmtpSink) -> Iterator[Callable[..., AlertsProcess]]:
    """`start(bootstrap, receiver, env={...}, **alerts)`: the service on a tenant whose
    `alerts:` section takes `alerts` as overrides, email to `smtp`, chat to `receiver`."""
    started: list[AlertsProcess] = []

    def start(
        bootstrap: str,
        receiver: Receiver | None = None,
        env: dict[str, str] | None = None,
        **alerts: Any,
    ) -> AlertsProcess:
        tenant_file = write_tenant(tmp_path / "tenant.yaml", receiver, **alerts)
        extra = {"PARTNERPULSE_KAFKA_BOOTSTRAP": bootstrap, **(env or {})}
        process = AlertsProcess(tmp_path / "var", tenant_file, smtp.port, **extra)
        started.append(process)
        return process.start()

    yield start
    for process in started:
        process.stop(signal.SIGKILL)


def produce(bootstrap: str, *records: Signal | HealthSnapshot) -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    for record in records:
        topic = topics.SIGNALS if isinstance(record, Signal) else topics.HEALTH
        producer.send(topic, key=record.client_id.encode(), value=record.model_dump_json().encode())
    producer.flush()
    producer.close()


# -- the tests ------------------------------------------------------------------------------


def test_a_signal_becomes_exactly_one_email_with_its_evidence(
    broker: EmbeddedBroker,
    smtp: SmtpSink,
    receiver: Receiver,
    start_alerts: Callable[..., AlertsProcess],
) -> None:
    service = start_alerts(broker.bootstrap, receiver)
    record = make_signal("globex", Behaviour.late_reporting, signal_id="globex:late:1")
    produce(broker.bootstrap, record, record, record)  # delivered three times
    mail = wait_for("the email to Bob", lambda: smtp.to(BOB))[0]
    assert mail.subject == "[partnerpulse] Globex Logistics: problems reported late"
    for evidence in ("ConnectWise ticket #globex-0", "ConnectWise ticket #globex-1"):
        assert evidence in mail.text
    assert "GLOBEX-PC1" in mail.text and "What to do: Talk to the client" in mail.text
    assert mail.message["From"] == "partnerpulse@northwind-msp.example"
    slack = wait_for("the Slack post", lambda: receiver.bodies("/slack/leads"))
    assert slack[0]["text"] == mail.subject

    wait_for(
        "all three records consumed",
        lambda: (
            service.metric("partnerpulse_alerts_records_consumed_total", topic=topics.SIGNALS) == 3
        ),
    )
    # settle + a sender round: a second email would be out by now
    stays("one email, one post", lambda: len(smtp.mails) == 1 == len(receiver.posts), 1.5)
    assert (
        service.metric("partnerpulse_alerts_notifications_total", channel="email", outcome="sent")
        == 1
    )
    assert (
        service.metric("partnerpulse_alerts_notifications_total", channel="slack", outcome="sent")
        == 1
    )
    assert (
        service.metric("partnerpulse_alerts_delivery_latency_seconds_count", channel="email") == 1
    )
    assert service.metric("partnerpulse_alerts_open_alerts", state="open") == 1
    assert service.metric("partnerpulse_alerts_outbox_depth") == 0
    [alert] = service.alerts(state="open")
    assert alert["client_id"] == "globex" and alert["risk"] == "late_reporting"
    assert {n["state"] for n in alert["notifications"]} == {"sent"}


def test_an_smtp_and_chat_outage_delays_but_loses_nothing(
    broker: EmbeddedBroker,
    smtp: SmtpSink,
    receiver: Receiver,
    start_alerts: Callable[..., AlertsProcess],
) -> None:
    service = start_alerts(broker.bootstrap, receiver)
    smtp.stop()
    receiver.failures_left = 3
    produce(broker.bootstrap, make_signal("globex", signal_id="globex:dtt:1"))
    wait_for(
        "two failed email attempts",
        lambda: (
            service.metric(
                "partnerpulse_alerts_notifications_total", channel="email", outcome="retry"
            )
            >= 2
        ),
    )
    assert smtp.mails == []
    assert service.metric("partnerpulse_alerts_outbox_depth") >= 1
    [alert] = service.alerts()
    email = next(n for n in alert["notifications"] if n["channel"] == "email")
    assert email["state"] == "pending" and "unavailable" in email["last_error"]
    wait_for(  # an outage of some seconds: attempts keep failing, with back-off
        "a third failed email attempt",
        lambda: (
            service.metric(
                "partnerpulse_alerts_notifications_total", channel="email", outcome="retry"
            )
            >= 3
        ),
    )
    smtp.start()
    wait_for("the delayed email", lambda: smtp.to(BOB), timeout=20)
    wait_for("the delayed Slack post", lambda: receiver.bodies("/slack/leads"), timeout=20)
    assert receiver.refused == 3
    stays("one email, one post", lambda: len(smtp.mails) == 1 == len(receiver.posts), 1.5)
    assert service.metric("partnerpulse_alerts_outbox_depth") == 0
    assert (
        service.metric("partnerpulse_alerts_notifications_total", channel="slack", outcome="retry")
        == 3
    )


def test_kill_9_and_restart_send_nothing_twice(
    broker: EmbeddedBroker,
    smtp: SmtpSink,
    start_alerts: Callable[..., AlertsProcess],
) -> None:
    service = start_alerts(broker.bootstrap, chat_webhooks={}, leads={}, escalation={})
    sent = [
        make_signal("acme", Behaviour.direct_to_tech, signal_id="acme:dtt"),
        make_signal("globex", Behaviour.skipped_meeting, signal_id="globex:skip"),
    ]
    produce(broker.bootstrap, *sent)
    wait_for("two emails", lambda: len(smtp.mails) == 2)

    # A notice waiting for the SMTP server when the process is killed.
    smtp.stop()
    waiting = make_signal("vandelay", Behaviour.unannounced_change, signal_id="vandelay:chg")
    produce(broker.bootstrap, waiting)
    wait_for(
        "a failed attempt",
        lambda: (
            service.metric(
                "partnerpulse_alerts_notifications_total", channel="email", outcome="retry"
            )
            >= 1
        ),
    )
    service.stop(signal.SIGKILL)
    smtp.start()
    service.start()
    wait_for("the waiting email after the restart", lambda: len(smtp.mails) == 3, timeout=30)
    after = make_signal("acme", Behaviour.late_reporting, signal_id="acme:late")
    produce(broker.bootstrap, after)
    wait_for(
        "the email of a record produced after the restart", lambda: len(smtp.mails) == 4, timeout=40
    )
    # ... and recorded as sent: the service commits that right after the SMTP server
    # accepts a mail, and a kill inside that window (about a millisecond) sends it again
    # by design (services/alerts/sender.py). The kill below must not land there.
    wait_for(
        "the fourth email recorded as sent",
        lambda: (
            service.metric(
                "partnerpulse_alerts_notifications_total", channel="email", outcome="sent"
            )
            == 2  # since the restart: the one that waited, and this one
        ),
    )

    # Every record again, as a fresh embedded broker replays them: a new consumer group.
    service.stop(signal.SIGKILL)
    service.start(PARTNERPULSE_ALERTS_GROUP_ID="partnerpulse-alerts-replay")
    wait_for(
        "the replay of all four records",
        lambda: (
            service.metric("partnerpulse_alerts_records_consumed_total", topic=topics.SIGNALS) == 4
        ),
        timeout=40,
    )
    stays("four emails", lambda: len(smtp.mails) == 4, 2)  # the replay sends nothing
    subjects = [m.subject for m in smtp.mails]
    assert len(subjects) == 4, subjects
    assert len({m.message["Message-ID"] for m in smtp.mails}) == 4
    assert sorted(m.to[0] for m in smtp.mails) == sorted([ALICE, ALICE, ALICE, BOB])


def test_red_band_through_the_broker_and_health_back_resolves(
    broker: EmbeddedBroker,
    smtp: SmtpSink,
    receiver: Receiver,
    start_alerts: Callable[..., AlertsProcess],
) -> None:
    # A signal and the red band it causes go out as one message: give them time to meet.
    service = start_alerts(
        broker.bootstrap, receiver, env={"PARTNERPULSE_ALERTS_SETTLE_SECONDS": "2"}
    )
    produce(
        broker.bootstrap,
        make_signal("acme", signal_id="acme:dtt"),
        make_signal("acme", Behaviour.late_reporting, signal_id="acme:late"),
        health("acme", Band.red, score=30, seq=4),
    )
    red = wait_for("the red email", lambda: smtp.to(ALICE, "turned red"))
    teams = wait_for("the Teams escalation", lambda: receiver.bodies("/teams/ops"))
    wait_for("the escalation email", lambda: smtp.to(OPS))
    stays("one email to Alice", lambda: len(smtp.to(ALICE)) == 1, 1.5)
    assert len(smtp.to(ALICE)) == 1 == len(red)  # the signals are in the red message
    assert "Problems reported late" in red[0].text and "ConnectWise ticket #acme-1" in red[0].text
    card = teams[0]["attachments"][0]["content"]
    assert card["body"][0]["text"].startswith("[partnerpulse] Acme Dental turned red")
    produce(broker.bootstrap, health("acme", Band.yellow, score=60, seq=5, day=1))
    cleared = wait_for("the resolve", lambda: smtp.to(ALICE, " - cleared"))
    assert cleared[0].message["In-Reply-To"] == red[0].message["Message-ID"]
    still_open = sorted(a["risk"] for a in service.alerts(state="open"))
    assert still_open == ["direct_to_tech", "late_reporting"]  # the band cleared, not them


# -- Grafana --------------------------------------------------------------------------------

GRAFANA_SECRET = "grafana-integration-secret"


def grafana_payload(status: str = "firing") -> bytes:
    return json.dumps(
        {
            "receiver": "partnerpulse",
            "status": status,
            "alerts": [
                {
                    "status": status,
                    "labels": {
                        "alertname": "PartnerpulseClassifierStalled",
                        "severity": "critical",
                    },
                    "annotations": {
                        "summary": "The classifier has processed nothing for 5 minutes",
                        "runbook_url": "https://runbooks.example/classifier-stalled",
                    },
                    "startsAt": "2026-03-02T09:58:00Z",
                    "endsAt": "0001-01-01T00:00:00Z",
                    "fingerprint": "9a8b7c6d5e4f3a2b",
                }
            ],
        }
    ).encode()


def test_grafana_webhook_with_good_and_bad_signature(
    broker: EmbeddedBroker, smtp: SmtpSink, start_alerts: Callable[..., AlertsProcess]
) -> None:
    service = start_alerts(
        broker.bootstrap,
        env={
            "PARTNERPULSE_ALERTS_GRAFANA_SECRETS": json.dumps(["rotated-out", GRAFANA_SECRET]),
            "PARTNERPULSE_ALERTS_GRAFANA_TIMESTAMP_HEADER": "X-Grafana-Alerting-Timestamp",
            "PARTNERPULSE_ALERTS_MAX_BODY_BYTES": "4096",
        },
        chat_webhooks={},
        leads={},
        escalation={"contact": {"name": "Olivia Owner", "email": OPS}},
    )

    def post(body: bytes, secret: str = GRAFANA_SECRET, stamp: str | None = None) -> httpx.Response:
        stamp = stamp or str(int(time.time()))
        signature = hmac.new(secret.encode(), f"{stamp}:".encode() + body, hashlib.sha256)
        return local_http.post(
            f"{service.url}/v1/grafana",
            content=body,
            headers={
                "content-type": "application/json",
                "X-Grafana-Alerting-Signature": signature.hexdigest(),
                "X-Grafana-Alerting-Timestamp": stamp,
            },
            trust_env=False,
        )

    bad = post(grafana_payload(), secret="forged")
    assert bad.status_code == 401 and "does not match" in bad.json()["error"]
    stale = post(grafana_payload(), stamp=str(int(time.time()) - 3600))
    assert stale.status_code == 401 and "replayed" in stale.json()["error"]
    assert post(b"x" * 5000).status_code == 413
    assert post(b"{not json").status_code == 400
    assert post(b'{"alerts": "no"}').status_code == 422
    good = post(grafana_payload())
    assert good.status_code == 200, good.text
    assert post(grafana_payload()).status_code == 200  # Grafana's repeat: no second email
    mail = wait_for("the Grafana alert email", lambda: smtp.to(OPS))[0]
    assert mail.subject == "[partnerpulse] The classifier has processed nothing for 5 minutes"
    assert "runbooks.example/classifier-stalled" in mail.text
    assert post(grafana_payload("resolved")).status_code == 200
    wait_for("the resolve", lambda: smtp.to(OPS, " - cleared"))
    stays("two emails", lambda: len(smtp.mails) == 2, 1)  # the repeat sent nothing
    assert (
        service.metric("partnerpulse_alerts_grafana_notifications_total", outcome="accepted") == 3
    )
    assert (
        service.metric("partnerpulse_alerts_grafana_notifications_total", outcome="rejected") == 5
    )
    assert "forged" not in service.output() and GRAFANA_SECRET not in service.output()
