"""What the stand-ins serve: the record versions of a scenario's api.jsonl, seen at a
clock time (a version is visible from its `at`; a later one replaces it; `deleted: true`
removes the record from its `at` on)."""

from __future__ import annotations

import bisect
import json
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from services.poll.domain.window import parse_stamp

Clock = Callable[[], datetime]


parse_time = parse_stamp  # one parser of vendor times (ISO 8601 or epoch s/ms)


@dataclass(frozen=True)
class Version:
    at: datetime
    body: dict[str, Any] | None  # None: deleted from `at` on


@dataclass(frozen=True)
class Visible:
    """A record as the API shows it at the clock time, with when that version appeared."""

    id: str
    body: dict[str, Any]
    at: datetime


class ApiRecords:
    """Thread-safe: tests may add versions while the stand-in serves."""

    def __init__(self, lines: Iterable[Mapping[str, Any]] = ()) -> None:
        self._lock = threading.Lock()
        self._versions: dict[tuple[str, str], dict[str, list[Version]]] = defaultdict(dict)
        for line in lines:
            self.add(line)

    @classmethod
    def load(cls, path: Path) -> ApiRecords:
        lines = []
        for number, text in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if text.strip():
                try:
                    lines.append(json.loads(text))
                except json.JSONDecodeError as exc:
                    raise ValueError(f"{path}: line {number}: not JSON ({exc})") from None
        return cls(lines)

    def add(self, line: Mapping[str, Any]) -> None:
        at = parse_time(line.get("at"))
        source, entity, rid = line.get("source"), line.get("entity"), line.get("id")
        if at is None or not source or not entity or rid is None:
            raise ValueError(f"api.jsonl line needs at, source, entity and id: {dict(line)}")
        body = None if line.get("deleted") else line.get("body")
        if body is not None and not isinstance(body, dict):
            raise ValueError(f"api.jsonl {source} {entity} {rid}: body must be an object")
        with self._lock:
            versions = self._versions[(str(source), str(entity))].setdefault(str(rid), [])
            ats = [v.at for v in versions]
            versions.insert(bisect.bisect_right(ats, at), Version(at, body))

    def span(self) -> tuple[datetime, datetime] | None:
        """The first and the last `at` of the records (None: no record)."""
        with self._lock:
            ats = [v.at for c in self._versions.values() for vs in c.values() for v in vs]
        return (min(ats), max(ats)) if ats else None

    def sources(self) -> set[str]:
        """The vendors these records come from."""
        with self._lock:
            return {source for source, _ in self._versions}

    def visible(self, source: str, entity: str, now: datetime) -> list[Visible]:
        """Every record of the collection as it is at `now`, in id order."""
        out = []
        with self._lock:
            records = dict(self._versions.get((source, entity), {}))
        for rid, versions in records.items():
            ats = [v.at for v in versions]
            index = bisect.bisect_right(ats, now) - 1
            if index >= 0 and versions[index].body is not None:
                out.append(Visible(rid, dict(versions[index].body or {}), versions[index].at))
        return sorted(out, key=_id_order)

    def removed(self, source: str, entity: str, now: datetime) -> list[Visible]:
        """The records removed (`deleted`) at or before `now`, each with its last body
        and the time it was removed (`at`), in id order: what a vendor whose list drops
        a record (Datto RMM's open alerts, when resolved) shows in another list."""
        out = []
        with self._lock:
            records = dict(self._versions.get((source, entity), {}))
        for rid, versions in records.items():
            ats = [v.at for v in versions]
            index = bisect.bisect_right(ats, now) - 1
            if index < 1 or versions[index].body is not None:
                continue
            last = next((v.body for v in reversed(versions[:index]) if v.body is not None), None)
            if last is not None:
                out.append(Visible(rid, dict(last), versions[index].at))
        return sorted(out, key=_id_order)


def _id_order(v: Visible) -> tuple[int, str]:
    return (len(v.id), v.id) if v.id.isdigit() else (99, v.id)


class ReplayClock:
    """A clock that maps real time onto scenario time: `start` at the moment of creation,
    advancing `speed` scenario seconds per real second; `set` jumps it (tests)."""

    def __init__(self, start: datetime, speed: float = 1.0) -> None:
        import time

        self._monotonic = time.monotonic
        self._lock = threading.Lock()
        self._origin, self._base, self.speed = self._monotonic(), start.astimezone(UTC), speed

    def __call__(self) -> datetime:
        from datetime import timedelta

        with self._lock:
            elapsed = (self._monotonic() - self._origin) * self.speed
            return self._base + timedelta(seconds=elapsed)

    def set(self, at: datetime) -> None:
        with self._lock:
            self._origin, self._base = self._monotonic(), at.astimezone(UTC)
