"""Acceptance, through `partnerpulse up`: a replayed scenario in which a client turns red
produces exactly one email to its account lead, with the evidence, within 60 seconds.

The scenario is `tests/scenarios/families-30d` (seven clients over 30 days, as their PSA
and RMM webhooks; one client mixes direct-to-tech requests and late reporting, and
ends red: the test takes it from the scenario's truth). Its deliveries are replayed over
HTTP into ingest with each vendor's authentication; the SMTP server is a real aiosmtpd.
The 60 seconds are counted from the start of the replay, so they bound the time from the
event that turned the client red.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from services.platform import local_http
from services.runtime.auth import bearer, read_local_token
from services.runtime.broker import free_port
from services.scenario.files import load_scenario
from services.scenario.replay import replay

from ..support.smtp import SmtpSink
from ..support.waiting import wait_for
from .test_up import Stack

pytestmark = pytest.mark.acceptance  # the slow tier: `make test-acceptance`

SCENARIO = Path(__file__).resolve().parents[1] / "scenarios" / "families-30d"
OPS = "owner@sim-msp.example"


def _red_client() -> tuple[str, str, str]:
    """The scenario's client that ends red (by its truth): id, name, its lead's email."""
    files = load_scenario(SCENARIO)
    (client_id,) = [c for c, band in files.truth.health.items() if band.value == "red"]
    client = files.tenant.client(client_id)
    assert client is not None
    return client_id, client.name, client.account_lead.email


RED, RED_NAME, LEAD = _red_client()


@pytest.fixture
def alert_policy() -> dict[str, Any]:
    """The tenant's `alerts:` section."""
    return {
        "timezone": "Europe/London",
        "escalation": {"contact": {"name": "Olivia Owner", "email": OPS}, "on_red": True},
    }


@pytest.fixture
def stack(tmp_path: Path, smtp: SmtpSink, alert_policy: dict[str, Any]) -> Iterator[dict[str, str]]:
    """`partnerpulse up` on the scenario's tenant, with an owner to escalate to, and email
    to `smtp`."""
    tenant = yaml.safe_load((SCENARIO / "tenant.yaml").read_text())
    tenant["alerts"] = alert_policy
    tenant_file = tmp_path / "tenant.yaml"
    tenant_file.write_text(yaml.safe_dump(tenant))
    up = Stack(tmp_path / "var", free_port(), free_port())
    alerts_port = free_port()
    up.env.update(
        PARTNERPULSE_TENANT_FILE=str(tenant_file),
        PARTNERPULSE_SETTINGS_FILE=str(tmp_path / "no-settings.yaml"),
        PARTNERPULSE_CLASSIFIER_PORT=str(free_port()),
        PARTNERPULSE_CLASSIFIER_TICK_SECONDS="1",
        PARTNERPULSE_ALERTS_PORT=str(alerts_port),
        PARTNERPULSE_ALERTS_SMTP_HOST="127.0.0.1",
        PARTNERPULSE_ALERTS_SMTP_PORT=str(smtp.port),
        PARTNERPULSE_ALERTS_SMTP_FROM="partnerpulse@sim-msp.example",
        PARTNERPULSE_ALERTS_RETRY_MAX_SECONDS="5",
    )
    up.start()
    try:
        yield {
            "output": "".join(up.output),
            "ingest": up.url,
            "alerts": f"http://127.0.0.1:{alerts_port}",
            "logs": str(tmp_path / "var" / "logs"),
            "token": read_local_token(tmp_path / "var") or "",  # what `up` made for its tools
        }
    finally:
        up.stop()


def test_a_client_turning_red_emails_its_lead_once_with_evidence_within_60s(
    stack: dict[str, str], smtp: SmtpSink
) -> None:
    assert f"alerts up - alerts at {stack['alerts']}/v1/alerts" in stack["output"]
    files = load_scenario(SCENARIO)
    started = time.time()
    outcomes = replay(files.deliveries, files.tenant, stack["ingest"])
    assert all(o.status < 300 or o.status == 401 for o in outcomes)

    def red_mail() -> list[Any]:
        return smtp.to(LEAD, f"{RED_NAME} turned red")

    def logs() -> str:
        return (Path(stack["logs"]) / "alerts.log").read_text(errors="replace")[-3000:]

    try:
        mail = wait_for("the red email", red_mail, timeout=started + 60 - time.time())[0]
    except AssertionError:
        raise AssertionError(f"no red email within 60 s; alerts log:\n{logs()}") from None
    assert mail.at - started <= 60

    # The evidence an account lead acts on: which tickets and alerts, and what to do.
    truth = {s.behaviour.value: s.evidence for s in files.truth.signals if s.client == RED}
    assert set(truth) == {"direct_to_tech", "late_reporting"}
    text = mail.text
    assert "Requests going straight to technicians" in text and "Problems reported late" in text
    for behaviour, refs in truth.items():
        shown = [r for r in refs if r.startswith("autotask:ticket:")]
        assert any(f"Autotask ticket #{r.rsplit(':', 1)[1]}" in text for r in shown), behaviour
    assert "What to do: The relationship is at risk" in text
    escalated = wait_for("the escalation to the owner", lambda: smtp.to(OPS, RED_NAME))
    assert escalated[0].subject.endswith(" - escalated")

    time.sleep(5)  # every later record of the replay has been taken in by now
    assert len(red_mail()) == 1
    ids = [m.message["Message-ID"] for m in smtp.mails]
    assert len(ids) == len(set(ids)), "an email was sent twice"
    alerts = local_http.get(
        f"{stack['alerts']}/v1/alerts", headers=bearer(stack["token"]), trust_env=False
    ).json()
    band = [a for a in alerts if a["kind"] == "band" and a["client_id"] == RED]
    assert [a["state"] for a in band] == ["open"]


REMINDER_SECONDS = 6


@pytest.mark.parametrize(
    "alert_policy",
    [{"timezone": "UTC", "remind_every_minutes": REMINDER_SECONDS / 60}],
    ids=["reminders-every-6s"],
)
def test_a_minute_without_smtp_delays_the_red_email_and_acknowledging_stops_reminders(
    stack: dict[str, str], smtp: SmtpSink
) -> None:
    smtp.stop()  # the mail server is down for a minute while the scenario arrives
    files = load_scenario(SCENARIO)
    replay(files.deliveries, files.tenant, stack["ingest"])
    down_since = time.time()

    def band_alert() -> dict[str, Any] | None:
        alerts = local_http.get(
            f"{stack['alerts']}/v1/alerts", headers=bearer(stack["token"]), trust_env=False
        ).json()
        band = [a for a in alerts if a["kind"] == "band" and a["client_id"] == RED]
        return band[0] if band else None

    alert = wait_for("the red alert, queued while SMTP is down", band_alert, timeout=60)
    time.sleep(max(0.0, down_since + 60 - time.time()))
    assert smtp.mails == []
    smtp.start()

    def red_mail(reminder: bool = False) -> list[Any]:
        mails = smtp.to(LEAD, f"{RED_NAME} turned red")
        return [m for m in mails if m.subject.endswith(" - reminder") == reminder]

    wait_for("the red email after the outage", red_mail, timeout=30)
    wait_for(
        "a reminder of the unacknowledged risk",
        lambda: red_mail(reminder=True),
        timeout=4 * REMINDER_SECONDS,
    )
    acked = local_http.post(
        f"{stack['alerts']}/v1/alerts/{alert['id']}/ack",
        headers=bearer(stack["token"]),
        trust_env=False,
    )
    assert acked.status_code == 200, acked.text
    assert acked.json()["acknowledged_by"] == "local"  # the name of `up`'s own token
    time.sleep(1)  # a reminder already handed to the mail server may still arrive
    after_ack = len(red_mail(reminder=True))
    time.sleep(3 * REMINDER_SECONDS)
    assert len(red_mail(reminder=True)) == after_ack, "reminded after the acknowledgement"
    assert len(red_mail()) == 1
    ids = [m.message["Message-ID"] for m in smtp.mails]
    assert len(ids) == len(set(ids)), "an email was sent twice"
