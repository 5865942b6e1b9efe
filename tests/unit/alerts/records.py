"""Signal and HealthSnapshot records as the classifier publishes them, and an engine harness."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from services.alerts.engine import Alerting, Incoming
from services.alerts.messages import Message
from services.alerts.store import Notice, Store
from services.events.alert_policy import AlertPolicy
from services.events.outputs import (
    Band,
    Behaviour,
    Evidence,
    HealthSnapshot,
    Severity,
    Signal,
    SignalStatus,
)
from services.events.tenant import Tenant

TENANT = "northwind-msp"
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
# A Monday, 10:00 in London (UTC in March): outside any quiet hours used below.
NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC).timestamp()


def signal(
    client: str = "acme",
    behaviour: Behaviour = Behaviour.direct_to_tech,
    *,
    version: int = 1,
    status: SignalStatus = SignalStatus.open,
    severity: Severity = Severity.warning,
    evidence: int = 2,
    signal_id: str | None = None,
) -> Signal:
    items = [
        Evidence(
            ref=f"connectwise:ticket:{client}-{i}",
            at=T0 + timedelta(days=i),
            note=f"entered by technician Sam Tech on device {client.upper()}-PC{i}",
        )
        for i in range(evidence)
    ]
    return Signal(
        tenant=TENANT,
        client_id=client,
        client_name={"acme": "Acme Dental", "globex": "Globex Logistics"}.get(client),
        signal_id=signal_id or f"{client}:{behaviour.value}:1",
        version=version,
        behaviour=behaviour,
        severity=severity,
        status=status,
        explanation=f"{evidence} requests went straight to a technician in 30 days.",
        evidence=items,
        evidence_count=evidence,
        first_seen_at=T0,
        last_seen_at=T0 + timedelta(days=max(evidence - 1, 0)),
        detected_at=T0,
    )


def health(
    client: str = "acme",
    band: Band = Band.red,
    *,
    score: float = 30.0,
    seq: int = 1,
    day: int = 0,
    components: dict[str, float] | None = None,
) -> HealthSnapshot:
    return HealthSnapshot(
        tenant=TENANT,
        client_id=client,
        client_name="Acme Dental" if client == "acme" else None,
        as_of=T0 + timedelta(days=day),
        seq=seq,
        score=score,
        band=band,
        components=components or {"direct_to_tech": 35.0, "late_reporting": 35.0},
        baseline_score=72.0,
        change=score - 72.0,
        endpoints=40,
        windows={},
    )


def incoming(record: Signal | HealthSnapshot, at: float = NOW) -> Incoming:
    """The record as the consumer hands it on: parsed from the classifier's JSON."""
    model = Signal if isinstance(record, Signal) else HealthSnapshot
    return Incoming(model.model_validate_json(record.model_dump_json()), at)


@dataclass
class Harness:
    """The engine on a real SQLite store, a settable clock, and a perfect channel."""

    engine: Alerting
    now: float = NOW
    delivered: list[tuple[Notice, Message]] = field(default_factory=list)

    def feed(self, *records: Signal | HealthSnapshot) -> None:
        self.engine.take_records([incoming(r, self.now) for r in records], self.now)

    def run(self, until: float | None = None, step: float = 1.0) -> list[tuple[Notice, Message]]:
        """Advance the clock to `until` (default: now) in steps, delivering what is due."""
        end = self.now if until is None else until
        out: list[tuple[Notice, Message]] = []
        while True:
            self.engine.tick(self.now)
            for outgoing in self.engine.claim(self.now):
                self.engine.sent(outgoing.notice, self.now)
                out.append((outgoing.notice, outgoing.message))
            if self.now >= end:
                break
            self.now = min(end, self.now + step)
        self.delivered += out
        return out


def harness(
    tmp_path: Path, tenant: Tenant, policy: AlertPolicy | None = None, **kw: Any
) -> Harness:
    if policy is not None:
        tenant = tenant.model_copy(update={"alerts": policy})
    engine = Alerting(
        Store(tmp_path / "alerts.sqlite3"),
        tenant,
        public_url="http://alerts.test",
        mail_domain="northwind-msp.example",
        **kw,
    )
    return Harness(engine)
