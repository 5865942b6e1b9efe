"""Grafana's webhook (signature, payload, dedup), wire formats, schedule and tenant checks."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime, time
from email import message_from_bytes
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pydantic import SecretStr

from services.alerts import grafana, messages
from services.alerts.messages import Message
from services.alerts.model import ChannelKind, Purpose, Recipient, Role
from services.alerts.schedule import next_digest_at, quiet_end
from services.events.alert_policy import AlertPolicy, QuietHours
from services.events.outputs import Band
from services.events.tenant import Tenant, TenantConfigError, parse_tenant

from .records import NOW, harness, health

SECRET = "grafana-test-secret"


def grafana_body(status: str = "firing", **labels: str) -> bytes:
    return json.dumps(
        {
            "receiver": "partnerpulse-alerts",
            "status": status,
            "alerts": [
                {
                    "status": status,
                    "labels": {
                        "alertname": "PartnerpulseIngestRejecting",
                        "severity": "critical",
                        **labels,
                    },
                    "annotations": {
                        "summary": "Ingest is rejecting deliveries",
                        "description": "12% of ConnectWise deliveries rejected in 10 minutes.",
                        "runbook_url": "https://runbooks.example/ingest-rejecting",
                    },
                    "startsAt": "2026-03-02T09:58:00Z",
                    "endsAt": "0001-01-01T00:00:00Z",
                    "generatorURL": "http://grafana.example/alerting/grafana/abc/view",
                    "fingerprint": "c6eadffa33fcdf37",
                }
            ],
            "groupKey": "{}:{}",
            "version": "1",
        }
    ).encode()


def sign(body: bytes, stamp: str | None = None, secret: str = SECRET) -> str:
    message = f"{stamp}:".encode() + body if stamp else body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def check(body: bytes, headers: dict[str, str], timestamp_header: str | None = None) -> None:
    grafana.verify(
        body,
        {k.lower(): v for k, v in headers.items()},
        [SecretStr("old-secret"), SecretStr(SECRET)],
        signature_header="X-Grafana-Alerting-Signature",
        timestamp_header=timestamp_header,
        now=NOW,
        max_skew=300,
    )


def test_signature_over_the_raw_body_any_of_the_secrets() -> None:
    body = grafana_body()
    check(body, {"X-Grafana-Alerting-Signature": sign(body)})
    check(body, {"X-Grafana-Alerting-Signature": sign(body, secret="old-secret")})
    reformatted = json.dumps(json.loads(body), indent=1).encode()  # same JSON, other bytes
    for headers, why in [
        ({}, "missing X-Grafana-Alerting-Signature"),
        ({"X-Grafana-Alerting-Signature": sign(body, secret="wrong")}, "does not match"),
        ({"X-Grafana-Alerting-Signature": sign(reformatted)}, "does not match"),
    ]:
        with pytest.raises(grafana.GrafanaRejected, match=why) as caught:
            check(body, headers)
        assert caught.value.status == 401


def test_signature_with_a_timestamp_and_replay_protection() -> None:
    body, header = grafana_body(), "X-Grafana-Alerting-Timestamp"
    stamp = str(int(NOW))
    check(body, {"X-Grafana-Alerting-Signature": sign(body, stamp), header: stamp}, header)
    with pytest.raises(grafana.GrafanaRejected, match="does not match"):
        check(body, {"X-Grafana-Alerting-Signature": sign(body), header: stamp}, header)
    old = str(int(NOW) - 600)
    with pytest.raises(grafana.GrafanaRejected, match="replayed"):
        check(body, {"X-Grafana-Alerting-Signature": sign(body, old), header: old}, header)


def test_no_secret_configured_accepts_unsigned() -> None:
    grafana.verify(b"{}", {}, [], signature_header="x", timestamp_header=None, now=NOW, max_skew=1)
    with pytest.raises(grafana.GrafanaRejected, match="missing x header"):  # with one: refused
        grafana.verify(
            b"{}",
            {},
            [SecretStr("s")],
            signature_header="x",
            timestamp_header=None,
            now=NOW,
            max_skew=1,
        )


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        (b"not json", 400, "not JSON"),
        (b"[]", 422, "JSON object"),
        (b'{"status": "firing"}', 422, "alerts: missing"),
        (
            b'{"alerts": [{"status": "firing", "startsAt": "2026-03-02T09:58:00Z"}]}',
            422,
            r"alerts\[0\].fingerprint",
        ),
        (
            b'{"alerts": [{"fingerprint": "a", "status": "odd", "startsAt": "x"}]}',
            422,
            r"alerts\[0\].status: 'odd'",
        ),
    ],
)
def test_bad_payloads_say_what_is_wrong(body: bytes, status: int, message: str) -> None:
    with pytest.raises(grafana.GrafanaRejected, match=message) as caught:
        grafana.parse(body)
    assert caught.value.status == status


def test_grafana_alerts_are_deduplicated_routed_and_resolved(
    tmp_path: Path, tenant: Tenant
) -> None:
    h = harness(tmp_path, tenant)
    pipeline = grafana.parse(grafana_body())
    for _ in range(3):  # Grafana repeats a firing alert
        h.engine.take_grafana(pipeline, h.now)
    client = grafana.parse(grafana_body(client="globex"))[0]
    client = grafana.GrafanaAlert(**{**client.__dict__, "fingerprint": "other"})
    h.engine.take_grafana([client], h.now)
    out = h.run()
    got = sorted((n.recipient.address, n.purpose.value) for n, _ in out)
    assert got == [
        ("bob.lead@northwind-msp.example", "opened"),  # a client's alert: its lead
        ("leads-slack", "opened"),
        ("olivia.owner@northwind-msp.example", "opened"),  # a pipeline alert: ops
        ("ops-teams", "opened"),
    ]
    ops_mail = next(m for n, m in out if n.recipient.address.startswith("olivia"))
    assert ops_mail.subject == "[partnerpulse] Ingest is rejecting deliveries"
    assert "runbooks.example/ingest-rejecting" in ops_mail.text
    assert "12% of ConnectWise deliveries" in ops_mail.text
    h.engine.take_grafana(grafana.parse(grafana_body("resolved")), h.now)
    h.engine.take_grafana(grafana.parse(grafana_body("resolved")), h.now)
    cleared = h.run()
    assert sorted((n.recipient.address, n.purpose.value) for n, _ in cleared) == [
        ("olivia.owner@northwind-msp.example", "resolved"),
        ("ops-teams", "resolved"),
    ]


MESSAGE = Message(
    subject="[partnerpulse] Acme Dental: problems reported late",
    text="What we saw: ...",
    reference="PP-0123456789ab",
    message_id="<al-0123456789ab.7@northwind-msp.example>",
    in_reply_to="<al-0123456789ab.3@northwind-msp.example>",
    date=NOW,
)


def test_email_headers_thread_the_message() -> None:
    mail = messages.email(MESSAGE, "partnerpulse@northwind-msp.example", "a@b.example", "Alice")
    parsed = message_from_bytes(mail.as_bytes())
    assert parsed["Message-ID"] == MESSAGE.message_id
    assert parsed["In-Reply-To"] == parsed["References"] == MESSAGE.in_reply_to
    assert parsed["To"] == "Alice <a@b.example>"
    assert parsed["X-Partnerpulse-Reference"] == "PP-0123456789ab"


def test_slack_and_teams_bodies() -> None:
    slack: dict[str, Any] = messages.slack(MESSAGE)
    assert slack["text"] == MESSAGE.subject
    assert [b["type"] for b in slack["blocks"]] == ["header", "section", "context"]
    assert "PP-0123456789ab" in json.dumps(slack["blocks"][2])
    teams: dict[str, Any] = messages.teams(MESSAGE)
    card = teams["attachments"][0]
    assert teams["type"] == "message"
    assert card["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert card["content"]["type"] == "AdaptiveCard"
    assert card["content"]["body"][0]["text"] == MESSAGE.subject


def test_describe_ref() -> None:
    assert messages.describe_ref("autotask:ticket:351123") == "Autotask ticket #351123"
    assert messages.describe_ref("ninjaone:device:1139") == "NinjaOne device #1139"
    assert messages.describe_ref("odd") == "odd"


LONDON = ZoneInfo("Europe/London")


def ts(*args: int) -> float:
    return datetime(*args, tzinfo=LONDON).timestamp()  # type: ignore[misc]


def test_quiet_hours_over_midnight_and_within_a_day() -> None:
    night = QuietHours(start=time(20, 0), end=time(7, 30))
    assert quiet_end(ts(2026, 7, 1, 21, 0), night, LONDON) == ts(2026, 7, 2, 7, 30)
    assert quiet_end(ts(2026, 7, 2, 3, 0), night, LONDON) == ts(2026, 7, 2, 7, 30)
    assert quiet_end(ts(2026, 7, 2, 12, 0), night, LONDON) is None
    lunch = QuietHours(start=time(12, 0), end=time(13, 0))
    assert quiet_end(ts(2026, 7, 2, 12, 15), lunch, LONDON) == ts(2026, 7, 2, 13, 0)
    assert quiet_end(ts(2026, 7, 2, 13, 0), lunch, LONDON) is None


def test_next_digest_time() -> None:
    assert next_digest_at(ts(2026, 7, 1, 7, 0), time(8, 0), LONDON) == ts(2026, 7, 1, 8, 0)
    assert next_digest_at(ts(2026, 7, 1, 8, 0), time(8, 0), LONDON) == ts(2026, 7, 2, 8, 0)


def test_purposes_that_coalesce() -> None:
    from services.alerts.policy import coalesces

    assert coalesces(Purpose.updated, {Purpose.opened})
    assert coalesces(Purpose.reminder, {Purpose.updated})
    assert not coalesces(Purpose.resolved, {Purpose.opened})
    assert not coalesces(Purpose.updated, {Purpose.reminder})


def tenant_with(alerts: dict[str, Any]) -> Tenant:
    return parse_tenant(
        {
            "tenant": "msp",
            "clients": [
                {
                    "id": "acme",
                    "name": "Acme",
                    "account_lead": {"name": "A", "email": "a@m.example"},
                }
            ],
            "alerts": alerts,
        },
        "tenant.yaml",
    )


@pytest.mark.parametrize(
    ("alerts", "message"),
    [
        ({"leads": {"a@m.example": {"chat": ["nope"]}}}, "leads.a@m.example.chat: 'nope'"),
        ({"clients": {"globex": {}}}, r"alerts.clients: \['globex'\] name no client"),
        ({"timezone": "Mars/Olympus"}, "unknown time zone 'Mars/Olympus'"),
        ({"escalation": {"contact": {"name": "Ops"}}}, "give it an email or a chat channel"),
        ({"quiet_hours": {"start": "20:00", "end": "20:00"}}, "start and end are equal"),
    ],
)
def test_alert_policy_mistakes_name_the_key(alerts: dict[str, Any], message: str) -> None:
    with pytest.raises(TenantConfigError, match=message) as caught:
        tenant_with(alerts)
    assert "tenant.yaml" in str(caught.value)


def test_a_chat_url_that_is_not_http_stops_the_service(tmp_path: Path) -> None:
    from services.alerts.app import create_app
    from services.alerts.settings import AlertsSettings

    tenant = tenant_with({"chat_webhooks": {"team": {"format": "slack", "url": "hooks/T0/B0"}}})
    settings = AlertsSettings(data_dir=tmp_path, tenant_file=Path("tenant.yaml"))
    with pytest.raises(TenantConfigError, match=r"alerts.chat_webhooks.team.url: not an http"):
        create_app(settings, tenant)


def test_defaults_without_an_alerts_section() -> None:
    policy = tenant_with({}).alerts
    assert policy == AlertPolicy()
    assert policy.escalation.contact is None and policy.quiet_hours is None
    assert not policy.digest.enabled and policy.cooldown_minutes == 60


def test_a_digest_tells_each_kind_of_alert_as_its_own_notice_does(
    tmp_path: Path, tenant: Tenant
) -> None:
    # A Grafana alert or a red band gathered into a digest is no behaviour pattern: the
    # digest shows what its own notice would, never an empty "What we saw".
    h = harness(tmp_path, tenant)
    h.engine.take_grafana(grafana.parse(grafana_body(client="globex")), h.now)
    h.feed(health(band=Band.red))
    ids = [a["id"] for a in h.engine.listing()]
    with h.engine.store.transaction() as tx:
        alerts = [tx.alert(i) for i in ids]
    zone = ZoneInfo("UTC")
    lead = Recipient(Role.lead, "Alice", ChannelKind.email, "alice@example.com")
    for alert in alerts:
        assert alert is not None
        text = "\n".join(messages.digest_body([(Purpose.opened, alert)], zone, "http://a"))
        own = "\n".join(messages.body(Purpose.opened, alert, [], lead, zone))
        assert own in text, alert.kind
        assert "0 occurrence(s)" not in text and "What we saw: \n" not in text
    kinds = sorted(a.kind.value for a in alerts if a is not None)
    assert kinds == ["band", "grafana"]
