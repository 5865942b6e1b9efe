"""The alerts service's use cases over the store: take in records, acknowledge, tick, and
hand the sender its notices. Decisions are the pure functions of `policy`, `schedule`
and `messages`; this module only reads their inputs from, and writes their outputs to,
the database, each use case in one transaction.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from services.alerts import messages
from services.alerts.grafana import GrafanaAlert
from services.alerts.messages import Message
from services.alerts.model import Alert, AlertKind, AlertState, Purpose, Step
from services.alerts.policy import (
    acknowledge,
    coalesces,
    on_grafana,
    on_health,
    on_signal,
    on_tick,
)
from services.alerts.rows import record_json
from services.alerts.schedule import COOLED, schedule
from services.alerts.store import Notice, Store, Tx, UnreadableRecord
from services.events.outputs import HealthSnapshot, Signal
from services.events.tenant import Tenant

log = logging.getLogger("partnerpulse.alerts")


@dataclass(frozen=True)
class Incoming:
    """One record of `partnerpulse.signals` or `partnerpulse.health`, parsed by the consumer."""

    record: Signal | HealthSnapshot
    timestamp: float  # the record's Kafka timestamp: when the classifier produced it


@dataclass(frozen=True)
class Outgoing:
    notice: Notice
    message: Message


class UnknownAlert(KeyError):
    pass


class Alerting:
    def __init__(
        self,
        store: Store,
        tenant: Tenant,
        *,
        public_url: str,
        mail_domain: str,
        settle: float = 0.0,
    ) -> None:
        self.store = store
        self.tenant = tenant
        self.public_url = public_url
        self.mail_domain = mail_domain
        self.settle = settle

    # -- in ---------------------------------------------------------------------------

    def take_records(self, records: list[Incoming], now: float) -> None:
        """Apply a batch of records in one transaction.

        Signals before health at equal times, so a red band finds the signal that caused it.
        """
        ordered = sorted(records, key=lambda r: (r.timestamp, not isinstance(r.record, Signal)))
        with self.store.transaction() as tx:
            for incoming in ordered:
                try:
                    self._take(tx, incoming, now)
                except UnreadableRecord as exc:
                    # The alert it would update cannot be read back: skip this record rather
                    # than refuse the batch forever (its offset is committed with the rest).
                    log.error("%s skipped: %s", type(incoming.record).__name__, exc)

    def _take(self, tx: Tx, incoming: Incoming, now: float) -> None:
        record = incoming.record
        if record.tenant != self.tenant.tenant:
            return
        if isinstance(record, Signal):
            known = tx.alert_by_key(f"signal:{record.signal_id}")
            told = tx.told(known.id) if known else ()
            step = on_signal(record, known, told, now, self.tenant)
            self._apply(tx, step, now, incoming.timestamp, self.settle)
        else:
            bands = tx.active_alerts(record.client_id, AlertKind.band, strict=True)
            open_band = next(iter(bands), None)
            told = tx.told(open_band.id) if open_band else ()
            seen, step = on_health(
                record, tx.band(record.client_id), open_band, told, now, self.tenant
            )
            if seen is not None:
                tx.save_band(seen)
            self._apply(tx, step, now, incoming.timestamp, self.settle)

    def take_grafana(self, alerts: list[GrafanaAlert], now: float) -> list[str]:
        ids = []
        with self.store.transaction() as tx:
            for alert in alerts:
                try:
                    known = tx.alert_by_key(alert.key)
                except UnreadableRecord as exc:
                    log.error("Grafana alert %s skipped: %s", alert.key, exc)
                    continue
                told = tx.told(known.id) if known else ()
                step = on_grafana(alert, known, told, now, self.tenant)
                self._apply(tx, step, now, now, 0.0)
                found = step.alert if step else known
                if found is not None:
                    ids.append(found.id)
        return ids

    def acknowledge(self, alert_id: str, by: str | None, now: float) -> Alert:
        with self.store.transaction() as tx:
            alert = tx.alert(alert_id)
            if alert is None:
                raise UnknownAlert(alert_id)
            step = acknowledge(alert, now, by)
            self._apply(tx, step, now, now, 0.0)
            if alert.kind is AlertKind.band and alert.client_id:
                # The red-band message listed the client's patterns: acknowledging it
                # acknowledges them.
                for signal in tx.active_alerts(alert.client_id, AlertKind.signal):
                    self._apply(tx, acknowledge(signal, now, by), now, now, 0.0)
            return step.alert if step else alert

    def tick(self, now: float) -> None:
        """Reminders and escalations that came due, and the digests whose time has come."""
        with self.store.transaction() as tx:
            for alert in tx.active_alerts():
                self._apply(tx, on_tick(alert, now, self.tenant), now, now, 0.0)
            for group in tx.digests_due(now):
                first = group[0]
                digest_id = tx.enqueue(
                    None,
                    Purpose.digest,
                    first.recipient,
                    due_at=now,
                    held_until=max(n.held_until for n in group),
                    digest=False,
                    triggered_at=min(n.triggered_at for n in group),
                    now=now,
                )
                tx.carry([n.id for n in group], digest_id)

    def _apply(
        self, tx: Tx, step: Step | None, now: float, triggered_at: float, settle: float
    ) -> None:
        if step is None:
            return
        alert = step.alert
        tx.save_alert(alert)
        tx.supersede(alert.id, step.supersede_pending)
        for intent in step.intents:
            for recipient in intent.recipients:
                if coalesces(intent.purpose, tx.pending_purposes(alert.id, recipient.address)):
                    continue
                last = (
                    tx.last_for_risk(alert.client_id, alert.risk, recipient.address)
                    if intent.purpose in COOLED
                    else None
                )
                slot = schedule(
                    intent.purpose,
                    alert.severity,
                    recipient.role,
                    now,
                    self.tenant.alerts,
                    settle=settle,
                    last_for_risk=last,
                )
                tx.enqueue(
                    alert.id,
                    intent.purpose,
                    recipient,
                    due_at=slot.due_at,
                    held_until=slot.held_until,
                    digest=slot.digest,
                    triggered_at=triggered_at,
                    now=now,
                )

    # -- out --------------------------------------------------------------------------

    def claim(self, now: float, limit: int = 50) -> list[Outgoing]:
        """Notices due now, rendered (once: a retry sends the stored message) and taken."""
        out = []
        with self.store.transaction() as tx:
            for notice in tx.due(now, limit):
                try:
                    message = notice.message or self._render(tx, notice, now)
                except UnreadableRecord as exc:
                    # Nothing true can be written about it: fail this notice, visibly (the API shows
                    # its last_error, the log says why), and go on with the others.
                    log.error("notice %s not sent: %s", notice.id, exc)
                    tx.mark_failed(notice.id, str(exc))
                    continue
                if message is None:
                    continue  # carried by another notice
                tx.take(notice.id, message)
                out.append(Outgoing(notice, message))
        return out

    def _render(self, tx: Tx, notice: Notice, now: float) -> Message | None:
        zone = self.tenant.alerts.zone
        if notice.purpose is Purpose.digest:
            items = []
            for carried in tx.carried_by(notice.id):
                try:
                    alert = tx.alert(carried.alert_id or "")
                except UnreadableRecord as exc:
                    log.error("digest %s: an item left out: %s", notice.id, exc)
                    continue
                if alert is not None:
                    items.append((carried.purpose, alert))
            return Message(
                subject=f"[partnerpulse] Daily digest for {notice.recipient.name}: "
                f"{len(items)} client risk(s)",
                text="\n".join(messages.digest_body(items, zone, self.public_url)),
                reference=f"PP-digest-{notice.id}",
                message_id=f"<digest.{notice.id}@{self.mail_domain}>",
                in_reply_to=None,
                date=now,
            )
        alert = tx.alert(notice.alert_id or "")
        if alert is None:
            return None
        address = notice.recipient.address
        related: list[Alert] = []
        if notice.purpose is Purpose.opened and alert.kind is AlertKind.signal and alert.client_id:
            band_notice = tx.pending_band_opened(alert.client_id, address)
            if band_notice is not None:  # the red-band message will list this signal
                tx.carry([notice.id], band_notice)
                return None
        if alert.kind is AlertKind.band and alert.client_id:
            related = tx.active_alerts(alert.client_id, AlertKind.signal)
            if notice.purpose is Purpose.opened:
                tx.carry(tx.pending_opened([a.id for a in related], address), notice.id)
        client = self.tenant.client(alert.client_id or "")
        lines = messages.body(
            notice.purpose,
            alert,
            related,
            notice.recipient,
            zone,
            lead_name=client.account_lead.name if client else None,
        )
        ack_url = f"{self.public_url}/v1/alerts/{alert.id}/ack"
        root = tx.thread_root(alert.id, address, notice.id)
        in_reply_to = root.message.message_id if root and root.message else None
        return Message(
            subject=messages.subject(notice.purpose, alert, reply=in_reply_to is not None),
            text="\n".join([*lines, *messages.footer(alert, ack_url)]),
            reference=messages.reference(alert.id),
            message_id=f"<{alert.id}.{notice.id}@{self.mail_domain}>",
            in_reply_to=in_reply_to,
            date=now,
        )

    def sent(self, notice: Notice, now: float) -> None:
        with self.store.transaction() as tx:
            tx.mark_sent(notice.id, now)
            told = [notice, *tx.carried_by(notice.id)]
            tx.set_notified(
                [n.alert_id for n in told if n.alert_id and n.purpose is Purpose.opened], now
            )

    def retry(self, notice: Notice, at: float, error: str) -> None:
        with self.store.transaction() as tx:
            tx.mark_retry(notice.id, at, error)

    def failed(self, notice: Notice, error: str) -> None:
        with self.store.transaction() as tx:
            tx.mark_failed(notice.id, error)

    def recover(self) -> int:
        with self.store.transaction() as tx:
            return tx.recover()

    # -- read ---------------------------------------------------------------------------

    def next_due(self) -> float | None:
        with self.store.transaction() as tx:
            return tx.next_due()

    def depth(self, now: float) -> int:
        with self.store.transaction() as tx:
            return tx.depth(now)

    def counts(self) -> dict[str, int]:
        with self.store.transaction() as tx:
            return tx.count_alerts()

    def listing(self, state: AlertState | None = None) -> list[dict[str, Any]]:
        with self.store.transaction() as tx:
            return [
                _view(alert, tx.notices(alert.id))
                for alert in tx.alerts(state.value if state else None)
            ]

    def view(self, alert_id: str) -> dict[str, Any]:
        with self.store.transaction() as tx:
            alert = tx.alert(alert_id)
            if alert is None:
                raise UnknownAlert(alert_id)
            return _view(alert, tx.notices(alert.id))


def _view(alert: Alert, notices: list[Notice]) -> dict[str, Any]:
    return {
        "id": alert.id,
        "reference": messages.reference(alert.id),
        "kind": alert.kind.value,
        "client_id": alert.client_id,
        "client_name": alert.client_name,
        "risk": alert.risk,
        "title": messages.title(alert),
        "severity": alert.severity.value,
        "state": alert.state.value,
        "version": alert.version,
        "routed_to": alert.routed_to.value,
        "opened_at": alert.opened_at,
        "updated_at": alert.updated_at,
        "resolved_at": alert.resolved_at,
        "acknowledged_at": alert.acknowledged_at,
        "acknowledged_by": alert.acknowledged_by,
        "notified_at": alert.notified_at,
        "escalated_at": alert.escalated_at,
        "notifications": [n.summary() for n in notices],
        "record": record_json(alert.record),
    }
