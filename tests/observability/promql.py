"""What a PromQL expression names and where it filters, read from its syntax tree.

The parser is promql-parser (the Rust crate's Python binding), so a selector in a
label matcher, a `by (...)` clause or a function name is never mistaken for a metric.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import promql_parser as pp

COMPARISONS = frozenset({"==", "!=", ">", "<", ">=", "<="})
SET_OPERATORS = frozenset({"and", "or", "unless"})
RANGE_RATES = frozenset({"rate", "irate", "increase"})


@dataclass(frozen=True)
class Matcher:
    label: str
    op: str  # "=", "!=", "=~", "!~"
    value: str


@dataclass(frozen=True)
class Selector:
    metric: str
    matchers: tuple[Matcher, ...]


_MATCH_OPS = {"Equal": "=", "NotEqual": "!=", "Re": "=~", "NotRe": "!~"}


def parse(expr: str) -> pp.Expr:
    return pp.parse(expr)


def _children(node: pp.Expr) -> list[pp.Expr]:
    if isinstance(node, pp.BinaryExpr):
        return [node.lhs, node.rhs]
    if isinstance(node, pp.AggregateExpr):
        return [node.expr] + ([node.param] if node.param is not None else [])
    if isinstance(node, pp.Call):
        return list(node.args)
    if isinstance(node, pp.MatrixSelector):
        return [node.vector_selector]
    if isinstance(node, pp.ParenExpr | pp.UnaryExpr | pp.SubqueryExpr):
        return [node.expr]
    return []


def walk(node: pp.Expr) -> Iterator[pp.Expr]:
    yield node
    for child in _children(node):
        yield from walk(child)


def selectors(expr: str) -> list[Selector]:
    found = []
    for node in walk(parse(expr)):
        if isinstance(node, pp.VectorSelector):
            matchers = tuple(
                Matcher(m.name, _MATCH_OPS[str(m.op).rsplit(".", 1)[-1]], m.value)
                for m in node.matchers.matchers
                if m.name != "__name__"
            )
            found.append(Selector(node.name or "", matchers))
    return found


def metric_names(expr: str) -> set[str]:
    return {s.metric for s in selectors(expr)}


def rate_ranges(expr: str) -> list[tuple[str, timedelta]]:
    """(function, range) of every rate(), irate() and increase() in the expression."""
    ranges = []
    for node in walk(parse(expr)):
        if isinstance(node, pp.Call) and node.func.name in RANGE_RATES:
            for arg in node.args:
                if isinstance(arg, pp.MatrixSelector):
                    ranges.append((node.func.name, arg.range))
    return ranges


def matrix_ranges(expr: str) -> list[timedelta]:
    return [n.range for n in walk(parse(expr)) if isinstance(n, pp.MatrixSelector)]


def _is_filter(node: pp.Expr) -> bool:
    if not isinstance(node, pp.BinaryExpr):
        return False
    op = str(node.op)
    if op in SET_OPERATORS:
        return True
    return op in COMPARISONS and not (node.modifier is not None and node.modifier.return_bool)


def _has_selector(node: pp.Expr) -> bool:
    return any(isinstance(n, pp.VectorSelector) for n in walk(node))


def underlying_series(expr: str) -> list[str]:
    """The operands an alert expression filters: what must exist for it to ever fire.

    Every filtering comparison (`X > 0.1`, `X == 1`, `X > Y` without `bool`) and every
    set operator (`and`, `or`, `unless`) is split into its operands, recursively, also
    inside aggregations (`count by (job) (up == 0)` gives `up`); operands without a
    series (number literals) are dropped. An expression without a filter is its own
    underlying series.
    """
    tree = parse(expr)
    if not any(_is_filter(n) for n in walk(tree)):
        return [str(tree)]
    operands: list[str] = []

    def split(node: pp.Expr) -> None:
        if not _has_selector(node):
            return
        if not any(_is_filter(n) for n in walk(node)):
            operands.append(str(node))
            return
        if _is_filter(node):
            split(node.lhs)
            split(node.rhs)
            return
        for child in _children(node):
            split(child)

    split(tree)
    return operands
