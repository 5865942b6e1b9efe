"""Filter evaluation shared by the stand-ins: a record's field (or, when the body does
not carry the stamp, the time its version appeared) compared with a query value."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from services.vendorapi.records import Visible, parse_time


def field_value(record: Visible, name: str) -> Any:
    """A field by name (case-insensitive, dotted for nested objects)."""
    node: Any = record.body
    for part in name.split("."):
        if not isinstance(node, dict):
            return None
        lowered = {str(k).casefold(): v for k, v in node.items()}
        node = lowered.get(part.casefold())
    return node


def stamp(record: Visible, fields: tuple[str, ...]) -> datetime:
    """The record's modified stamp: the first field present, else its version's `at`."""
    for name in fields:
        value = parse_time(field_value(record, name))
        if value is not None:
            return value
    return record.at


def compare(left: Any, op: str, right: Any) -> bool:
    """`left op right` as the vendors compare: times as times, numbers as numbers."""
    if op == "in":
        return any(compare(left, "eq", item) for item in (right or []))
    if op in ("exist", "notexist"):
        return (left is not None) == (op == "exist")
    if left is None:
        return False
    lt, rt = parse_time(left) if isinstance(left, str) else None, None
    if isinstance(right, str) and lt is not None:
        rt = parse_time(right)
    a: Any
    b: Any
    if lt is not None and rt is not None:
        a, b = lt, rt
    else:
        try:
            a, b = float(left), float(right)
        except (TypeError, ValueError):
            a, b = str(left).casefold(), str(right).casefold()
    result: bool = {
        "eq": a == b,
        "noteq": a != b,
        "gt": a > b,
        "gte": a >= b,
        "lt": a < b,
        "lte": a <= b,
    }.get(op, False)
    return result
