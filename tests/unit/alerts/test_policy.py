"""The alert policy through the engine on a real SQLite store (no broker, no network):
dedup, threading, cooldown, quiet hours, digest, escalation, acknowledgement, resolve."""

from __future__ import annotations

from datetime import UTC, datetime, time
from pathlib import Path

import pytest

from services.alerts.model import Purpose, Role
from services.events.alert_policy import AlertPolicy, Contact, Digest, Escalation, QuietHours
from services.events.outputs import Band, Behaviour, Severity, SignalStatus
from services.events.tenant import Tenant

from .records import NOW, Harness, harness, health, signal

ALICE = "alice.lead@northwind-msp.example"  # lead of acme and vandelay
OPS = "olivia.owner@northwind-msp.example"
MIN = 60.0


def policy(**changes: object) -> AlertPolicy:
    base = {
        "escalation": Escalation(
            contact=Contact(name="Olivia Owner", email=OPS), unacknowledged_after_minutes=240
        ),
        "cooldown_minutes": 60,
    }
    base.update(changes)
    return AlertPolicy.model_validate(base)


@pytest.fixture
def h(tmp_path: Path, tenant: Tenant) -> Harness:
    return harness(tmp_path, tenant, policy(), settle=2.0)


def sent(h: Harness, purpose: Purpose | None = None, to: str | None = None) -> list[str]:
    return [
        m.subject
        for n, m in h.delivered
        if (purpose is None or n.purpose is purpose) and (to is None or n.recipient.address == to)
    ]


def test_one_notice_per_risk_with_client_pattern_evidence_and_action(h: Harness) -> None:
    h.feed(signal(version=1))
    h.feed(signal(version=1))  # a redelivery
    h.run(NOW + 5)
    h.feed(signal(version=1))  # a replay after it went out
    h.run(NOW + 600)
    assert len(h.delivered) == 1
    notice, message = h.delivered[0]
    assert notice.recipient.address == ALICE and notice.purpose is Purpose.opened
    assert message.subject == "[partnerpulse] Acme Dental: requests going straight to technicians"
    text = message.text
    assert "ConnectWise ticket #acme-0" in text and "ConnectWise ticket #acme-1" in text
    assert "ACME-PC1" in text  # the device, from the evidence note
    assert "Mon 02 Mar 2026" in text  # the date of the evidence
    assert "What to do: Call the client's main contact" in text
    assert "http://alerts.test/v1/alerts/" in text and message.reference in text


def test_settle_time_then_delivery(h: Harness) -> None:
    h.feed(signal())
    assert h.run(NOW + 1) == []  # still settling
    assert len(h.run(NOW + 3)) == 1


def test_updates_are_threaded_and_gathered_by_the_cooldown(h: Harness) -> None:
    h.feed(signal(version=1))
    h.run(NOW + 5)
    first = h.delivered[0][1]
    h.now = NOW + 5 * MIN
    h.feed(signal(version=2, evidence=3))
    h.now = NOW + 10 * MIN
    h.feed(signal(version=3, evidence=4))
    assert h.run(NOW + 59 * MIN, step=MIN) == []  # inside the cooldown
    out = h.run(NOW + 62 * MIN, step=MIN)
    assert [n.purpose for n, _ in out] == [Purpose.updated]
    update = out[0][1]
    assert update.in_reply_to == first.message_id != update.message_id
    assert update.subject == "Re: " + first.subject
    assert "ConnectWise ticket #acme-3" in update.text  # the newest evidence, not version 2's
    assert update.reference == first.reference


def test_a_new_episode_of_the_same_risk_waits_for_the_cooldown(h: Harness) -> None:
    h.feed(signal(signal_id="acme:dtt:1"))
    h.run(NOW + 5)
    h.now = NOW + 10 * MIN
    h.feed(signal(signal_id="acme:dtt:1", version=2, status=SignalStatus.resolved))
    h.feed(signal(signal_id="acme:dtt:2"))
    out = h.run(NOW + 11 * MIN)
    assert [n.purpose for n, _ in out] == [Purpose.resolved]
    assert [n.purpose for n, _ in h.run(NOW + 61 * MIN, step=MIN)] == [Purpose.opened]


def test_a_different_risk_is_not_held_by_anothers_cooldown(h: Harness) -> None:
    h.feed(signal())
    h.feed(signal(behaviour=Behaviour.late_reporting, signal_id="acme:late:1"))
    assert len(h.run(NOW + 5)) == 2


def test_resolve_tells_those_told_and_a_withdrawn_unsent_risk_says_nothing(h: Harness) -> None:
    h.feed(signal())
    h.run(NOW + 5)
    h.feed(signal(version=2, status=SignalStatus.resolved))
    out = h.run(NOW + 10)
    assert [n.purpose for n, _ in out] == [Purpose.resolved]
    assert out[0][1].subject.endswith(" - cleared")
    assert "Cleared: no new occurrence since" in out[0][1].text
    assert out[0][1].in_reply_to == h.delivered[0][1].message_id

    h.feed(signal("globex", signal_id="globex:dtt:1"))
    h.feed(signal("globex", signal_id="globex:dtt:1", version=2, status=SignalStatus.withdrawn))
    assert h.run(NOW + 600) == []
    state = {a["id"]: a["state"] for a in h.engine.listing()}
    assert sorted(state.values()) == ["resolved", "resolved"]


def test_red_band_is_one_message_with_every_pattern_and_escalates_at_once(h: Harness) -> None:
    late = signal(behaviour=Behaviour.late_reporting, signal_id="acme:late:1")
    h.feed(signal(), late, health(band=Band.red, score=30))
    out = h.run(NOW + 5)
    to_lead = [(n, m) for n, m in out if n.recipient.address == ALICE]
    assert len(to_lead) == 1, [m.subject for _, m in out]
    message = to_lead[0][1]
    assert message.subject == "[partnerpulse] Acme Dental turned red: health 30.0"
    assert "health is red: 30.0 of 100" in message.text
    assert "Requests going straight to technicians" in message.text
    assert "Problems reported late" in message.text
    assert "ConnectWise ticket #acme-1" in message.text
    assert "Book a call with the client's decision maker" in message.text
    escalations = [(n, m) for n, m in out if n.recipient.address == OPS]
    assert [n.purpose for n, _ in escalations] == [Purpose.escalation]
    assert "Escalated to you because Acme Dental turned red" in escalations[0][1].text
    assert "account lead: Alice Lead" in escalations[0][1].text

    # Acknowledging the red alert acknowledges the patterns it listed.
    band = next(a for a in h.engine.listing() if a["kind"] == "band")
    h.engine.acknowledge(band["id"], "alice", h.now)
    assert {a["state"] for a in h.engine.listing()} == {"acknowledged"}
    h.run(h.now + 600 * MIN, step=10 * MIN)
    assert [n.purpose for n, _ in h.delivered].count(Purpose.escalation) == 1

    # Still red, a day later: nothing new. Back to yellow: both hear it cleared.
    h.now += 3600
    h.feed(health(band=Band.red, score=28, seq=2, day=1))
    assert h.run(h.now + 5) == []
    h.feed(health(band=Band.yellow, score=55, seq=3, day=2))
    cleared = h.run(h.now + 5)
    assert sorted(n.recipient.address for n, _ in cleared) == [ALICE, OPS]
    assert all(n.purpose is Purpose.resolved for n, _ in cleared)
    assert "back to yellow (55.0 of 100)" in cleared[0][1].text


def test_an_older_health_judgement_changes_nothing(h: Harness) -> None:
    h.feed(health(band=Band.red, seq=5, day=3))
    h.feed(health(band=Band.green, score=80, seq=1, day=1))  # a replay from the start
    h.run(NOW + 5)
    assert [a["state"] for a in h.engine.listing()] == ["open"]
    assert len(sent(h, Purpose.opened, ALICE)) == 1


def test_unacknowledged_risk_escalates_after_the_delay(tmp_path: Path, tenant: Tenant) -> None:
    h = harness(tmp_path, tenant, policy(remind_every_minutes=60))
    h.feed(signal())
    h.run(NOW + 239 * MIN, step=MIN)
    assert sent(h, Purpose.escalation) == []
    assert len(sent(h, Purpose.reminder, ALICE)) == 3  # at 60, 120 and 180 minutes
    h.run(NOW + 241 * MIN, step=MIN)
    assert len(sent(h, Purpose.escalation, OPS)) == 1
    escalation = next(m for n, m in h.delivered if n.purpose is Purpose.escalation)
    assert "Escalated to you because nobody acknowledged it since" in escalation.text
    h.run(NOW + 600 * MIN, step=10 * MIN)
    assert len(sent(h, Purpose.escalation)) == 1  # once


def test_acknowledging_stops_reminders_and_escalation(tmp_path: Path, tenant: Tenant) -> None:
    h = harness(tmp_path, tenant, policy(remind_every_minutes=60))
    h.feed(signal())
    h.run(NOW + 61 * MIN, step=MIN)
    assert len(sent(h, Purpose.reminder)) == 1
    alert_id = h.engine.listing()[0]["id"]
    acked = h.engine.acknowledge(alert_id, "alice", h.now)
    assert acked.state.value == "acknowledged" and acked.acknowledged_by == "alice"
    h.run(NOW + 24 * 60 * MIN, step=10 * MIN)
    assert len(sent(h, Purpose.reminder)) == 1
    assert sent(h, Purpose.escalation) == []
    # Updates and the resolve still reach the lead.
    h.feed(signal(version=2, evidence=3), signal(version=3, status=SignalStatus.resolved))
    h.run(h.now + 10)
    assert [n.purpose for n, _ in h.delivered][-1] is Purpose.resolved


def test_quiet_hours_hold_notices_until_they_end(tmp_path: Path, tenant: Tenant) -> None:
    quiet = QuietHours(start=time(20, 0), end=time(7, 0), hold_escalations=False)
    h = harness(tmp_path, tenant, policy(quiet_hours=quiet, timezone="Europe/London"))
    h.now = datetime(2026, 3, 2, 22, 0, tzinfo=UTC).timestamp()
    morning = datetime(2026, 3, 3, 7, 0, tzinfo=UTC).timestamp()
    h.feed(signal("globex", signal_id="globex:dtt:1"), health(band=Band.red))
    out = h.run(h.now + 60)
    assert [(n.purpose, n.recipient.address) for n, _ in out] == [(Purpose.escalation, OPS)]
    assert h.run(morning - 60, step=600) == []
    later = h.run(morning + 60, step=30)
    assert sorted(m.subject for _, m in later) == [
        "[partnerpulse] Acme Dental turned red: health 30.0",
        "[partnerpulse] Globex Logistics: requests going straight to technicians",
    ]


def test_the_digest_gathers_lesser_risks_into_one_message(tmp_path: Path, tenant: Tenant) -> None:
    digest = Digest(enabled=True, at=time(8, 0))
    h = harness(tmp_path, tenant, policy(digest=digest, escalation=Escalation()))
    h.feed(
        signal("acme"),
        signal("vandelay", Behaviour.skipped_meeting, signal_id="vandelay:skip:1"),
        signal("globex", Behaviour.unannounced_change, signal_id="g:1", severity=Severity.critical),
    )
    out = h.run(NOW + 60)
    assert [m.subject for _, m in out] == [
        "[partnerpulse] Globex Logistics: changes made without telling us"
    ]  # critical: at once
    assert h.run(NOW + 21 * 3600, step=1800) == []
    digest = h.run(NOW + 23 * 3600, step=1800)  # 08:00 the next day
    assert [n.purpose for n, _ in digest] == [Purpose.digest]
    notice, message = digest[0]
    assert notice.recipient.address == ALICE
    assert message.subject == "[partnerpulse] Daily digest for Alice Lead: 2 client risk(s)"
    assert "NEW: Acme Dental: requests going straight to technicians" in message.text
    assert "NEW: vandelay: skipped meetings and reviews" in message.text
    # Those told through the digest are told: the risk's reminders and resolve follow.
    acme = next(a for a in h.engine.listing() if a["client_id"] == "acme")
    assert acme["notified_at"] is not None


def test_routing_uses_the_clients_and_leads_channels(tenant: Tenant) -> None:
    from services.alerts.routing import escalation_recipients, lead_recipients

    assert [(r.channel.value, r.address) for r in lead_recipients(tenant, "globex")] == [
        ("email", "bob.lead@northwind-msp.example"),
        ("slack", "leads-slack"),
    ]
    assert [(r.channel.value, r.address) for r in lead_recipients(tenant, "vandelay")] == [
        ("email", ALICE)
    ]
    assert [(r.role, r.channel.value) for r in escalation_recipients(tenant)] == [
        (Role.escalation, "email"),
        (Role.escalation, "teams"),
    ]
    assert lead_recipients(tenant, "no-such-client") == ()
