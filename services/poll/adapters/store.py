"""The poller's durable state (SQLite, WAL, synchronous=FULL): per (source, entity) the
watermark, the checkpoint of a run in progress (its next page), the inventory a
snapshot diff compares with, and the ticket -> client links other records need.

A run writes its checkpoint after each page is posted; a poller killed mid-page
resumes at the checkpoint and re-posts at most that page, which ingest deduplicates.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from services.platform import sqlite
from services.poll.domain.requests import Request

_SCHEMA = """
CREATE TABLE IF NOT EXISTS watermarks (
    source TEXT NOT NULL, entity TEXT NOT NULL,
    since TEXT, cursor TEXT, succeeded_at TEXT,
    PRIMARY KEY (source, entity));
CREATE TABLE IF NOT EXISTS checkpoints (
    source TEXT NOT NULL, entity TEXT NOT NULL,
    run_started_at TEXT NOT NULL, next_request TEXT NOT NULL, pages INTEGER NOT NULL,
    PRIMARY KEY (source, entity));
CREATE TABLE IF NOT EXISTS inventory (
    source TEXT NOT NULL, entity TEXT NOT NULL, id TEXT NOT NULL, record TEXT NOT NULL,
    PRIMARY KEY (source, entity, id));
CREATE TABLE IF NOT EXISTS baselines (
    source TEXT NOT NULL, entity TEXT NOT NULL, PRIMARY KEY (source, entity));
CREATE TABLE IF NOT EXISTS links (
    source TEXT NOT NULL, ticket_id TEXT NOT NULL, client_ref TEXT NOT NULL,
    PRIMARY KEY (source, ticket_id));
"""


@dataclass(frozen=True)
class Watermark:
    since: datetime | None  # modified-cursor collections: where the next run reads from
    cursor: str | None  # id-cursor collections (NinjaOne activities): newerThan
    succeeded_at: datetime | None  # when the last successful run started


@dataclass(frozen=True)
class Checkpoint:
    run_started_at: datetime
    next_request: Request
    pages: int


def _dt(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


class PollStore:
    def __init__(self, path: Path) -> None:
        self._db = sqlite.connect(path, schema=_SCHEMA)  # WAL, synchronous=FULL
        self._lock = threading.Lock()

    def close(self) -> None:
        self._db.close()

    def _one(self, sql: str, *args: Any) -> tuple[Any, ...] | None:
        with self._lock:
            row: tuple[Any, ...] | None = self._db.execute(sql, args).fetchone()
            return row

    def _write(self, sql: str, *args: Any) -> None:
        with self._lock:
            self._db.execute(sql, args)

    # -- watermarks and checkpoints -------------------------------------------------

    def watermark(self, source: str, entity: str) -> Watermark:
        row = self._one(
            "SELECT since, cursor, succeeded_at FROM watermarks WHERE source=? AND entity=?",
            source,
            entity,
        )
        if row is None:
            return Watermark(None, None, None)
        return Watermark(_dt(row[0]), row[1], _dt(row[2]))

    def finish_run(
        self,
        source: str,
        entity: str,
        *,
        since: datetime | None,
        cursor: str | None,
        run_started_at: datetime,
    ) -> None:
        """A run succeeded: move the watermark and drop its checkpoint, atomically."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute(
                "INSERT INTO watermarks VALUES (?,?,?,?,?) ON CONFLICT (source, entity) DO "
                "UPDATE SET since=excluded.since, cursor=excluded.cursor, "
                "succeeded_at=excluded.succeeded_at",
                (
                    source,
                    entity,
                    since.isoformat() if since else None,
                    cursor,
                    run_started_at.isoformat(),
                ),
            )
            self._db.execute(
                "DELETE FROM checkpoints WHERE source=? AND entity=?", (source, entity)
            )
            self._db.execute("COMMIT")

    def checkpoint(self, source: str, entity: str) -> Checkpoint | None:
        row = self._one(
            "SELECT run_started_at, next_request, pages FROM checkpoints "
            "WHERE source=? AND entity=?",
            source,
            entity,
        )
        if row is None:
            return None
        return Checkpoint(datetime.fromisoformat(row[0]), Request.loads(row[1]), int(row[2]))

    def save_checkpoint(self, source: str, entity: str, checkpoint: Checkpoint) -> None:
        self._write(
            "INSERT OR REPLACE INTO checkpoints VALUES (?,?,?,?,?)",
            source,
            entity,
            checkpoint.run_started_at.isoformat(),
            checkpoint.next_request.dumps(),
            checkpoint.pages,
        )

    # -- inventory (snapshot diffs) -------------------------------------------------

    def inventory(self, source: str, entity: str) -> dict[str, dict[str, Any]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT id, record FROM inventory WHERE source=? AND entity=?", (source, entity)
            ).fetchall()
        return {str(i): json.loads(r) for i, r in rows}

    def remember(self, source: str, entity: str, item_id: str, record: dict[str, Any]) -> None:
        self._write(
            "INSERT OR REPLACE INTO inventory VALUES (?,?,?,?)",
            source,
            entity,
            item_id,
            json.dumps(record, sort_keys=True, default=str),
        )

    def forget(self, source: str, entity: str, item_id: str) -> None:
        self._write(
            "DELETE FROM inventory WHERE source=? AND entity=? AND id=?", source, entity, item_id
        )

    def has_baseline(self, source: str, entity: str) -> bool:
        row = self._one("SELECT 1 FROM baselines WHERE source=? AND entity=?", source, entity)
        return row is not None

    def set_baseline(self, source: str, entity: str) -> None:
        self._write("INSERT OR IGNORE INTO baselines VALUES (?,?)", source, entity)

    # -- ticket -> client links -------------------------------------------------------

    def link(self, source: str, ticket_id: str, client_ref: str) -> None:
        self._write("INSERT OR REPLACE INTO links VALUES (?,?,?)", source, ticket_id, client_ref)

    def client_of_ticket(self, source: str, ticket_id: str) -> str | None:
        row = self._one(
            "SELECT client_ref FROM links WHERE source=? AND ticket_id=?", source, ticket_id
        )
        return None if row is None else str(row[0])
