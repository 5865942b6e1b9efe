"""The alerts service's plain data: alerts (one per risk), recipients and notices.

An *alert* is one risk: a behaviour signal's episode, a client's spell in the
red band, or one firing of a Grafana alert rule. Everything said about it
(opened, updated, resolved, reminders, escalation) is a *notice* to one
recipient on one channel, queued in the outbox and threaded onto the alert.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from services.alerts.grafana import GrafanaAlert
from services.events.outputs import HealthSnapshot, Severity, Signal


class AlertKind(StrEnum):
    signal = "signal"  # a behaviour episode (partnerpulse.signals)
    band = "band"  # a client in the red band (partnerpulse.health)
    grafana = "grafana"  # a Grafana alert rule firing (POST /v1/grafana)


class AlertState(StrEnum):
    open = "open"
    acknowledged = "acknowledged"
    resolved = "resolved"


class Purpose(StrEnum):
    opened = "opened"
    updated = "updated"
    resolved = "resolved"
    reminder = "reminder"
    escalation = "escalation"
    digest = "digest"
    report = "report"  # a partnership review (PDF) to the account lead, on its schedule


class ChannelKind(StrEnum):
    email = "email"
    slack = "slack"
    teams = "teams"


class Role(StrEnum):
    lead = "lead"  # the client's account lead
    escalation = "escalation"  # the ops or owner contact


RED_BAND = "red_band"  # the risk name of a client in the red band

# What an alert carries: the latest input about its risk, as the validated type it was
# parsed into at the edge (the Kafka consumer, the Grafana webhook). It becomes JSON only
# at the SQLite store (`rows`) and in the HTTP API's answers.
AlertRecord = Signal | HealthSnapshot | GrafanaAlert

RECORD_TYPES: dict[AlertKind, type[AlertRecord]] = {
    AlertKind.signal: Signal,
    AlertKind.band: HealthSnapshot,
    AlertKind.grafana: GrafanaAlert,
}


@dataclass(frozen=True)
class Recipient:
    """One person on one channel. `address` is an email address or a chat webhook's name."""

    role: Role
    name: str
    channel: ChannelKind
    address: str


@dataclass(frozen=True)
class Alert:
    id: str
    key: str
    kind: AlertKind
    client_id: str | None
    client_name: str | None
    risk: str  # behaviour, RED_BAND or the Grafana rule name: cooldowns are per client and risk
    severity: Severity
    state: AlertState
    version: int
    record: AlertRecord  # the latest Signal, HealthSnapshot or Grafana alert (per `kind`)
    routed_to: Role
    opened_at: float
    updated_at: float
    resolved_at: float | None = None
    acknowledged_at: float | None = None
    acknowledged_by: str | None = None
    notified_at: float | None = None  # when the first message about it reached its recipients
    escalated_at: float | None = None
    reminded_at: float | None = None

    def __post_init__(self) -> None:
        expected = RECORD_TYPES[self.kind]
        if not isinstance(self.record, expected):
            raise TypeError(
                f"a {self.kind.value} alert carries a {expected.__name__}, "
                f"not a {type(self.record).__name__}"
            )

    @property
    def active(self) -> bool:
        return self.state is not AlertState.resolved

    def evolve(self, **changes: Any) -> Alert:
        return replace(self, **changes)


def alert_id(key: str) -> str:
    """A short, stable id: the same risk always gets the same id (and email thread)."""
    return "al-" + hashlib.sha256(key.encode()).hexdigest()[:12]


@dataclass(frozen=True)
class Intent:
    """Tell these recipients this about the alert (scheduling decides when)."""

    purpose: Purpose
    recipients: tuple[Recipient, ...]


@dataclass(frozen=True)
class Step:
    """What one input does: the alert as it now stands, and who must hear of it."""

    alert: Alert
    intents: list[Intent] = field(default_factory=list)
    supersede_pending: tuple[Purpose, ...] = ()  # unsent notices of these purposes are dropped


@dataclass(frozen=True)
class BandSeen:
    """The newest health judgement of a client the service has taken in."""

    client_id: str
    band: str
    as_of: float
    seq: int
