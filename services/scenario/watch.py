"""Watch a run of `evaluate` or `demo`: progress while it works, an end when it cannot.

A `Monitor` runs a thread beside the run. Every half second it reads the
supervisor's record of service exits (`services.json` in the pipeline's data
dir), checks that `partnerpulse up` is still there, and asks the `Watchdog`
whether the run should end; the replay feeds it every answer ingest gives.
When the watchdog trips, the monitor writes the reason (the service, its last
log error lines, the counts so far) and interrupts the run: a SIGINT to the main
thread (as Ctrl+C would), and an event the replay checks between deliveries.

Progress: on a terminal, rich progress bars; elsewhere (CI, a log file) a plain
line every `progress_every` seconds, so a long run is never silent.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from services.runtime.supervisor import read_status
from services.scenario.watchdog import Exit, Trip, Watchdog, WatchPolicy, last_errors

TICK = 0.5


class Monitor:
    def __init__(
        self,
        console: Console,
        *,
        policy: WatchPolicy | None = None,
        data_dir: Path | None = None,
        up_exit_code: Callable[[], int | None] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.console = console
        self.watchdog = Watchdog(policy, clock)
        self.data_dir = data_dir
        self.up_exit_code = up_exit_code
        self.abort = threading.Event()
        self.verdict: str | None = None  # why the run was ended, once it was
        self.hint = ""  # added to a verdict on refused deliveries
        self._lock = threading.Lock()
        self._kill = threading.Lock()  # no SIGINT once `stop` has returned
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="evaluate-watch", daemon=True)
        self._interrupt = threading.current_thread() is threading.main_thread()
        self._bar: Progress | None = None
        self._phase = ""
        self._done = self._total = 0
        self._task: TaskID | None = None
        self._started = time.monotonic()

    # -- feeds, from the run -----------------------------------------------------------

    def answered(self, source: str, status: int, error: str | None) -> None:
        with self._lock:
            self.watchdog.answered(source, status, error)

    def finished(self, source: str) -> None:
        with self._lock:
            self.watchdog.finished(source)
        self.advance(1)

    def phase(self, description: str, total: int) -> None:
        """A new stretch of work (`total` steps); `advance` counts them."""
        with self._lock:
            self._phase, self._done, self._total = description, 0, total
            self.watchdog.progressed()
            if self._bar is not None:
                self._task = self._bar.add_task(description, total=total)
        self._line()

    def advance(self, steps: int) -> None:
        with self._lock:
            self._done += steps
            if steps:
                self.watchdog.progressed()
            if self._bar is not None and self._task is not None:
                self._bar.advance(self._task, steps)

    # -- the thread -------------------------------------------------------------------

    def __enter__(self) -> Monitor:
        if self.console.is_terminal:
            self._bar = Progress(
                TextColumn("{task.description:<28}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=self.console,
            )
            self._bar.start()
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def stop(self) -> None:
        """No trip is acted on once this returns."""
        with self._kill:
            self._stopped.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join()
        if self._bar is not None:
            self._bar.stop()
            self._bar = None

    def _loop(self) -> None:
        last_line = time.monotonic()
        every = self.watchdog.policy.progress_every
        while not self._stopped.wait(TICK):
            trip = self._check()
            if trip is not None:
                self._end(trip)
                return
            if self._bar is None and time.monotonic() - last_line >= every:
                self._line()
                last_line = time.monotonic()

    def _check(self) -> Trip | None:
        if self.up_exit_code is not None and (code := self.up_exit_code()) is not None:
            return Trip("partnerpulse up", f"`partnerpulse up` exited with {code}")
        if self.data_dir is not None:
            for service, exits in read_status(self.data_dir / "services.json").items():
                seen = [Exit(float(e.get("at", 0.0)), _code(e.get("code"))) for e in exits]
                with self._lock:
                    self.watchdog.service_exits(service, seen)
        with self._lock:
            return self.watchdog.check()

    def _end(self, trip: Trip) -> None:
        with self._lock:
            self.verdict = self.explain(trip)
        self.abort.set()
        with self._kill:
            main = threading.main_thread().ident
            if self._interrupt and not self._stopped.is_set() and main is not None:
                signal.pthread_kill(main, signal.SIGINT)  # as Ctrl+C: ends any wait

    def why_stop(self) -> str | None:
        """Without the thread (e.g. while the stack starts): the verdict if it trips now."""
        trip = self._check()
        return None if trip is None else self.explain(trip)

    # -- words ------------------------------------------------------------------------

    def explain(self, trip: Trip) -> str:
        """The reason, the service's last errors and the counts, for a person to act on."""
        lines = [f"stopped the run: {trip.reason}."]
        if trip.last_error:
            lines.append(f"ingest's last answer: {trip.last_error}")
        if trip.source is not None and self.hint:
            lines.append(self.hint)
        log = self._log_of(trip.service)
        if log is not None:
            errors = last_errors(log)
            if errors:
                lines.append(f"last error lines of {log}:")
                lines += [f"    {e}" for e in errors]
            else:
                lines.append(f"its log, {log}, is empty")
        totals = self.watchdog.totals()
        answers = totals["answers"]
        assert isinstance(answers, dict)
        counted = ", ".join(f"{k} x{v}" for k, v in answers.items()) or "none"
        lines.append(f"deliveries finished {totals['sent']}; answers (retries included): {counted}")
        by_source = totals["by_source"]
        assert isinstance(by_source, dict)
        for source, counts in by_source.items():
            lines.append(f"    {source}: {counts}")
        if self._phase:
            lines.append(f"{self._phase}: {self._done}/{self._total} when it stopped")
        return "\n".join(lines)

    def _log_of(self, service: str) -> Path | None:
        if self.data_dir is None:
            return None
        if service == "partnerpulse up":
            return self.data_dir / "up.log"
        return self.data_dir / "logs" / f"{service}.log"

    def _line(self) -> None:
        if self._bar is not None or not self._phase:
            return
        with self._lock:
            totals = self.watchdog.totals()
            phase, done, total = self._phase, self._done, self._total
        answers = totals["answers"]
        assert isinstance(answers, dict)
        counted = ", ".join(f"{k} x{v}" for k, v in answers.items())
        elapsed = time.monotonic() - self._started
        extra = f" (answers: {counted})" if counted else ""
        self.console.print(
            f"[{elapsed:4.0f}s] {phase}: {done}/{total}{extra}", highlight=False, markup=False
        )


def _code(value: object) -> int | None:
    return value if isinstance(value, int) else None
