"""The alerts database: alerts, the newest band per client, and the outbox (SQLite WAL).

One file, `synchronous=FULL`, so a notice is on disk before the Kafka offset
of the record that caused it is committed, and a sent mark is on disk before
the next notice goes out. Every call runs in one transaction under one lock:
the consumer, the sender and the API share the connection.

Outbox states:

- pending: waiting for `due_at` (settle, cooldown, quiet hours) or its next
  attempt; with `digest = 1`, waiting for the daily digest;
- sending: taken by the sender; if the process dies now, pending again at start;
- sent: delivered (the SMTP server or the chat webhook said yes);
- carried: its content went out in another notice (`carrier_id`): a digest, or
  a red-band message that lists the signal;
- superseded: dropped unsent, the risk cleared or was acknowledged first;
- failed: refused for good (a permanent SMTP or HTTP error), see `last_error`.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from services.alerts.model import (
    Alert,
    AlertKind,
    AlertState,
    BandSeen,
    ChannelKind,
    Purpose,
    Recipient,
    Role,
)
from services.events.outputs import Severity

_SCHEMA = """
CREATE TABLE IF NOT EXISTS alerts (
    id               TEXT PRIMARY KEY,
    key              TEXT NOT NULL UNIQUE,
    kind             TEXT NOT NULL,
    client_id        TEXT,
    client_name      TEXT,
    risk             TEXT NOT NULL,
    severity         TEXT NOT NULL,
    state            TEXT NOT NULL,
    version          INTEGER NOT NULL,
    record           TEXT NOT NULL,
    routed_to        TEXT NOT NULL,
    opened_at        REAL NOT NULL,
    updated_at       REAL NOT NULL,
    resolved_at      REAL,
    acknowledged_at  REAL,
    acknowledged_by  TEXT,
    notified_at      REAL,
    escalated_at     REAL,
    reminded_at      REAL
);
CREATE INDEX IF NOT EXISTS alerts_active ON alerts (client_id, kind) WHERE state != 'resolved';
CREATE TABLE IF NOT EXISTS bands (
    client_id  TEXT PRIMARY KEY,
    band       TEXT NOT NULL,
    as_of      REAL NOT NULL,
    seq        INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS outbox (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    alert_id         TEXT,
    purpose          TEXT NOT NULL,
    role             TEXT NOT NULL,
    recipient        TEXT NOT NULL,
    channel          TEXT NOT NULL,
    address          TEXT NOT NULL,
    state            TEXT NOT NULL DEFAULT 'pending',
    digest           INTEGER NOT NULL DEFAULT 0,
    due_at           REAL NOT NULL,
    held_until       REAL NOT NULL DEFAULT 0,
    next_attempt_at  REAL NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    created_at       REAL NOT NULL,
    triggered_at     REAL NOT NULL,
    message          TEXT,
    carrier_id       INTEGER,
    sent_at          REAL,
    last_error       TEXT
);
CREATE INDEX IF NOT EXISTS outbox_waiting ON outbox (next_attempt_at) WHERE state = 'pending';
CREATE INDEX IF NOT EXISTS outbox_by_alert ON outbox (alert_id, address);
"""

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
    message: dict[str, Any] | None
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


def _alert(row: sqlite3.Row) -> Alert:
    return Alert(
        id=row["id"],
        key=row["key"],
        kind=AlertKind(row["kind"]),
        client_id=row["client_id"],
        client_name=row["client_name"],
        risk=row["risk"],
        severity=Severity(row["severity"]),
        state=AlertState(row["state"]),
        version=row["version"],
        record=json.loads(row["record"]),
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


def _notice(row: sqlite3.Row) -> Notice:
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
        message=json.loads(row["message"]) if row["message"] else None,
        carrier_id=row["carrier_id"],
        sent_at=row["sent_at"],
        last_error=row["last_error"],
    )


class Tx:
    """The queries of one transaction (only valid inside `Store.transaction()`)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    # -- alerts -------------------------------------------------------------------

    def alert(self, alert_id: str) -> Alert | None:
        row = self.conn.execute("SELECT * FROM alerts WHERE id = ?", (alert_id,)).fetchone()
        return _alert(row) if row else None

    def alert_by_key(self, key: str) -> Alert | None:
        row = self.conn.execute("SELECT * FROM alerts WHERE key = ?", (key,)).fetchone()
        return _alert(row) if row else None

    def active_alerts(
        self, client_id: str | None = None, kind: AlertKind | None = None
    ) -> list[Alert]:
        query, args = "SELECT * FROM alerts WHERE state != 'resolved'", []
        if client_id is not None:
            query += " AND client_id = ?"
            args.append(client_id)
        if kind is not None:
            query += " AND kind = ?"
            args.append(kind.value)
        return [_alert(r) for r in self.conn.execute(query + " ORDER BY opened_at", args)]

    def alerts(self, state: str | None = None, limit: int = 500) -> list[Alert]:
        query, args = "SELECT * FROM alerts", list[object]()
        if state:
            query += " WHERE state = ?"
            args.append(state)
        query += " ORDER BY updated_at DESC LIMIT ?"
        args.append(limit)
        return [_alert(r) for r in self.conn.execute(query, args)]

    def save_alert(self, alert: Alert) -> None:
        values = {name: getattr(alert, name) for name in ALERT_COLUMNS}
        values["record"] = json.dumps(alert.record)
        for name in ("kind", "severity", "state", "routed_to"):
            values[name] = values[name].value
        columns = ", ".join(ALERT_COLUMNS)
        marks = ", ".join("?" * len(ALERT_COLUMNS))
        updates = ", ".join(f"{c} = excluded.{c}" for c in ALERT_COLUMNS if c != "id")
        self.conn.execute(
            f"INSERT INTO alerts ({columns}) VALUES ({marks}) ON CONFLICT (id) DO UPDATE SET "
            + updates,
            [values[c] for c in ALERT_COLUMNS],
        )

    def count_alerts(self) -> dict[str, int]:
        return dict(self.conn.execute("SELECT state, COUNT(*) FROM alerts GROUP BY state"))

    # -- bands ----------------------------------------------------------------------

    def band(self, client_id: str) -> BandSeen | None:
        row = self.conn.execute("SELECT * FROM bands WHERE client_id = ?", (client_id,)).fetchone()
        return BandSeen(row["client_id"], row["band"], row["as_of"], row["seq"]) if row else None

    def save_band(self, seen: BandSeen) -> None:
        self.conn.execute(
            "INSERT INTO bands (client_id, band, as_of, seq) VALUES (?, ?, ?, ?) ON CONFLICT "
            "(client_id) DO UPDATE SET band = excluded.band, as_of = excluded.as_of, "
            "seq = excluded.seq",
            (seen.client_id, seen.band, seen.as_of, seen.seq),
        )

    # -- outbox ---------------------------------------------------------------------

    def told(self, alert_id: str) -> tuple[Recipient, ...]:
        rows = self.conn.execute(
            "SELECT role, recipient, channel, address FROM outbox WHERE alert_id = ? "
            f"AND state IN ({','.join('?' * len(TOLD))}) "
            "GROUP BY role, recipient, channel, address ORDER BY MIN(id)",
            (alert_id, *TOLD),
        ).fetchall()
        return tuple(
            Recipient(Role(r["role"]), r["recipient"], ChannelKind(r["channel"]), r["address"])
            for r in rows
        )

    def pending_purposes(self, alert_id: str, address: str) -> set[Purpose]:
        return {
            Purpose(p)
            for (p,) in self.conn.execute(
                "SELECT purpose FROM outbox WHERE alert_id = ? AND address = ? "
                "AND state = 'pending'",
                (alert_id, address),
            )
        }

    def last_for_risk(self, client_id: str | None, risk: str, address: str) -> float | None:
        """When `address` was last told, or is due to be told, of this client and risk."""
        (value,) = self.conn.execute(
            "SELECT MAX(COALESCE(o.sent_at, o.due_at)) FROM outbox o JOIN alerts a "
            "ON a.id = o.alert_id WHERE a.client_id IS ? AND a.risk = ? AND o.address = ? "
            "AND o.purpose IN ('opened', 'updated') AND o.state IN "
            "('pending', 'sending', 'sent', 'carried')",
            (client_id, risk, address),
        ).fetchone()
        return float(value) if value is not None else None

    def enqueue(
        self,
        alert_id: str | None,
        purpose: Purpose,
        recipient: Recipient,
        *,
        due_at: float,
        held_until: float,
        digest: bool,
        triggered_at: float,
        now: float,
    ) -> int:
        cur = self.conn.execute(
            "INSERT INTO outbox (alert_id, purpose, role, recipient, channel, address, digest, "
            "due_at, held_until, next_attempt_at, created_at, triggered_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                alert_id,
                purpose.value,
                recipient.role.value,
                recipient.name,
                recipient.channel.value,
                recipient.address,
                int(digest),
                due_at,
                held_until,
                due_at,
                now,
                triggered_at,
            ),
        )
        return int(cur.lastrowid or 0)

    def supersede(self, alert_id: str, purposes: tuple[Purpose, ...]) -> int:
        """Drop unsent notices; what they carried (signals of a red band) is pending again."""
        if not purposes:
            return 0
        ids = [
            int(i)
            for (i,) in self.conn.execute(
                "SELECT id FROM outbox WHERE alert_id = ? AND state = 'pending' "
                f"AND purpose IN ({','.join('?' * len(purposes))})",
                (alert_id, *(p.value for p in purposes)),
            )
        ]
        for notice_id in ids:
            self.conn.execute("UPDATE outbox SET state = 'superseded' WHERE id = ?", (notice_id,))
            self.conn.execute(
                "UPDATE outbox SET state = 'pending', carrier_id = NULL "
                "WHERE carrier_id = ? AND state = 'carried'",
                (notice_id,),
            )
        return len(ids)

    def notices(self, alert_id: str) -> list[Notice]:
        return [
            _notice(r)
            for r in self.conn.execute(
                "SELECT * FROM outbox WHERE alert_id = ? ORDER BY id", (alert_id,)
            )
        ]

    def due(self, now: float, limit: int) -> list[Notice]:
        return [
            _notice(r)
            for r in self.conn.execute(
                "SELECT * FROM outbox WHERE state = 'pending' AND digest = 0 "
                "AND next_attempt_at <= ? ORDER BY next_attempt_at, id LIMIT ?",
                (now, limit),
            )
        ]

    def next_due(self) -> float | None:
        (value,) = self.conn.execute(
            "SELECT MIN(next_attempt_at) FROM outbox WHERE state = 'pending' AND digest = 0"
        ).fetchone()
        return float(value) if value is not None else None

    def pending_band_opened(self, client_id: str, address: str) -> int | None:
        row = self.conn.execute(
            "SELECT o.id FROM outbox o JOIN alerts a ON a.id = o.alert_id WHERE a.client_id = ? "
            "AND a.kind = 'band' AND o.purpose = 'opened' AND o.address = ? "
            "AND o.state = 'pending' ORDER BY o.id LIMIT 1",
            (client_id, address),
        ).fetchone()
        return int(row[0]) if row else None

    def pending_opened(self, alert_ids: list[str], address: str) -> list[int]:
        if not alert_ids:
            return []
        return [
            int(i)
            for (i,) in self.conn.execute(
                "SELECT id FROM outbox WHERE purpose = 'opened' AND state = 'pending' "
                f"AND address = ? AND alert_id IN ({','.join('?' * len(alert_ids))})",
                (address, *alert_ids),
            )
        ]

    def carry(self, notice_ids: list[int], carrier_id: int) -> None:
        for notice_id in notice_ids:
            self.conn.execute(
                "UPDATE outbox SET state = 'carried', carrier_id = ? WHERE id = ?",
                (carrier_id, notice_id),
            )

    def carried_by(self, carrier_id: int) -> list[Notice]:
        return [
            _notice(r)
            for r in self.conn.execute(
                "SELECT * FROM outbox WHERE carrier_id = ? ORDER BY id", (carrier_id,)
            )
        ]

    def digests_due(self, now: float) -> list[list[Notice]]:
        """Notices waiting for a digest that is due, grouped per recipient and channel."""
        groups: dict[tuple[str, str], list[Notice]] = {}
        for r in self.conn.execute(
            "SELECT * FROM outbox WHERE state = 'pending' AND digest = 1 AND due_at <= ? "
            "ORDER BY id",
            (now,),
        ):
            notice = _notice(r)
            groups.setdefault((notice.recipient.channel, notice.recipient.address), []).append(
                notice
            )
        return list(groups.values())

    def thread_root(self, alert_id: str, address: str, before: int) -> Notice | None:
        """The first notice about this alert to this address that went (or is going) out."""
        row = self.conn.execute(
            "SELECT * FROM outbox WHERE alert_id = ? AND address = ? AND id < ? "
            "AND message IS NOT NULL AND state IN ('sending', 'sent') ORDER BY id LIMIT 1",
            (alert_id, address, before),
        ).fetchone()
        return _notice(row) if row else None

    def take(self, notice_id: int, message: dict[str, Any]) -> None:
        self.conn.execute(
            "UPDATE outbox SET state = 'sending', message = ?, attempts = attempts + 1 "
            "WHERE id = ?",
            (json.dumps(message), notice_id),
        )

    def mark_sent(self, notice_id: int, now: float) -> None:
        self.conn.execute(
            "UPDATE outbox SET state = 'sent', sent_at = ?, last_error = NULL WHERE id = ?",
            (now, notice_id),
        )

    def mark_retry(self, notice_id: int, next_attempt_at: float, error: str) -> None:
        self.conn.execute(
            "UPDATE outbox SET state = 'pending', next_attempt_at = ?, last_error = ? WHERE id = ?",
            (next_attempt_at, error[:500], notice_id),
        )

    def mark_failed(self, notice_id: int, error: str) -> None:
        self.conn.execute(
            "UPDATE outbox SET state = 'failed', last_error = ? WHERE id = ?",
            (error[:500], notice_id),
        )

    def set_notified(self, alert_ids: list[str], now: float) -> None:
        for alert_id in alert_ids:
            self.conn.execute(
                "UPDATE alerts SET notified_at = COALESCE(notified_at, ?) WHERE id = ?",
                (now, alert_id),
            )

    def depth(self, now: float) -> int:
        (count,) = self.conn.execute(
            "SELECT COUNT(*) FROM outbox WHERE (state = 'pending' AND digest = 0 "
            "AND due_at <= ?) OR state = 'sending'",
            (now,),
        ).fetchone()
        return int(count)

    def recover(self) -> int:
        """Notices taken but not marked when the process died: send them again."""
        return self.conn.execute(
            "UPDATE outbox SET state = 'pending' WHERE state = 'sending'"
        ).rowcount


class Store:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(
            path, timeout=30, isolation_level=None, check_same_thread=False
        )
        self._conn.row_factory = sqlite3.Row
        self._conn.execute("PRAGMA busy_timeout=30000")
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.executescript(_SCHEMA)
        self._lock = threading.Lock()

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield Tx(self._conn)
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            self._conn.close()
