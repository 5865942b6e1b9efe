"""A client's review cadence (tenant file, `clients[].review_cadence`, in days): a review
that never took place is a skipped meeting too.

The skipped-meeting detector sees cancellations, no-shows and reschedules of meetings
that exist. A client who lets its quarterly review lapse, with nothing booked, leaves no
such trace; with a cadence, the review is overdue once the last review that took place
(held, or scheduled and past) is older than the cadence plus `GRACE_DAYS`. The evidence
is the client's latest review meeting that did not take place after it (cancelled, missed),
else that last review: a signal needs a record to point at, so a client with no review
meeting at all shows nothing here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from services.classifier.domain.state import DAY, ClientState

GRACE_DAYS = 14.0
_TOOK_PLACE = ("held", "scheduled")

F = TypeVar("F")


def review_overdue(
    state: ClientState, watermark: float, found: Callable[[str, float, str], F]
) -> list[F]:
    """At most one finding: the review due `cadence` days after the last one, overdue."""
    cadence = state.review_cadence_days
    if not cadence:
        return []
    reviews = sorted(
        (m for m in state.meetings.values() if m.kind == "review" and m.starts <= watermark),
        key=lambda m: m.starts,
    )
    if not reviews:
        return []
    took_place = [m for m in reviews if m.status in _TOOK_PLACE]
    base = took_place[-1] if took_place else reviews[0]
    due = base.starts + cadence * DAY
    if watermark < due + GRACE_DAYS * DAY:
        return []
    after = [m for m in reviews if m.starts > base.starts and m.status not in _TOOK_PLACE]
    evidence = after[-1] if after else base
    days = (watermark - base.starts) / DAY
    return [
        found(
            evidence.ref,
            due,
            f"no review for {days:.0f} days: the client's reviews are due every {cadence:.0f} days",
        )
    ]
