"""What each input means for the alerts (pure): dedup, updates, resolve, escalate, remind.

- One alert per risk: a signal episode (`signal_id`), a client's spell in red,
  a Grafana alert firing (fingerprint and start). A record already taken in
  (same or older signal version, older health judgement, a repeated Grafana
  notification) changes nothing: replays and redeliveries are harmless.
- New evidence on an open risk is an *update*, told to those already told,
  threaded onto the first message (scheduling gathers updates in a cooldown).
- A risk that clears (signal resolved or withdrawn, band back from red,
  Grafana resolved) is *resolved*: those told hear so; unsent notices about
  it are dropped.
- A client turning red is told to its lead and escalated at once to the ops
  contact (`escalation.on_red`); any risk left unacknowledged past
  `escalation.unacknowledged_after_minutes` is escalated; reminders repeat every
  `remind_every_minutes`. Acknowledging stops both.
"""

from __future__ import annotations

from services.alerts.grafana import GrafanaAlert
from services.alerts.model import (
    RED_BAND,
    Alert,
    AlertKind,
    AlertRecord,
    AlertState,
    BandSeen,
    Intent,
    Purpose,
    Recipient,
    Role,
    Step,
    alert_id,
)
from services.alerts.routing import escalation_recipients, recipients_for
from services.events.outputs import Band, HealthSnapshot, Severity, Signal, SignalStatus
from services.events.tenant import Tenant

UNSENT_ON_RESOLVE = (Purpose.opened, Purpose.updated, Purpose.reminder, Purpose.escalation)
UNSENT_ON_ACK = (Purpose.reminder, Purpose.escalation)


def _new_alert(
    key: str,
    kind: AlertKind,
    client_id: str | None,
    client_name: str | None,
    risk: str,
    severity: Severity,
    version: int,
    record: AlertRecord,
    routed_to: Role,
    now: float,
) -> Alert:
    return Alert(
        id=alert_id(key),
        key=key,
        kind=kind,
        client_id=client_id,
        client_name=client_name,
        risk=risk,
        severity=severity,
        state=AlertState.open,
        version=version,
        record=record,
        routed_to=routed_to,
        opened_at=now,
        updated_at=now,
    )


def _opened(alert: Alert, tenant: Tenant) -> list[Intent]:
    recipients = recipients_for(tenant, alert.routed_to, alert.client_id)
    return [Intent(Purpose.opened, recipients)] if recipients else []


def _resolved(alert: Alert, told: tuple[Recipient, ...], now: float) -> Step:
    resolved = alert.evolve(state=AlertState.resolved, resolved_at=now, updated_at=now)
    intents = [Intent(Purpose.resolved, told)] if told else []
    return Step(resolved, intents, supersede_pending=UNSENT_ON_RESOLVE)


def on_signal(
    signal: Signal, known: Alert | None, told: tuple[Recipient, ...], now: float, tenant: Tenant
) -> Step | None:
    if known is not None and signal.version <= known.version:
        return None  # a redelivery, or older than what we hold
    open_now = signal.status is SignalStatus.open
    if known is None:
        alert = _new_alert(
            f"signal:{signal.signal_id}",
            AlertKind.signal,
            signal.client_id,
            signal.client_name,
            signal.behaviour.value,
            signal.severity,
            signal.version,
            signal,
            Role.lead,
            now,
        )
        if not open_now:  # resolved or withdrawn before anyone heard of it
            return Step(alert.evolve(state=AlertState.resolved, resolved_at=now))
        return Step(alert, _opened(alert, tenant))
    updated = known.evolve(
        version=signal.version,
        record=signal,
        severity=signal.severity,
        client_name=signal.client_name or known.client_name,
        updated_at=now,
    )
    if not open_now:
        return _resolved(updated, told, now) if known.active else Step(updated)
    if not known.active:  # the episode came back: a fresh start on the same thread
        reopened = updated.evolve(
            state=AlertState.open,
            resolved_at=None,
            acknowledged_at=None,
            acknowledged_by=None,
            escalated_at=None,
            reminded_at=None,
            notified_at=None,
            opened_at=now,
        )
        return Step(reopened, _opened(reopened, tenant))
    return Step(updated, [Intent(Purpose.updated, told)] if told else [])


def on_health(
    snapshot: HealthSnapshot,
    seen: BandSeen | None,
    open_band: Alert | None,
    told: tuple[Recipient, ...],
    now: float,
    tenant: Tenant,
) -> tuple[BandSeen | None, Step | None]:
    """The newest judgement per client wins (by `as_of`, then `seq`); red opens a band alert."""
    as_of = snapshot.as_of.timestamp()
    if seen is not None and (as_of, snapshot.seq) <= (seen.as_of, seen.seq):
        return None, None
    fresh = BandSeen(snapshot.client_id, snapshot.band.value, as_of, snapshot.seq)
    if snapshot.band is Band.red:
        if open_band is not None:  # still red: keep the figures current, say nothing new
            return fresh, Step(open_band.evolve(version=snapshot.seq, record=snapshot))
        alert = _new_alert(
            f"band:{snapshot.client_id}:{snapshot.as_of.isoformat()}",
            AlertKind.band,
            snapshot.client_id,
            snapshot.client_name,
            RED_BAND,
            Severity.critical,
            snapshot.seq,
            snapshot,
            Role.lead,
            now,
        )
        intents = _opened(alert, tenant)
        escalate = escalation_recipients(tenant) if tenant.alerts.escalation.on_red else ()
        if escalate:
            intents.append(Intent(Purpose.escalation, escalate))
            alert = alert.evolve(escalated_at=now)
        return fresh, Step(alert, intents)
    if open_band is not None:
        back = open_band.evolve(version=snapshot.seq, record=snapshot)
        return fresh, _resolved(back, told, now)
    return fresh, None


def grafana_severity(alert: GrafanaAlert) -> Severity:
    value = alert.labels.get("severity", "").lower()
    if value in ("critical", "page", "high", "error"):
        return Severity.critical
    if value in ("info", "none", "low"):
        return Severity.info
    return Severity.warning


def on_grafana(
    alert: GrafanaAlert,
    known: Alert | None,
    told: tuple[Recipient, ...],
    now: float,
    tenant: Tenant,
) -> Step | None:
    """A Grafana alert for a tenant client (label `client`) goes to its lead, else to ops."""
    firing = alert.status == "firing"
    if known is None:
        if not firing:
            return None  # resolved before we heard it fire: nothing to say
        client = tenant.client(alert.labels.get("client", ""))
        new = _new_alert(
            alert.key,
            AlertKind.grafana,
            client.id if client else None,
            client.name if client else None,
            alert.name,
            grafana_severity(alert),
            1,
            alert,
            Role.lead if client else Role.escalation,
            now,
        )
        return Step(new, _opened(new, tenant))
    if firing or not known.active:
        return None  # Grafana repeats a firing alert; a second resolve says nothing new
    resolved = known.evolve(version=known.version + 1, record=alert)
    return _resolved(resolved, told, now)


def acknowledge(alert: Alert, now: float, by: str | None) -> Step | None:
    if alert.state is not AlertState.open:
        return None
    acked = alert.evolve(
        state=AlertState.acknowledged, acknowledged_at=now, acknowledged_by=by, updated_at=now
    )
    return Step(acked, supersede_pending=UNSENT_ON_ACK)


def on_tick(alert: Alert, now: float, tenant: Tenant) -> Step | None:
    """Escalate or remind about an open, unacknowledged risk whose recipients were told."""
    if alert.state is not AlertState.open or alert.notified_at is None:
        return None
    policy = tenant.alerts
    intents: list[Intent] = []
    changed = alert
    after = policy.escalation.unacknowledged_after_minutes
    if (
        after is not None
        and alert.routed_to is Role.lead
        and alert.escalated_at is None
        and now - alert.notified_at >= after * 60
    ):
        recipients = escalation_recipients(tenant)
        if recipients:
            intents.append(Intent(Purpose.escalation, recipients))
            changed = changed.evolve(escalated_at=now)
    every = policy.remind_every_minutes
    if every is not None and now - max(alert.notified_at, alert.reminded_at or 0) >= every * 60:
        recipients = recipients_for(tenant, alert.routed_to, alert.client_id)
        if recipients:
            intents.append(Intent(Purpose.reminder, recipients))
            changed = changed.evolve(reminded_at=now)
    return Step(changed, intents) if intents else None


def coalesces(purpose: Purpose, pending: set[Purpose]) -> bool:
    """Whether an unsent notice to the same recipient already says this (it is rendered
    when it goes out, so it carries the newest evidence)."""
    covering = {
        Purpose.opened: {Purpose.opened},
        Purpose.updated: {Purpose.opened, Purpose.updated},
        Purpose.reminder: {Purpose.opened, Purpose.updated, Purpose.reminder},
        Purpose.escalation: {Purpose.escalation},
    }.get(purpose, set())
    return bool(covering & pending)
