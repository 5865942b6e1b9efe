"""The local append-only journal: an accepted event is here before it is acknowledged.

SQLite in WAL mode. Appends from concurrent requests are committed together
by one writer thread (group commit), so each HTTP request waits for one
fsync shared with its neighbours rather than paying for its own. The relay
reads pending rows in order and marks them relayed once Kafka acknowledged
them. Rows are kept after relaying: the event ids are the deduplication
index, and `requeue_all()` replays everything into a fresh (embedded) broker.
"""

from __future__ import annotations

import asyncio
import json
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

Headers = list[tuple[str, bytes]]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS journal (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    topic        TEXT    NOT NULL,
    key          BLOB,
    value        BLOB    NOT NULL,
    headers      TEXT    NOT NULL,
    event_id     TEXT    UNIQUE,
    source       TEXT    NOT NULL,
    received_at  REAL    NOT NULL,
    relayed      INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS journal_pending ON journal (seq) WHERE relayed = 0;
"""


class JournalFull(Exception):
    """More events are waiting for the broker than the journal may hold."""


@dataclass(frozen=True)
class Record:
    topic: str
    value: bytes
    source: str
    key: bytes | None = None
    headers: Headers = field(default_factory=list)
    event_id: str | None = None  # None: never deduplicated (DLQ records)


@dataclass(frozen=True)
class PendingRow:
    seq: int
    record: Record
    received_at: float


def _connect(path: Path, synchronous: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={synchronous}")
    conn.execute("PRAGMA busy_timeout=30000")
    return conn


class Journal:
    """Durable queue of records on their way to Kafka, with deduplication by event id."""

    def __init__(self, path: Path, *, max_pending: int = 100_000, synchronous: str = "FULL"):
        if synchronous.upper() not in ("FULL", "NORMAL", "EXTRA"):
            raise ValueError("synchronous must be FULL, EXTRA or NORMAL")
        self.path = path
        self.max_pending = max_pending
        self._synchronous = synchronous.upper()
        self._queue: queue.Queue[_Append | None] = queue.Queue()
        self._pending = 0
        self._lock = threading.Lock()
        self._has_pending = threading.Condition(self._lock)
        self._writer: threading.Thread | None = None
        self._read_conn: sqlite3.Connection | None = None

    # -- lifecycle ---------------------------------------------------------

    def open(self) -> Journal:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = _connect(self.path, self._synchronous)
        conn.executescript(_SCHEMA)
        (self._pending,) = conn.execute("SELECT COUNT(*) FROM journal WHERE relayed = 0").fetchone()
        self._read_conn = conn
        self._writer = threading.Thread(target=self._write_loop, name="journal-writer", daemon=True)
        self._writer.start()
        log.info("journal %s open, %d record(s) pending", self.path, self._pending)
        return self

    def close(self) -> None:
        if self._writer is not None:
            self._queue.put(None)
            self._writer.join()
            self._writer = None
        if self._read_conn is not None:
            self._read_conn.close()
            self._read_conn = None

    @property
    def pending(self) -> int:
        return self._pending

    # -- appending (event loop side) --------------------------------------

    async def append(self, records: Sequence[Record], *, check_capacity: bool = True) -> list[bool]:
        """Durably store `records`; True for each stored, False for each duplicate.

        Raises JournalFull (when `check_capacity`) if the backlog is at its limit.
        """
        if check_capacity and self._pending + len(records) > self.max_pending:
            raise JournalFull(f"{self._pending} records are waiting for the broker")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[list[bool]] = loop.create_future()
        self._queue.put(_Append(list(records), future, loop))
        return await future

    # -- the writer thread --------------------------------------------------

    def _write_loop(self) -> None:
        conn = _connect(self.path, self._synchronous)
        try:
            while True:
                first = self._queue.get()
                if first is None:
                    return
                batch = [first]
                stop = False
                while len(batch) < 512:
                    try:
                        item = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if item is None:
                        stop = True
                        break
                    batch.append(item)
                self._commit(conn, batch)
                if stop:
                    return
        finally:
            conn.close()

    def _commit(self, conn: sqlite3.Connection, batch: list[_Append]) -> None:
        results: list[list[bool]] = []
        inserted = 0
        try:
            conn.execute("BEGIN IMMEDIATE")
            for item in batch:
                flags = []
                for rec in item.records:
                    cur = conn.execute(
                        "INSERT OR IGNORE INTO journal"
                        " (topic, key, value, headers, event_id, source, received_at)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (
                            rec.topic,
                            rec.key,
                            rec.value,
                            json.dumps([(k, v.decode("latin-1")) for k, v in rec.headers]),
                            rec.event_id,
                            rec.source,
                            time.time(),
                        ),
                    )
                    flags.append(cur.rowcount == 1)
                inserted += sum(flags)
                results.append(flags)
            conn.execute("COMMIT")
        except Exception as exc:  # disk full, I/O error: every waiter must hear of it
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            log.exception("journal commit failed")
            for item in batch:
                item.loop.call_soon_threadsafe(_set_exception, item.future, exc)
            return
        with self._has_pending:
            self._pending += inserted
            if inserted:
                self._has_pending.notify_all()
        for item, flags in zip(batch, results, strict=True):
            item.loop.call_soon_threadsafe(_set_result, item.future, flags)

    # -- the relay side (one thread) --------------------------------------

    def wait_for_pending(self, timeout: float) -> bool:
        with self._has_pending:
            if self._pending == 0:
                self._has_pending.wait(timeout)
            return self._pending > 0

    def fetch_pending(self, limit: int) -> list[PendingRow]:
        assert self._read_conn is not None, "journal is not open"
        rows = self._read_conn.execute(
            "SELECT seq, topic, key, value, headers, event_id, source, received_at"
            " FROM journal WHERE relayed = 0 ORDER BY seq LIMIT ?",
            (limit,),
        ).fetchall()
        return [
            PendingRow(
                seq=seq,
                record=Record(
                    topic=topic,
                    key=key,
                    value=value,
                    headers=[(k, v.encode("latin-1")) for k, v in json.loads(headers)],
                    event_id=event_id,
                    source=source,
                ),
                received_at=received_at,
            )
            for seq, topic, key, value, headers, event_id, source, received_at in rows
        ]

    def mark_relayed(self, seqs: Sequence[int]) -> None:
        if not seqs:
            return
        assert self._read_conn is not None, "journal is not open"
        conn = self._read_conn
        conn.execute("BEGIN IMMEDIATE")
        first, last = min(seqs), max(seqs)
        if last - first + 1 == len(seqs):  # the usual case: one contiguous batch
            cur = conn.execute(
                "UPDATE journal SET relayed = 1 WHERE relayed = 0 AND seq BETWEEN ? AND ?",
                (first, last),
            )
            changed = cur.rowcount
        else:
            changed = 0
            for start in range(0, len(seqs), 500):
                chunk = seqs[start : start + 500]
                cur = conn.execute(
                    "UPDATE journal SET relayed = 1 WHERE relayed = 0 AND seq IN"
                    f" ({','.join('?' * len(chunk))})",
                    chunk,
                )
                changed += cur.rowcount
        conn.execute("COMMIT")
        with self._lock:
            self._pending -= changed

    def requeue_all(self) -> int:
        """Mark every record pending again: the broker is new and holds nothing."""
        assert self._read_conn is not None, "journal is not open"
        conn = self._read_conn
        conn.execute("BEGIN IMMEDIATE")
        cur = conn.execute("UPDATE journal SET relayed = 0 WHERE relayed = 1")
        conn.execute("COMMIT")
        with self._has_pending:
            self._pending += cur.rowcount
            self._has_pending.notify_all()
        return cur.rowcount

    def oldest_pending_received_at(self) -> float | None:
        assert self._read_conn is not None, "journal is not open"
        row = self._read_conn.execute(
            "SELECT received_at FROM journal WHERE relayed = 0 ORDER BY seq LIMIT 1"
        ).fetchone()
        return None if row is None else float(row[0])


@dataclass
class _Append:
    records: list[Record]
    future: asyncio.Future[list[bool]]
    loop: asyncio.AbstractEventLoop


def _set_result(future: asyncio.Future[list[bool]], value: list[bool]) -> None:
    if not future.done():
        future.set_result(value)


def _set_exception(future: asyncio.Future[list[bool]], exc: BaseException) -> None:
    if not future.done():
        future.set_exception(exc)
