"""How a client's state is laid out in the state table: bounded records, written when changed.

A client's whole state in one changelog record grows with its history and its size
(a client with 2,500 endpoints passed Kafka's 1 MB record limit within weeks). Here
a state is cut into *parts*, each one changelog record:

- `d<day>`: the event-level records of one event-time day (event ids seen, tickets,
  time entries and visits, alerts, changes, meetings, recommendations), keyed by the
  day each record belongs to (a ticket's creation, a visit's start, ...);
- `v`: the RMM devices seen (grows with the client's size, not its history);
- `s`: the signals emitted (the episodes' evidence);
- `t`: the daily totals of the days whose detail was pruned (daily.py; 400 days);
- the *head* (key: the client id): the health memo, the newest event time, and the
  map of part names to the keys that hold them.

A part whose JSON passes `PART_LIMIT` is split by a hash of its records' keys into
2, 4, 8, ... sub-parts (`d20250.1-4`), so a burst day or a huge client still makes
records of bounded size. Every part is written under a key of its own generation
(`acme\\x1fd20250@7`); the head, written after its parts, is the commit: a crash
between a part and its head leaves the old head pointing at the old parts, which
are only deleted (tombstoned) after the new head. Parts no head points at are
garbage collected by `orphans`. Parts that fall out of retention simply stop being
produced: they are tombstoned with the next head, so compaction removes them.

Pure: bytes in, bytes out; the Faust table is the caller's.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from services.classifier.domain.state import (
    _FIELDS,
    _VALUES,
    DAY,
    FILED_BY,
    ClientState,
    HealthMemo,
)

LAYOUT_VERSION = 3
PART_LIMIT = 96 * 1024  # bytes of a part's JSON before it is split by key hash
MAX_SPLIT = 1024
SEP = b"\x1f"


def head_key(client_id: str) -> bytes:
    return client_id.encode()


def client_of(key: bytes) -> str:
    """The client a head or part key belongs to."""
    return bytes(key).split(SEP, 1)[0].decode()


def is_part(key: bytes) -> bool:
    return SEP in bytes(key)


@dataclass
class Written:
    """What the table holds for one client: its head's generation and its parts."""

    gen: int = 0
    parts: dict[str, tuple[str, str]] = field(default_factory=dict)  # name -> (key, digest)
    memo: str = ""  # digest of the head's own content (health memo, newest event time)

    @classmethod
    def of_head(cls, head: Mapping[str, Any]) -> Written:
        parts = {n: (k, d) for n, (k, d) in head["parts"].items()}
        return cls(head["gen"], parts, _digest(orjson.dumps([head["health"], head["newest"]])))


@dataclass
class Plan:
    """The records one checkpoint writes for one client, in this order."""

    parts: list[tuple[bytes, bytes]]  # new and changed parts
    head: tuple[bytes, bytes]
    tombstones: list[bytes]  # replaced and dropped parts, after the head
    written: Written  # what the table holds once the plan is delivered


def encode_parts(state: ClientState, days: set[int] | None = None) -> dict[str, bytes]:
    """The parts of a state, by name, as the JSON bytes of a changelog record: every
    part, or the devices, the signals and the parts of these event-time days."""
    groups: dict[str, dict[str, dict[str, Any]]] = {}
    for event_id, at in state.seen.items():
        day = int(at // DAY)
        if days is None or day in days:
            groups.setdefault(f"d{day}", {}).setdefault("seen", {})[event_id] = at
    for name, when in FILED_BY.items():
        values = _VALUES[ClientState._RECORDS[name]]
        for key, rec in getattr(state, name).items():
            day = int(when(rec) // DAY)
            if days is None or day in days:
                groups.setdefault(f"d{day}", {}).setdefault(name, {})[key] = values(rec)
    if state.devices:
        groups["v"] = {"devices": dict(state.devices)}
    if state.signals:
        values = _VALUES[ClientState._RECORDS["signals"]]
        groups["s"] = {"signals": {k: values(s) for k, s in state.signals.items()}}
    if state.daily:  # a year of small records: one group, apart from the days' detail
        values = _VALUES[ClientState._RECORDS["daily"]]
        groups["t"] = {"daily": {k: values(d) for k, d in state.daily.items()}}
    parts: dict[str, bytes] = {}
    for name, group in groups.items():
        parts.update(_split(name, group))
    return parts


def plan(state: ClientState, before: Written) -> Plan | None:
    """What to write so the table holds `state`; None when nothing changed.

    Only the days the state says were touched since the last plan are encoded again
    (all of them after a prune, or when `before` is empty); the other parts stand.
    """
    days = state.take_touched()
    if not before.parts:
        days = None
    encoded = encode_parts(state, days)
    redone = None if days is None else {"v", "s", "t", *(f"d{d}" for d in days)}
    gen = before.gen + 1
    client = state.client_id
    parts: list[tuple[bytes, bytes]] = []
    after: dict[str, tuple[str, str]] = {}
    tombstones: list[bytes] = []
    for name, standing in before.parts.items():
        if redone is not None and _group(name) not in redone:
            after[name] = standing  # a day nothing touched: its parts stand
    for name, value in encoded.items():
        digest = _digest(value)
        known = before.parts.get(name)
        if known is not None and known[1] == digest:
            after[name] = known
            continue
        key = f"{name}@{gen}"
        parts.append((_part_key(client, key), value))
        after[name] = (key, digest)
        if known is not None:
            tombstones.append(_part_key(client, known[0]))
    tombstones += [_part_key(client, k) for n, (k, _) in before.parts.items() if n not in after]
    health = [getattr(state.health, n) for n in _FIELDS[HealthMemo]]
    newest = max(state.seen.values(), default=0.0)
    memo = _digest(orjson.dumps([health, newest]))
    if not parts and not tombstones and before.gen and memo == before.memo:
        return None
    head = {
        "v": LAYOUT_VERSION,
        "client_id": client,
        "gen": gen,
        "newest": newest,
        "health": health,
        "parts": {n: list(kd) for n, kd in after.items()},
    }
    written = Written(gen, after, memo)
    return Plan(parts, (head_key(client), orjson.dumps(head)), tombstones, written)


def _group(name: str) -> str:
    return name.split(".", 1)[0]


def _digest(value: bytes) -> str:
    return hashlib.blake2b(value, digest_size=10).hexdigest()


def decode_head(raw: bytes) -> dict[str, Any]:
    head: dict[str, Any] = orjson.loads(raw)
    if head.get("v") != LAYOUT_VERSION:
        raise ValueError(f"client state layout {head.get('v')!r} is not {LAYOUT_VERSION}")
    return head


def part_keys(head: Mapping[str, Any]) -> list[bytes]:
    return [_part_key(head["client_id"], key) for key, _ in head["parts"].values()]


def assemble(head: Mapping[str, Any], parts: Iterable[bytes]) -> ClientState:
    """A client's state from its head and the parts the head names."""
    state = ClientState(client_id=head["client_id"])
    for raw in parts:
        group = orjson.loads(raw)
        state.seen.update(group.get("seen", ()))
        if "devices" in group:
            state.devices.update(group["devices"])
        for name, rec in ClientState._RECORDS.items():
            records = group.get(name)
            if records:
                getattr(state, name).update({k: rec(*values) for k, values in records.items()})
    state.health = HealthMemo(*head["health"])
    return state


def seen_of(parts: Iterable[bytes]) -> set[str]:
    """The event ids a client's parts hold (only the day parts have any)."""
    seen: set[str] = set()
    for raw in parts:
        seen.update(orjson.loads(raw).get("seen", ()))
    return seen


def tickets_of(part: bytes) -> list[str]:
    """The ticket refs a part holds: its tickets, and the meetings and recommendations
    kept on a ticket (the tenant's `ticket_purpose`; their record is the ticket)."""
    group = orjson.loads(part)
    refs = list(group.get("tickets", ()))
    for name in ("meetings", "recommendations"):
        refs += [ref for ref in group.get(name, ()) if is_ticket_ref(ref)]
    return refs


def is_ticket_ref(ref: str) -> bool:
    """Whether a record reference (`source:entity:id`) names a ticket."""
    return ref.split(":", 2)[1:2] == ["ticket"]


def orphans(keys: Iterable[bytes], heads: Mapping[str, Mapping[str, Any]]) -> list[bytes]:
    """Part keys no head names (a checkpoint cut short by a crash): to be tombstoned."""
    named = {key for head in heads.values() for key in part_keys(head)}
    return [key for key in keys if is_part(key) and bytes(key) not in named]


def _part_key(client_id: str, key: str) -> bytes:
    return client_id.encode() + SEP + key.encode()


def _day(at: float) -> str:
    return f"d{int(at // DAY)}"


def _split(name: str, group: dict[str, dict[str, Any]]) -> dict[str, bytes]:
    whole = orjson.dumps(group)
    if len(whole) <= PART_LIMIT:
        return {name: whole}
    n = 2
    while True:
        buckets: list[dict[str, dict[str, Any]]] = [{} for _ in range(n)]
        for collection, records in group.items():
            for key, value in records.items():
                bucket = zlib.crc32(key.encode()) % n
                buckets[bucket].setdefault(collection, {})[key] = value
        encoded = [orjson.dumps(b) for b in buckets]
        if n >= MAX_SPLIT or all(len(e) <= PART_LIMIT for e in encoded):
            return {f"{name}.{i}-{n}": e for i, e in enumerate(encoded) if len(e) > 2}
        n *= 2
