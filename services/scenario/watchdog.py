"""When a run of `evaluate` or `demo` should stop waiting: pure decisions on a clock.

Two things make a wait hopeless, and each ends the run with the reason:

- a service that exits again and again (`restarts` exits within
  `restart_window` seconds): `partnerpulse up` restarts it with back-off for
  ever, and what it should do is never done;
- a service that exits while the run makes no progress for `stall` seconds (a
  crash loop slower than the first rule: a worker that dies at each checkpoint);
- deliveries one source keeps refusing: for `refusal_span` seconds every answer
  to that source's deliveries (retries included) was a refusal, at least
  `refusals` of them (for example every ConnectWise delivery answered 429 because
  the signing key cannot be fetched).

A refusal is any answer but a 2xx, and no answer at all; a 422 is not one (it is
ingest's verdict on that body, which a scenario may hold on purpose). The clock
is injected so that the rules are tested without waiting.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class WatchPolicy:
    restarts: int = 3  # exits of one service ...
    restart_window: float = 60.0  # ... within this many seconds end the run
    refusals: int = 5  # at least this many refusals in a row from one source ...
    refusal_span: float = 30.0  # ... and nothing but refusals for this long end the run
    stall: float = 60.0  # no progress this long, with a service exiting meanwhile, ends it
    progress_every: float = 5.0  # seconds between progress lines when not on a terminal


@dataclass(frozen=True)
class Exit:
    at: float  # the clock's time (unix time for the supervisor's status file)
    code: int | None


@dataclass
class SourceCounts:
    sent: int = 0  # deliveries finished (answered for good, or given up)
    answers: Counter[str] = field(default_factory=Counter)  # status -> answers, retries included
    streak: int = 0  # refusals in a row
    streak_since: float | None = None
    last_error: str = ""

    def as_dict(self) -> dict[str, object]:
        return {"sent": self.sent, "answers": dict(sorted(self.answers.items()))}


@dataclass(frozen=True)
class Trip:
    """Why the run ends: which service, and what it did."""

    service: str
    reason: str
    source: str | None = None  # the source whose deliveries were refused
    last_error: str = ""  # the last refusal's text, or ""


def is_refusal(status: int) -> bool:
    return not 200 <= status < 300 and status != 422


def status_label(status: int) -> str:
    return str(status) if status else "no answer"


class Watchdog:
    """Feeds of what happens (exits, answers), and `check` says whether to stop."""

    def __init__(self, policy: WatchPolicy | None = None, clock: Callable[[], float] = time.time):
        self.policy = policy or WatchPolicy()
        self.clock = clock
        self.exits: dict[str, list[Exit]] = {}
        self.sources: dict[str, SourceCounts] = {}
        self.progressed_at: float | None = None  # when the run last moved on

    # -- feeds -------------------------------------------------------------------------

    def service_exits(self, service: str, exits: Iterable[Exit]) -> None:
        """Every exit of `service` known so far (the supervisor's list replaces ours)."""
        self.exits[service] = sorted(exits, key=lambda e: e.at)

    def answered(self, source: str, status: int, error: str | None = None) -> None:
        """One answer to one attempt at a delivery (a retry is another answer)."""
        counts = self.sources.setdefault(source, SourceCounts())
        counts.answers[status_label(status)] += 1
        if is_refusal(status):
            if counts.streak == 0:
                counts.streak_since = self.clock()
            counts.streak += 1
            counts.last_error = error or ""
        else:
            counts.streak, counts.streak_since = 0, None

    def progressed(self) -> None:
        """The run moved on (a delivery done, an event processed, a new phase)."""
        self.progressed_at = self.clock()

    def finished(self, source: str) -> None:
        """One delivery is done with (its last answer was given to `answered`)."""
        self.sources.setdefault(source, SourceCounts()).sent += 1

    # -- the decision --------------------------------------------------------------------

    def check(self) -> Trip | None:
        now, p = self.clock(), self.policy
        for service, exits in sorted(self.exits.items()):
            recent = [e for e in exits if now - e.at <= p.restart_window]
            if len(recent) >= p.restarts:
                codes = ", ".join("?" if e.code is None else str(e.code) for e in recent)
                return Trip(
                    service,
                    f"{service} exited {len(recent)} times within {p.restart_window:.0f} s "
                    f"(exit codes {codes}); `partnerpulse up` keeps restarting it",
                )
        since = self.progressed_at
        if since is not None and now - since >= p.stall:
            for service, exits in sorted(self.exits.items()):
                during = [e for e in exits if e.at >= since]
                if during:
                    return Trip(
                        service,
                        f"{service} exited {len(during)} time(s) (last exit code "
                        f"{during[-1].code}) and the run has not moved on for {now - since:.0f} s",
                    )
        for source, counts in sorted(self.sources.items()):
            since = counts.streak_since
            if since is None or counts.streak < p.refusals or now - since < p.refusal_span:
                continue
            statuses = ", ".join(
                f"{label} x{n}" for label, n in sorted(counts.answers.items()) if label[0] != "2"
            )
            return Trip(
                "ingest",
                f"ingest refused every {source} delivery for {now - since:.0f} s "
                f"({counts.streak} answers in a row; {source} answers so far: {statuses})",
                source=source,
                last_error=counts.last_error,
            )
        return None

    # -- what it saw ----------------------------------------------------------------------

    def totals(self) -> dict[str, object]:
        answers: Counter[str] = Counter()
        for counts in self.sources.values():
            answers.update(counts.answers)
        return {
            "sent": sum(c.sent for c in self.sources.values()),
            "answers": dict(sorted(answers.items())),
            "by_source": {s: c.as_dict() for s, c in sorted(self.sources.items())},
        }


# -- the last errors in a service's log ---------------------------------------------------

_ERROR = re.compile(
    r"\b(ERROR|CRITICAL|FATAL)\b|^Traceback|^[\w.]*(Error|Exception|Exit|Interrupt)\b(:|$)"
)
TAIL_BYTES = 64 * 1024


def last_errors(log_file: Path, lines: int = 3) -> list[str]:
    """The last error lines of a log (the exception line of a traceback included);
    its last lines when none looks like an error; [] when there is no log."""
    try:
        with log_file.open("rb") as f:
            f.seek(0, 2)
            size = f.tell()
            f.seek(max(0, size - TAIL_BYTES))
            text = f.read().decode(errors="replace")
    except OSError:
        return []
    rows = [r.rstrip() for r in text.splitlines() if r.strip()]
    if size > TAIL_BYTES and rows:
        rows = rows[1:]  # most likely cut in the middle
    errors = [r for r in rows if _ERROR.search(r) and not r.startswith("Traceback")]
    latest = list(reversed(dict.fromkeys(reversed(errors or rows))))  # a repeat once, last
    return [r[:500] for r in latest[-lines:]]
