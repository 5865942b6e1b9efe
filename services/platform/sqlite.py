"""The one way a service opens its SQLite database."""

from __future__ import annotations

import sqlite3
from pathlib import Path

SYNCHRONOUS = ("NORMAL", "FULL", "EXTRA")


def connect(
    path: Path,
    *,
    synchronous: str = "FULL",
    schema: str = "",
    busy_timeout: float = 30.0,
    row_factory: bool = False,
) -> sqlite3.Connection:
    """An autocommit connection (transactions are explicit `BEGIN`s) that any thread may
    use under the caller's lock, in WAL mode, waiting `busy_timeout` seconds for a lock;
    the folder is made and `schema` (idempotent DDL) applied."""
    level = synchronous.upper()
    if level not in SYNCHRONOUS:
        raise ValueError("synchronous must be FULL, EXTRA or NORMAL")
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(
        path, timeout=busy_timeout, isolation_level=None, check_same_thread=False
    )
    if row_factory:
        conn.row_factory = sqlite3.Row
    conn.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={level}")
    if schema:
        conn.executescript(schema)
    return conn
