"""Hostile bodies, headers and query strings for the fuzz tests (hypothesis strategies).

Bodies come in five kinds, each aimed at a failure seen before (issue 11): a real
vendor payload (tests/fixtures/payloads/<source>/) with fields replaced by arbitrary
JSON, so the adapters' deeper paths are reached; arbitrary JSON; raw bytes; nesting
deeper than any parser's recursion; integers longer than Python's 4,300 digits.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from services.events.models import Source

PAYLOADS = Path(__file__).resolve().parents[1] / "fixtures" / "payloads"

# Any JSON value, unicode (lone surrogates included, as \\ud800 escapes) and big numbers too.
scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(10**80), max_value=10**80)
    | st.floats()  # NaN and infinities: json.dumps writes NaN / Infinity, Python reads them
    | st.text(max_size=40)
    | st.sampled_from(["", "2099-01-01T00:00:00Z", "1970-01-01", "not a date", "\x00", "-1"])
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)


def fixtures(source: Source) -> list[Any]:
    """Every payload fixture of `source` (NDJSON lines one each), parsed."""
    documents: list[Any] = []
    for path in sorted((PAYLOADS / source.value).iterdir()):
        text = path.read_text()
        if path.suffix == ".ndjson":
            documents += [json.loads(line) for line in text.splitlines() if line.strip()]
        else:
            documents.append(json.loads(text))
    return documents


@st.composite
def mutated(draw: st.DrawFn, source: Source) -> Any:
    """A real payload of `source` with up to four fields (top level or one below) replaced."""
    document = draw(st.sampled_from(fixtures(source)))
    document = json.loads(json.dumps(document))  # a copy to change
    item = document[0] if isinstance(document, list) and document else document
    if not isinstance(item, dict):
        return document
    for _ in range(draw(st.integers(1, 4))):
        target = item
        nested = [k for k, v in item.items() if isinstance(v, dict)]
        if nested and draw(st.booleans()):
            target = item[draw(st.sampled_from(nested))]
        keys = sorted(target) or ["x"]
        key = draw(st.sampled_from(keys) | st.text(max_size=8))
        if draw(st.integers(0, 5)) == 0:
            target.pop(key, None)
        else:
            target[key] = draw(json_values)
    return document


def _dumps(value: Any) -> bytes:
    return json.dumps(value).encode()


@st.composite
def deep(draw: st.DrawFn, source: Source) -> bytes:
    """A body nested deeper than any recursive parser goes, inside a real payload or bare."""
    depth = draw(st.sampled_from([65, 200, 1_000, 5_000, 50_000]))
    opener, closer = draw(st.sampled_from([("[", "]"), ('{"a":', "}")]))
    nested = opener * depth + "1" + closer * depth
    if draw(st.booleans()):
        return nested.encode()
    document = draw(st.sampled_from(fixtures(source)))
    item = document[0] if isinstance(document, list) and document else document
    key = draw(st.sampled_from(sorted(item))) if isinstance(item, dict) and item else "x"
    return _dumps({key: "@"}).replace(b'"@"', nested.encode())


@st.composite
def huge_integer(draw: st.DrawFn, source: Source) -> bytes:
    """A payload with an integer of 65 to 20,000 digits in one of its fields."""
    digits = "9" * draw(st.sampled_from([65, 4_301, 20_000]))
    document = draw(st.sampled_from(fixtures(source)))
    item = document[0] if isinstance(document, list) and document else document
    key = draw(st.sampled_from(sorted(item))) if isinstance(item, dict) and item else "x"
    copy = dict(item) if isinstance(item, dict) else {}
    copy[key] = "@"
    return _dumps(copy).replace(b'"@"', digits.encode())


def bodies(source: Source) -> st.SearchStrategy[bytes]:
    return st.one_of(
        mutated(source).map(_dumps),
        mutated(source).map(_dumps),  # twice: the kind that reaches furthest
        json_values.map(_dumps),
        st.binary(max_size=200),
        deep(source),
        huge_integer(source),
    )


# Header values an HTTP client can send (latin-1, no line breaks).
header_values = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"),
    max_size=60,
)
header_names = st.sampled_from(
    [
        "authorization",
        "content-type",
        "x-hook-signature",
        "x-content-signature",
        "x-ninja-secret",
        "x-datto-secret",
        "x-tactical-secret",
        "webhook-id",
        "webhook-timestamp",
        "webhook-signature",
        "content-encoding",
        "x-anything",
    ]
)
hostile_headers = st.dictionaries(header_names, header_values, max_size=4)
query_strings = st.lists(
    st.tuples(st.sampled_from(["days", "state", "x", "", "days[]"]), st.text(max_size=20)),
    max_size=3,
)
