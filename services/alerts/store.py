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

A partnership review mailed to an account lead is an outbox row too (purpose
`report`, no alert), with one `report_deliveries` row per client and period: the
idempotency key, so a period's review is queued once whatever restarts happen. The
row stays invisible to the sender until its message (with the PDF) is stored.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from services.alerts.model import Alert, AlertKind, BandSeen
from services.alerts.outbox import OutboxQueries
from services.alerts.report_store import ReportQueries
from services.alerts.rows import ALERT_COLUMNS, Notice, UnreadableRecord, alert_of, record_json
from services.platform import sqlite

__all__ = ["Notice", "Store", "Tx", "UnreadableRecord"]

log = logging.getLogger("partnerpulse.alerts.store")

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
CREATE TABLE IF NOT EXISTS report_deliveries (
    client_id  TEXT NOT NULL,
    period     TEXT NOT NULL,
    notice_id  INTEGER NOT NULL,
    query      TEXT NOT NULL,
    title      TEXT NOT NULL,
    PRIMARY KEY (client_id, period)
);
"""


class Tx(OutboxQueries, ReportQueries):
    """The queries of one transaction (only valid inside `Store.transaction()`)."""

    def __init__(self, conn: sqlite3.Connection, unreadable: set[str] | None = None) -> None:
        self.conn = conn
        self._unreadable = set[str]() if unreadable is None else unreadable

    # -- alerts -------------------------------------------------------------------

    def alert(self, alert_id: str) -> Alert | None:
        row = self.conn.execute("SELECT * FROM alerts WHERE id = ?", (alert_id,)).fetchone()
        return alert_of(row) if row else None

    def alert_by_key(self, key: str) -> Alert | None:
        row = self.conn.execute("SELECT * FROM alerts WHERE key = ?", (key,)).fetchone()
        return alert_of(row) if row else None

    def active_alerts(
        self, client_id: str | None = None, kind: AlertKind | None = None, *, strict: bool = False
    ) -> list[Alert]:
        """Strict: raise UnreadableRecord rather than leave an unreadable alert out (where
        leaving it out would open a second alert for the same risk)."""
        query, args = "SELECT * FROM alerts WHERE state != 'resolved'", []
        if client_id is not None:
            query += " AND client_id = ?"
            args.append(client_id)
        if kind is not None:
            query += " AND kind = ?"
            args.append(kind.value)
        rows = self.conn.execute(query + " ORDER BY opened_at", args)
        return [alert_of(r) for r in rows] if strict else self._readable(rows)

    def alerts(self, state: str | None = None, limit: int = 500) -> list[Alert]:
        query, args = "SELECT * FROM alerts", list[object]()
        if state:
            query += " WHERE state = ?"
            args.append(state)
        query += " ORDER BY updated_at DESC LIMIT ?"
        args.append(limit)
        return self._readable(self.conn.execute(query, args))

    def _readable(self, rows: Iterable[sqlite3.Row]) -> list[Alert]:
        """The alerts of `rows`; one whose record does not read is left out, and said so in
        the log once per process (a single lookup raises UnreadableRecord instead)."""
        out = []
        for row in rows:
            try:
                out.append(alert_of(row))
            except UnreadableRecord as exc:
                if exc.alert_id not in self._unreadable:
                    self._unreadable.add(exc.alert_id)
                    log.error("%s; left out of listings, reminders and escalations", exc)
        return out

    def save_alert(self, alert: Alert) -> None:
        values = {name: getattr(alert, name) for name in ALERT_COLUMNS}
        values["record"] = json.dumps(record_json(alert.record))
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


class Store:
    def __init__(self, path: Path) -> None:
        self.path = path
        # WAL, synchronous=FULL, 30 s busy timeout, rows by name
        self._conn = sqlite.connect(path, schema=_SCHEMA, row_factory=True)
        self._lock = threading.Lock()
        self._unreadable: set[str] = set()  # alerts whose record did not read (logged once)

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield Tx(self._conn, self._unreadable)
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            self._conn.close()
