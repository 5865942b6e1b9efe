"""Event-time sanity at the door: stale deliveries (replays) and events from the future.

Two checks, both set in the tenant file's `webhooks.freshness` (docs/security.md):

- `max_event_age_hours` (default 168, 7 days): a vendor delivery whose own time
  (Autotask EventTime, ConnectWise `_info.lastUpdated`, HaloPSA's action time,
  NinjaOne activityTime, Datto RMM [timestamp], Tactical RMM alert_time) is older
  than this is refused: a captured delivery replayed later proves nothing. Vendors
  retry for hours, not days, so the default leaves them room. Canonical events are
  not judged on age: their Standard Webhooks timestamp already is (5 minutes).
- `max_event_ahead_hours` (default 6): an event dated further ahead of its receive
  time than this is refused, whatever its source: one clock error would otherwise
  carry the classifier's watermark into the future.

Pure functions: the HTTP layer turns a `Refusal` into a 422 and a dead letter.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from services.events.models import CanonicalEvent, Source
from services.events.tenant import Freshness

STALE = "stale_event_time"
FUTURE = "future_event_time"


@dataclass(frozen=True)
class Refusal:
    reason: str  # STALE or FUTURE: the metric's reason label and the dead letter's
    field: str
    message: str
    event_id: str | None  # the event refused, for the dead letter's deduplication


def sent_time(
    source: Source, declared: datetime | None, events: Sequence[CanonicalEvent]
) -> datetime | None:
    """The time a vendor delivery is judged on: what the adapter read from the body, else
    the newest event time (NinjaOne, HaloPSA, Tactical RMM: the activity or alert time)."""
    if declared is not None or source is Source.canonical or not events:
        return declared
    return max(e.occurred_at for e in events)


def check(
    policy: Freshness,
    source: Source,
    received_at: datetime,
    sent_at: datetime | None,
    events: Sequence[CanonicalEvent],
) -> Refusal | None:
    if policy.max_event_ahead_hours is not None:
        ahead = timedelta(hours=policy.max_event_ahead_hours)
        for event in events:
            if event.occurred_at - received_at > ahead:
                return Refusal(
                    FUTURE,
                    "occurred_at",
                    f"event {event.event_id} occurred_at {event.occurred_at.isoformat()} is "
                    f"more than {policy.max_event_ahead_hours:g} hours ahead of its receive "
                    f"time {received_at.isoformat()} (webhooks.freshness.max_event_ahead_hours)",
                    event.event_id,
                )
        if sent_at is not None and sent_at - received_at > ahead:
            return Refusal(
                FUTURE,
                "sent time",
                f"the delivery is dated {sent_at.isoformat()}, more than "
                f"{policy.max_event_ahead_hours:g} hours ahead of its receive time "
                f"(webhooks.freshness.max_event_ahead_hours)",
                events[0].event_id if events else None,
            )
    if policy.max_event_age_hours is not None and sent_at is not None:
        if received_at - sent_at > timedelta(hours=policy.max_event_age_hours):
            return Refusal(
                STALE,
                "sent time",
                f"the delivery is dated {sent_at.isoformat()}, more than "
                f"{policy.max_event_age_hours:g} hours before its receive time "
                f"{received_at.isoformat()}: refused as a possible replay "
                "(webhooks.freshness.max_event_age_hours)",
                events[0].event_id if events else None,
            )
    return None
