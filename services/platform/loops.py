"""A loop in a daemon thread that stops when asked, and the back-off it waits between
failures."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Self


@dataclass
class Backoff:
    """Exponential back-off: `first`, doubled after each failure up to `most`,
    back to `first` after a success."""

    first: float = 0.2
    most: float = 5.0
    current: float = field(init=False)

    def __post_init__(self) -> None:
        self.current = self.first

    def failed(self) -> float:
        """The delay to wait now; the next one is doubled."""
        delay = self.current
        self.current = min(self.current * 2, self.most)
        return delay

    def succeeded(self) -> None:
        self.current = self.first


class Worker:
    """Subclasses write `_run`, which loops until `self._stop` is set (waiting on it
    with `self._stop.wait(delay)`, never a bare sleep, so `stop` is prompt)."""

    thread_name = "worker"

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> Self:
        self._thread = threading.Thread(target=self._run, name=self.thread_name, daemon=True)
        self._thread.start()
        return self

    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def stop(self, timeout: float = 15.0) -> None:
        """Ask the loop to end after its current step, and wait for it."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        raise NotImplementedError
