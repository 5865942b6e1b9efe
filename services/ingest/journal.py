"""The local append-only journal: an accepted event is here before it is acknowledged.

SQLite in WAL mode, shared by two processes:

- ingest appends (`Journal`). Appends from concurrent requests are committed
  together by one writer thread (group commit), so each HTTP request waits for
  one fsync shared with its neighbours rather than paying for its own.
- the relay (`RelayJournal` in `relay_journal`, `partnerpulse relay`) reads
  pending rows in order and marks them relayed once Kafka acknowledged them. One
  relay per journal: it holds an exclusive lock on `<journal>.relay.lock` while it
  runs. It also prunes relayed rows older than the retention.

Rows are kept after relaying, for the retention: the event ids are the
deduplication index, and `requeue_all()` replays what is kept into a fresh
(embedded) broker. Ingest knows how many rows (and bytes) wait for the broker by
counting them again every `refresh_interval` seconds (the partial index makes that
cheap), plus what it appended since. Every row counts, dead letters included.

A write that fails (disk full, I/O error, the file at `max_bytes`) makes the
journal unwritable: appends raise `JournalUnwritable` at once, and the writer
probes with a real write every `refresh_interval` until one succeeds.
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

from services.platform import sqlite

log = logging.getLogger(__name__)

Headers = list[tuple[str, bytes]]
# (topic, partition) -> the next offset: every record the relay sent below it is accounted for.
Offsets = dict[tuple[str, int], int]

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
CREATE TABLE IF NOT EXISTS journal_meta (
    name   TEXT PRIMARY KEY,
    value  TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS relay_offsets (
    topic        TEXT    NOT NULL,
    partition    INTEGER NOT NULL,
    next_offset  INTEGER NOT NULL,
    PRIMARY KEY (topic, partition)
);
"""

COUNT_PENDING = "SELECT COUNT(*) FROM journal WHERE relayed = 0"
_MEASURE_PENDING = (
    "SELECT COUNT(*), COALESCE(SUM(length(value) + length(headers)), 0)"
    " FROM journal WHERE relayed = 0"
)
_PROBE_BYTES = 64 * 1024
_ROWS_PER_STATEMENT = 500  # 7 parameters a row: well under SQLite's 32766


class JournalFull(Exception):
    """More events are waiting for the broker than the journal may hold."""


class JournalUnwritable(Exception):
    """The journal cannot write now (disk full, I/O error): the sender must retry later."""


class JournalLocked(Exception):
    """Another relay process is relaying this journal."""


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


def connect(path: Path, synchronous: str) -> sqlite3.Connection:
    return sqlite.connect(path, synchronous=synchronous, schema=_SCHEMA)


class Journal:
    """Ingest's side: durable appends, deduplicated by event id, and the backlog size."""

    def __init__(
        self,
        path: Path,
        *,
        max_pending: int = 100_000,
        max_pending_bytes: int = 512 * 1024 * 1024,
        max_bytes: int = 0,
        synchronous: str = "FULL",
        refresh_interval: float = 0.5,
    ):
        self.path = path
        self.max_pending = max_pending
        self.max_pending_bytes = max_pending_bytes
        self.max_bytes = max_bytes
        self.refresh_interval = refresh_interval
        self._synchronous = synchronous
        self._queue: queue.Queue[_Append | None] = queue.Queue()
        self._pending = 0
        self._pending_bytes = 0
        self.write_error: str | None = None  # why the last write failed, until one succeeds
        self._last_seq = 0  # the highest row this journal held when the last batch was in
        self._writer: threading.Thread | None = None

    def open(self) -> Journal:
        conn = connect(self.path, self._synchronous)
        if self.max_bytes:
            page_size = conn.execute("PRAGMA page_size").fetchone()[0]
            conn.execute(f"PRAGMA max_page_count={max(self.max_bytes // page_size, 1)}")
        self._pending, self._pending_bytes = conn.execute(_MEASURE_PENDING).fetchone()
        (self._last_seq,) = conn.execute("SELECT COALESCE(MAX(seq), 0) FROM journal").fetchone()
        self._writer = threading.Thread(
            target=self._write_loop, args=(conn,), name="journal-writer", daemon=True
        )
        self._writer.start()
        log.info("journal %s open, %d record(s) pending", self.path, self._pending)
        return self

    def close(self) -> None:
        if self._writer is not None:
            self._queue.put(None)
            self._writer.join()
            self._writer = None

    @property
    def is_open(self) -> bool:
        return self._writer is not None and self._writer.is_alive()

    @property
    def pending(self) -> int:
        """Records waiting for the broker: the last count plus what was appended since."""
        return self._pending

    @property
    def pending_bytes(self) -> int:
        return self._pending_bytes

    @property
    def writable(self) -> bool:
        return self.write_error is None

    async def append(self, records: Sequence[Record], *, check_capacity: bool = True) -> list[bool]:
        """Durably store `records`; True for each stored, False for each duplicate.

        Raises JournalFull (when `check_capacity`) if the backlog is at its limit, and
        JournalUnwritable if the journal cannot write (now, or when it tried).
        """
        if self.write_error is not None:
            raise JournalUnwritable(self.write_error)
        if check_capacity:
            size = sum(len(r.value) for r in records)
            if self._pending + len(records) > self.max_pending:
                raise JournalFull(f"{self._pending} records are waiting for the broker")
            if self._pending_bytes + size > self.max_pending_bytes:
                raise JournalFull(f"{self._pending_bytes} bytes are waiting for the broker")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[list[bool]] = loop.create_future()
        self._queue.put(_Append(list(records), future, loop))
        return await future

    # -- the writer thread: every SQLite call of ingest happens here ---------

    def _write_loop(self, conn: sqlite3.Connection) -> None:
        next_count = time.monotonic() + self.refresh_interval
        try:
            while (batch := self._take(max(0.0, next_count - time.monotonic()))) is not None:
                if batch:
                    self._commit(conn, batch)
                if time.monotonic() >= next_count:
                    self._count(conn)
                    next_count = time.monotonic() + self.refresh_interval
        finally:
            conn.close()

    def _take(self, timeout: float) -> list[_Append] | None:
        """The appends waiting now (none if `timeout` passes first); None: close."""
        try:
            item = self._queue.get(timeout=timeout)
        except queue.Empty:
            return []
        batch: list[_Append] = []
        while item is not None:
            batch.append(item)
            if len(batch) == 512:
                return batch
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return batch
        if batch:
            self._queue.put(None)  # commit these first, then close
            return batch
        return None

    def _count(self, conn: sqlite3.Connection) -> None:
        if self.write_error is not None:
            self._probe(conn)
        try:
            self._pending, self._pending_bytes = conn.execute(_MEASURE_PENDING).fetchone()
        except sqlite3.Error as exc:
            log.warning("could not count the journal's pending records: %s", exc)

    def _probe(self, conn: sqlite3.Connection) -> None:
        """Write (and remove) a row of a typical size: writable again when both commit."""
        try:
            conn.execute(
                "INSERT OR REPLACE INTO journal_meta (name, value) VALUES ('probe', ?)",
                ("x" * _PROBE_BYTES,),
            )
            conn.execute("DELETE FROM journal_meta WHERE name = 'probe'")
        except sqlite3.Error as exc:
            self.write_error = f"journal cannot write: {exc}"
            return
        log.warning("journal %s writable again", self.path)
        self.write_error = None

    def _commit(self, conn: sqlite3.Connection, batch: list[_Append]) -> None:
        # As few SQLite calls per batch as can be: at each one this thread gives the GIL
        # back to the HTTP loop, and then waits for it again. Usually it is one INSERT,
        # its own transaction; which records were there before is asked only when SQLite
        # ignored some. Before: at rows up to `_last_seq`, as this thread is the only one
        # that inserts (one ingest per journal).
        records = [rec for item in batch for rec in item.records]
        fresh = [True] * len(records)
        first_copy: dict[str, int] = {}
        rows: list[tuple[object, ...]] = []
        now = time.time()
        for i, rec in enumerate(records):
            if rec.event_id is not None:
                if rec.event_id in first_copy:  # the same event twice in one batch
                    fresh[i] = False
                    continue
                first_copy[rec.event_id] = i
            rows.append(
                (
                    rec.topic,
                    rec.key,
                    rec.value,
                    json.dumps([(k, v.decode("latin-1")) for k, v in rec.headers]),
                    rec.event_id,
                    rec.source,
                    now,
                )
            )
        try:
            inserted, last_seq = _insert(conn, rows)
            if inserted < len(rows):
                for event_id in _journaled_up_to(conn, list(first_copy), self._last_seq):
                    fresh[first_copy[event_id]] = False
            self._last_seq = max(self._last_seq, last_seq)
        except Exception as exc:  # disk full, I/O error: every waiter must hear of it
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            self.write_error = f"journal cannot write: {exc}"
            log.error("journal commit failed: %s", exc)
            error = JournalUnwritable(self.write_error)
            _answer(batch, [error] * len(batch))
            return
        self.write_error = None
        self._pending += inserted
        self._pending_bytes += sum(len(rec.value) + len(rec.headers) for rec in records)
        flags = iter(fresh)
        _answer(batch, [[next(flags) for _ in item.records] for item in batch])


def _insert(conn: sqlite3.Connection, rows: list[tuple[object, ...]]) -> tuple[int, int]:
    """Insert `rows` in one transaction, skipping known event ids: (inserted, highest seq)."""
    chunks = [rows[i : i + _ROWS_PER_STATEMENT] for i in range(0, len(rows), _ROWS_PER_STATEMENT)]
    if len(chunks) > 1:
        conn.execute("BEGIN IMMEDIATE")
    inserted, last_seq = 0, 0
    for chunk in chunks:
        cur = conn.execute(
            "INSERT OR IGNORE INTO journal"
            " (topic, key, value, headers, event_id, source, received_at) VALUES "
            + ", ".join(["(?, ?, ?, ?, ?, ?, ?)"] * len(chunk)),
            [value for row in chunk for value in row],
        )
        inserted += cur.rowcount
        last_seq = cur.lastrowid or last_seq
    if len(chunks) > 1:
        conn.execute("COMMIT")
    return inserted, last_seq


def _journaled_up_to(conn: sqlite3.Connection, event_ids: list[str], seq: int) -> set[str]:
    """Which of `event_ids` the journal holds at rows up to `seq`."""
    known: set[str] = set()
    for start in range(0, len(event_ids), _ROWS_PER_STATEMENT):
        chunk = event_ids[start : start + _ROWS_PER_STATEMENT]
        known.update(
            event_id
            for (event_id,) in conn.execute(
                "SELECT event_id FROM journal WHERE seq <= ? AND event_id IN"
                f" ({','.join('?' * len(chunk))})",
                [seq, *chunk],
            )
        )
    return known


@dataclass
class _Append:
    records: list[Record]
    future: asyncio.Future[list[bool]]
    loop: asyncio.AbstractEventLoop


def _answer(batch: list[_Append], outcomes: Sequence[list[bool] | BaseException]) -> None:
    """Wake each waiting event loop once per batch, not once per append."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[_Append, list[bool] | BaseException]]]
    by_loop = {}
    for item, outcome in zip(batch, outcomes, strict=True):
        by_loop.setdefault(item.loop, []).append((item, outcome))
    for loop, answers in by_loop.items():
        loop.call_soon_threadsafe(_resolve, answers)


def _resolve(answers: list[tuple[_Append, list[bool] | BaseException]]) -> None:
    for item, outcome in answers:
        if item.future.done():
            continue
        if isinstance(outcome, BaseException):
            item.future.set_exception(outcome)
        else:
            item.future.set_result(outcome)
