"""JSON depth and integer size are limited before parsing, in one place for every adapter."""

from __future__ import annotations

import json

import pytest

from services.ingest.adapters.base import (
    MAX_INTEGER_DIGITS,
    MAX_JSON_DEPTH,
    PayloadError,
    decode_json,
)


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def test_nesting_up_to_the_limit_parses_one_more_level_is_refused() -> None:
    assert decode_json(nested(MAX_JSON_DEPTH)) is not None
    with pytest.raises(PayloadError, match="nested deeper than 64"):
        decode_json(nested(MAX_JSON_DEPTH + 1))


def test_deep_nesting_that_would_crash_the_parser_is_refused_unparsed() -> None:
    with pytest.raises(PayloadError, match="nested deeper"):
        decode_json(b'{"a":' * 100_000 + b"1" + b"}" * 100_000)


def test_brackets_inside_strings_do_not_count() -> None:
    text = json.dumps({"note": "[[[{{{" * 100 + '\\"]]]', "list": [[1], [2]] * 50})
    assert decode_json(text)["list"][0] == [1]


def test_many_shallow_objects_are_not_deep() -> None:
    body = "\n".join(json.dumps({"a": [{"b": [1]}]}) for _ in range(500))
    assert decode_json(f"[{body.replace(chr(10), ',')}]")[0] == {"a": [{"b": [1]}]}


def test_integers_longer_than_the_limit_are_refused_long_digit_strings_are_not() -> None:
    assert decode_json(b'{"n": ' + b"9" * MAX_INTEGER_DIGITS + b"}")["n"] > 0
    with pytest.raises(PayloadError, match="more than 64 digits"):
        decode_json(b'{"n": -' + b"9" * (MAX_INTEGER_DIGITS + 1) + b"}")
    with pytest.raises(PayloadError, match="more than 64 digits"):
        decode_json(b'{"n": ' + b"9" * 5000 + b"}")  # Python's own limit is 4,300
    serial = "1" * 500
    assert decode_json(json.dumps({"serial": serial}))["serial"] == serial
    assert decode_json(b'{"f": 1' + b"0" * 400 + b".5}")["f"] > 1e300  # a float is no int
