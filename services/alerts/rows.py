"""The alerts database's rows as plain data: `Notice` (one outbox row) and alerts.

An alert's record is stored as JSON (a Signal or HealthSnapshot as the classifier
publishes it, a Grafana alert in Grafana's words) and read back into its type here,
by the alert's kind: the store is where the typed record becomes text and back.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from services.alerts.grafana import GrafanaAlert
from services.alerts.messages import Message
from services.alerts.model import (
    Alert,
    AlertKind,
    AlertRecord,
    AlertState,
    ChannelKind,
    Purpose,
    Recipient,
    Role,
)
from services.events.outputs import HealthSnapshot, Severity, Signal

TOLD = ("sending", "sent", "carried")  # the recipient heard, or is hearing, of the alert
ALERT_COLUMNS = (
    "id key kind client_id client_name risk severity state version record routed_to opened_at "
    "updated_at resolved_at acknowledged_at acknowledged_by notified_at escalated_at reminded_at"
).split()


@dataclass(frozen=True)
class Notice:
    """One outbox row."""

    id: int
    alert_id: str | None
    purpose: Purpose
    recipient: Recipient
    state: str
    digest: bool
    due_at: float
    held_until: float
    next_attempt_at: float
    attempts: int
    created_at: float
    triggered_at: float
    message: Message | None  # rendered when first taken; a retry sends it again
    carrier_id: int | None
    sent_at: float | None
    last_error: str | None

    def summary(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "purpose": self.purpose.value,
            "recipient": self.recipient.name,
            "role": self.recipient.role.value,
            "channel": self.recipient.channel.value,
            "address": self.recipient.address,
            "state": self.state,
            "due_at": self.due_at,
            "attempts": self.attempts,
            "sent_at": self.sent_at,
            "last_error": self.last_error,
        }


class UnreadableRecord(ValueError):
    """An alert row whose stored record is not the type its kind says (an edited or damaged
    database, or a record written under an incompatible contract)."""

    def __init__(self, alert_id: str, kind: str, reason: str) -> None:
        super().__init__(f"alert {alert_id}: its stored {kind} record cannot be read: {reason}")
        self.alert_id = alert_id


def record_json(record: AlertRecord) -> dict[str, Any]:
    """The record as JSON: the classifier's JSON of a Signal or HealthSnapshot, Grafana's
    of an alert (the stored form, and the `record` of the API's answers)."""
    if isinstance(record, GrafanaAlert):
        return record.to_json()
    return record.model_dump(mode="json")


def record_of(kind: AlertKind, text: str) -> AlertRecord:
    """Raises ValueError (a pydantic ValidationError, GrafanaRejected or JSONDecodeError)."""
    if kind is AlertKind.signal:
        return Signal.model_validate_json(text)
    if kind is AlertKind.band:
        return HealthSnapshot.model_validate_json(text)
    return GrafanaAlert.from_json(json.loads(text))


def _reason(exc: ValueError) -> str:
    if isinstance(exc, ValidationError) and exc.errors():
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "record"
        return f"{where}: {first['msg']}"
    return str(exc)  # GrafanaRejected and JSONDecodeError say what and where


def alert_of(row: sqlite3.Row) -> Alert:
    """Raises UnreadableRecord if the kind or the record does not read."""
    try:
        kind = AlertKind(row["kind"])
        record = record_of(kind, row["record"])
    except ValueError as exc:
        raise UnreadableRecord(row["id"], str(row["kind"]), _reason(exc)) from exc
    return Alert(
        id=row["id"],
        key=row["key"],
        kind=kind,
        client_id=row["client_id"],
        client_name=row["client_name"],
        risk=row["risk"],
        severity=Severity(row["severity"]),
        state=AlertState(row["state"]),
        version=row["version"],
        record=record,
        routed_to=Role(row["routed_to"]),
        opened_at=row["opened_at"],
        updated_at=row["updated_at"],
        resolved_at=row["resolved_at"],
        acknowledged_at=row["acknowledged_at"],
        acknowledged_by=row["acknowledged_by"],
        notified_at=row["notified_at"],
        escalated_at=row["escalated_at"],
        reminded_at=row["reminded_at"],
    )


def notice_of(row: sqlite3.Row) -> Notice:
    return Notice(
        id=row["id"],
        alert_id=row["alert_id"],
        purpose=Purpose(row["purpose"]),
        recipient=Recipient(
            Role(row["role"]), row["recipient"], ChannelKind(row["channel"]), row["address"]
        ),
        state=row["state"],
        digest=bool(row["digest"]),
        due_at=row["due_at"],
        held_until=row["held_until"],
        next_attempt_at=row["next_attempt_at"],
        attempts=row["attempts"],
        created_at=row["created_at"],
        triggered_at=row["triggered_at"],
        message=Message.from_json(json.loads(row["message"])) if row["message"] else None,
        carrier_id=row["carrier_id"],
        sent_at=row["sent_at"],
        last_error=row["last_error"],
    )
