"""Waiting for a condition instead of sleeping a fixed time."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import httpx

from services.platform import local_http

T = TypeVar("T")


def wait_for(what: str, check: Callable[[], T], timeout: float = 30.0, every: float = 0.1) -> T:
    """`check()` until it returns something truthy (returned); AssertionError naming
    `what` after `timeout` seconds. `check` may raise AssertionError to fail at once."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(every)


def answers(url: str, status: int = 200) -> bool:
    """Whether GET `url` answers `status` now (a refused connection is a no)."""
    try:
        return local_http.get(url, timeout=5).status_code == status
    except httpx.HTTPError:
        return False


def stays(what: str, check: Callable[[], bool], seconds: float, every: float = 0.1) -> None:
    """Assert `check()` holds for `seconds` (a thing that must NOT happen: no second email).
    The only honest fixed wait: the absence of an event can only be watched for a while."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert check(), f"{what} stopped holding"
        time.sleep(every)
    assert check(), f"{what} stopped holding"
