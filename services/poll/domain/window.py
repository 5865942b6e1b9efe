"""Watermark arithmetic and record stamps: when a run starts reading, what it skips."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from services.poll.domain.specs import EntitySpec

RecordKey = tuple[datetime, str]
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def parse_stamp(value: Any) -> datetime | None:
    """ISO 8601 (Z or offset; naive means UTC) or epoch seconds / milliseconds."""
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        if isinstance(value, int | float):
            number = float(value)
            return datetime.fromtimestamp(number / 1000 if number > 1e11 else number, UTC)
        parsed = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
    except (ValueError, OverflowError, OSError):
        return None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)


def get_path(record: Mapping[str, Any], path: str) -> Any:
    node: Any = record
    for part in path.split("."):
        if not isinstance(node, Mapping):
            return None
        node = node.get(part)
    return node


def record_id(spec: EntitySpec, record: Mapping[str, Any]) -> str:
    value = record.get(spec.id_field)
    if value is None or str(value).strip() == "":
        raise ValueError(f"{spec.source} {spec.entity}: a record without {spec.id_field}")
    return str(value).strip()


def record_time(spec: EntitySpec, record: Mapping[str, Any]) -> datetime | None:
    """The record's last-modified stamp: the first of the spec's time fields present."""
    for field in spec.time_fields:
        stamp = parse_stamp(get_path(record, field))
        if stamp is not None:
            return stamp
    return None


def record_key(spec: EntitySpec, record: Mapping[str, Any]) -> RecordKey:
    """(stamp, id): the order a run reads in, ids as zero-padded numbers where numeric."""
    rid = record_id(spec, record)
    return (record_time(spec, record) or _EPOCH, rid.zfill(20) if rid.isdigit() else rid)


def in_order(spec: EntitySpec, records: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    return sorted((dict(r) for r in records), key=lambda r: record_key(spec, r))


def read_from(watermark: datetime | None, now: datetime, backfill: timedelta) -> datetime:
    """Where a run starts: the stored watermark, or `backfill` before now on the first run."""
    return watermark if watermark is not None else now - backfill


def next_watermark(run_started_at: datetime, overlap: timedelta) -> datetime:
    """After a successful run: its start minus the overlap. A record modified during the
    run, or made visible late, is read again next time; event ids make that harmless."""
    return run_started_at - overlap


def after(
    spec: EntitySpec, records: Iterable[Mapping[str, Any]], checkpoint: RecordKey | None
) -> list[dict[str, Any]]:
    """The records past a checkpoint: what a resumed run still has to post."""
    ordered = in_order(spec, records)
    if checkpoint is None:
        return ordered
    return [r for r in ordered if record_key(spec, r) > checkpoint]


def iso_z(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
