"""The queries of partnership reviews mailed to account leads (`report_deliveries`).

A mixin of `services.alerts.store.Tx`: valid only inside `Store.transaction()`. One row
per client and period (the primary key), naming its outbox notice.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any

from services.alerts.messages import Message
from services.alerts.rows import Notice, notice_of


@dataclass(frozen=True)
class ReportDelivery:
    client_id: str
    period: str  # "2026-10", "2026Q3"
    title: str  # "October 2026"
    query: dict[str, str]  # the classifier report API's period parameters
    notice: Notice

    def summary(self) -> dict[str, Any]:
        n = self.notice
        return {
            "client_id": self.client_id,
            "period": self.period,
            "title": self.title,
            "notice": n.id,
            "to": n.recipient.address,
            "state": n.state,
            "prepared": n.message is not None,
            "attempts": n.attempts,
            "sent_at": n.sent_at,
            "last_error": n.last_error,
        }


def _delivery(row: sqlite3.Row, notice: Notice) -> ReportDelivery:
    return ReportDelivery(
        row["client_id"], row["period"], row["title"], json.loads(row["query"]), notice
    )


class ReportQueries:
    conn: sqlite3.Connection

    def report_queued(self, client_id: str, period: str) -> bool:
        row = self.conn.execute(
            "SELECT 1 FROM report_deliveries WHERE client_id = ? AND period = ?",
            (client_id, period),
        ).fetchone()
        return row is not None

    def record_report(
        self, client_id: str, period: str, title: str, query: dict[str, str], notice_id: int
    ) -> None:
        self.conn.execute(
            "INSERT INTO report_deliveries (client_id, period, notice_id, query, title) "
            "VALUES (?, ?, ?, ?, ?)",
            (client_id, period, notice_id, json.dumps(query), title),
        )

    def reports_to_prepare(self, now: float, limit: int) -> list[ReportDelivery]:
        """Queued reviews whose PDF is still to fetch, due now."""
        rows = self.conn.execute(
            "SELECT r.client_id, r.period, r.query, r.title, o.* FROM report_deliveries r "
            "JOIN outbox o ON o.id = r.notice_id WHERE o.state = 'pending' "
            "AND o.message IS NULL AND o.next_attempt_at <= ? "
            "ORDER BY o.next_attempt_at, o.id LIMIT ?",
            (now, limit),
        ).fetchall()
        return [_delivery(r, notice_of(r)) for r in rows]

    def prepared(self, notice_id: int, message: Message) -> None:
        """The review's message (with its PDF) is stored: the sender sends it from now on."""
        self.conn.execute(
            "UPDATE outbox SET message = ?, last_error = NULL WHERE id = ? AND state = 'pending'",
            (json.dumps(message.to_json()), notice_id),
        )

    def report_deliveries(self, limit: int = 500) -> list[ReportDelivery]:
        rows = self.conn.execute(
            "SELECT r.client_id, r.period, r.query, r.title, o.* FROM report_deliveries r "
            "JOIN outbox o ON o.id = r.notice_id ORDER BY o.id DESC LIMIT ?",
            (limit,),
        ).fetchall()
        return [_delivery(r, notice_of(r)) for r in rows]
