"""The relay's side of the journal: pending rows in order, marked relayed, pruned.

See `services.ingest.journal` for the journal itself. Opening takes an exclusive
lock (flock) next to the journal, released when the relay closes it or its
process dies, even by kill -9: one relay per journal.
"""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
import uuid
from collections.abc import Collection, Mapping
from pathlib import Path

from services.ingest.journal import (
    COUNT_PENDING,
    JournalLocked,
    Offsets,
    PendingRow,
    Record,
    connect,
)
from services.runtime.covered import Covered

# relayed = 2: a row the broker refused even as a (cut) dead letter; kept, never sent.
DROPPED = 2
_PRUNE_BATCH = 5000


class RelayJournal:
    """The relay's side: pending rows in order, marked relayed with the offsets they reached."""

    def __init__(self, path: Path, *, synchronous: str = "FULL"):
        self.path = path
        self.lock_path = path.with_name(path.name + ".relay.lock")
        self._synchronous = synchronous
        self._lock_fd: int | None = None
        self._conn: sqlite3.Connection | None = None
        self.uid = ""

    def open(self) -> RelayJournal:
        self.lock_path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise JournalLocked(
                f"another relay (pid {holder}) is relaying the journal {self.path}: only one "
                f"relay may run per journal; stop that one first (lock: {self.lock_path})"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._lock_fd = fd
        try:
            conn = connect(self.path, self._synchronous)
            conn.execute(
                "INSERT OR IGNORE INTO journal_meta (name, value) VALUES ('uid', ?)",
                (uuid.uuid4().hex,),
            )
            (self.uid,) = conn.execute(
                "SELECT value FROM journal_meta WHERE name = 'uid'"
            ).fetchone()
            _add_placement_columns(conn)
        except BaseException:
            self._unlock()
            raise
        self._conn = conn
        return self

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        self._unlock()

    def _unlock(self) -> None:
        if self._lock_fd is not None:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            os.close(self._lock_fd)
            self._lock_fd = None

    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            raise RuntimeError(f"the relay journal {self.path} is not open")
        return self._conn

    def count_pending(self) -> int:
        (count,) = self.conn.execute(COUNT_PENDING).fetchone()
        return int(count)

    def fetch_pending(self, limit: int) -> list[PendingRow]:
        rows = self.conn.execute(
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

    def mark_relayed(
        self,
        seqs: Collection[int],
        offsets: Mapping[tuple[str, int], int],
        placed: Mapping[int, tuple[int, int]] | None = None,
    ) -> int:
        """Mark `seqs` relayed and record the `offsets` they reached, in one transaction;
        `placed`: where some of them landed (seq -> partition, offset), which a replay
        into a new broker compares with what the classifier covers.

        Returns how many rows were pending before.
        """
        ordered = sorted(seqs)
        conn = self.conn
        changed = 0
        conn.execute("BEGIN IMMEDIATE")
        try:
            if ordered and ordered[-1] - ordered[0] + 1 == len(ordered):  # one contiguous run
                changed = conn.execute(
                    "UPDATE journal SET relayed = 1 WHERE relayed = 0 AND seq BETWEEN ? AND ?",
                    (ordered[0], ordered[-1]),
                ).rowcount
            else:
                for start in range(0, len(ordered), 500):
                    chunk = ordered[start : start + 500]
                    changed += conn.execute(
                        "UPDATE journal SET relayed = 1 WHERE relayed = 0 AND seq IN"
                        f" ({','.join('?' * len(chunk))})",
                        chunk,
                    ).rowcount
            if placed:
                conn.executemany(
                    "UPDATE journal SET placed_partition = ?, placed_offset = ? WHERE seq = ?",
                    [(part, offset, seq) for seq, (part, offset) in placed.items()],
                )
            conn.executemany(
                "INSERT INTO relay_offsets (topic, partition, next_offset) VALUES (?, ?, ?)"
                " ON CONFLICT (topic, partition) DO UPDATE SET next_offset = excluded.next_offset",
                [(topic, partition, offset) for (topic, partition), offset in offsets.items()],
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return changed

    def offsets(self) -> Offsets:
        return {
            (topic, partition): offset
            for topic, partition, offset in self.conn.execute(
                "SELECT topic, partition, next_offset FROM relay_offsets"
            )
        }

    def requeue_all(
        self, covered: Covered | None = None, *, topic: str = "", incarnation: str = ""
    ) -> int:
        """Mark every record pending again: the broker is new and holds nothing.

        Except the rows of `topic` that `covered` says the classifier's store already
        holds: those it placed, in the broker incarnation `covered` names, below the
        covered offset of their partition (services/runtime/covered.py). They stay
        covered for later replays while that store lives. `incarnation`: the broker the
        relay sends to from now on (placements are compared with the one before).
        """
        conn = self.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            meta = dict(conn.execute("SELECT name, value FROM journal_meta").fetchall())
            store = covered.store if covered is not None else ""
            if meta.get("covered_store", "") != store:
                conn.execute("UPDATE journal SET covered = 0 WHERE covered = 1")
            if covered is not None and covered.incarnation == meta.get("placed_in"):
                conn.executemany(
                    "UPDATE journal SET covered = 1, placed_partition = NULL, placed_offset = NULL"
                    " WHERE relayed = 1 AND covered = 0"
                    " AND topic = ? AND placed_partition = ? AND placed_offset < ?",
                    [(topic, part, offset) for part, offset in covered.partitions.items()],
                )
            requeued = conn.execute(
                "UPDATE journal SET relayed = 0, placed_partition = NULL, placed_offset = NULL"
                " WHERE relayed = 1 AND covered = 0"
            ).rowcount
            conn.executemany(
                "INSERT INTO journal_meta (name, value) VALUES (?, ?)"
                " ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                [("covered_store", store), ("placed_in", incarnation)],
            )
            conn.execute("DELETE FROM relay_offsets")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return int(requeued)

    def count_covered(self) -> int:
        (count,) = self.conn.execute("SELECT COUNT(*) FROM journal WHERE covered = 1").fetchone()
        return int(count)

    def replace_pending(self, seq: int, record: Record) -> bool:
        """Put `record` in place of pending row `seq` (a dead letter for a record the
        broker cannot take); it keeps its place in the order and its event id."""
        changed = self.conn.execute(
            "UPDATE journal SET topic = ?, key = ?, value = ?, headers = ?"
            " WHERE seq = ? AND relayed = 0",
            (
                record.topic,
                record.key,
                record.value,
                json.dumps([(k, v.decode("latin-1")) for k, v in record.headers]),
                seq,
            ),
        ).rowcount
        return bool(changed)

    def mark_dropped(self, seq: int) -> None:
        self.conn.execute(
            "UPDATE journal SET relayed = ? WHERE seq = ? AND relayed = 0", (DROPPED, seq)
        )

    def prune(self, older_than: float) -> int:
        """Delete relayed rows received before `older_than` (epoch seconds); never pending.

        Rows are appended in received order, so the old rows are the first ones: the
        boundary is the first row at or after `older_than`, found without a full scan.
        """
        conn = self.conn
        row = conn.execute(
            "SELECT seq FROM journal WHERE received_at >= ? ORDER BY seq LIMIT 1", (older_than,)
        ).fetchone()
        if row is None:
            (boundary,) = conn.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM journal").fetchone()
        else:
            (boundary,) = row
        deleted = 0
        while True:
            batch = conn.execute(
                "DELETE FROM journal WHERE seq IN (SELECT seq FROM journal"
                " WHERE seq < ? AND relayed != 0 AND received_at < ? ORDER BY seq LIMIT ?)",
                (boundary, older_than, _PRUNE_BATCH),
            ).rowcount
            deleted += batch
            if batch < _PRUNE_BATCH:
                return deleted

    def size(self) -> tuple[int, int]:
        """(rows, bytes on disk) of the journal: its database file and write-ahead log."""
        (rows,) = self.conn.execute("SELECT COUNT(*) FROM journal").fetchone()
        size = 0
        for path in (self.path, self.path.with_name(self.path.name + "-wal")):
            try:
                size += os.path.getsize(path)
            except OSError:
                pass
        return int(rows), size


def _add_placement_columns(conn: sqlite3.Connection) -> None:
    """Journals written before placements were kept get the columns (empty)."""
    have = {row[1] for row in conn.execute("PRAGMA table_info(journal)")}
    for column, kind in (
        ("placed_partition", "INTEGER"),
        ("placed_offset", "INTEGER"),
        ("covered", "INTEGER NOT NULL DEFAULT 0"),
    ):
        if column not in have:
            conn.execute(f"ALTER TABLE journal ADD COLUMN {column} {kind}")
