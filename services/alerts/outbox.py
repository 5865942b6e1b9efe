"""The outbox's queries: notices queued, taken, sent, retried, carried, superseded.

A mixin of `services.alerts.store.Tx`: valid only inside `Store.transaction()`.
"""

from __future__ import annotations

import json
import sqlite3

from services.alerts.messages import Message
from services.alerts.model import ChannelKind, Purpose, Recipient, Role
from services.alerts.rows import TOLD, Notice, notice_of


class OutboxQueries:
    conn: sqlite3.Connection

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
            notice_of(r)
            for r in self.conn.execute(
                "SELECT * FROM outbox WHERE alert_id = ? ORDER BY id", (alert_id,)
            )
        ]

    def due(self, now: float, limit: int) -> list[Notice]:
        return [
            notice_of(r)
            for r in self.conn.execute(
                "SELECT * FROM outbox WHERE state = 'pending' AND digest = 0 "
                "AND next_attempt_at <= ? AND (purpose != 'report' OR message IS NOT NULL) "
                "ORDER BY next_attempt_at, id LIMIT ?",
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
            notice_of(r)
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
            notice = notice_of(r)
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
        return notice_of(row) if row else None

    def take(self, notice_id: int, message: Message) -> None:
        self.conn.execute(
            "UPDATE outbox SET state = 'sending', message = ?, attempts = attempts + 1 "
            "WHERE id = ?",
            (json.dumps(message.to_json()), notice_id),
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

    def fetch_failed(self, notice_id: int, next_attempt_at: float, error: str) -> None:
        """A review's PDF could not be had: try again later (counted as an attempt)."""
        self.conn.execute(
            "UPDATE outbox SET next_attempt_at = ?, last_error = ?, attempts = attempts + 1 "
            "WHERE id = ?",
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
