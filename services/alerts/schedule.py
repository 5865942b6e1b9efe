"""When a notice may go out: settle time, cooldown, quiet hours, the daily digest (pure).

Times are Unix seconds; local times (quiet hours, digest) are read in the
tenant's `alerts.timezone`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from services.alerts.model import Purpose, Role
from services.events.alert_policy import AlertPolicy, QuietHours
from services.events.outputs import Severity

COOLED = (Purpose.opened, Purpose.updated)  # what a cooldown spaces out
DIGESTED = (Purpose.opened, Purpose.updated, Purpose.resolved)


@dataclass(frozen=True)
class Slot:
    due_at: float  # not before this
    held_until: float  # the policy's share of the wait (0: none); latency is counted after it
    digest: bool  # waits for the daily digest rather than going out alone


def _at(day: datetime, clock: time, zone: ZoneInfo) -> datetime:
    return datetime.combine(day.date(), clock, tzinfo=zone)


def quiet_end(ts: float, quiet: QuietHours, zone: ZoneInfo) -> float | None:
    """The end of the quiet hours `ts` falls in, or None when it falls outside them."""
    local = datetime.fromtimestamp(ts, zone)
    now = local.time()
    if quiet.start < quiet.end:  # e.g. 12:00-14:00, the same day
        if quiet.start <= now < quiet.end:
            return _at(local, quiet.end, zone).timestamp()
        return None
    if now >= quiet.start:  # e.g. 20:00-07:00: evening, ends tomorrow
        return _at(local + timedelta(days=1), quiet.end, zone).timestamp()
    if now < quiet.end:  # early morning, ends today
        return _at(local, quiet.end, zone).timestamp()
    return None


def next_digest_at(ts: float, clock: time, zone: ZoneInfo) -> float:
    """The first digest time strictly after `ts`."""
    local = datetime.fromtimestamp(ts, zone)
    candidate = _at(local, clock, zone)
    if candidate.timestamp() <= ts:
        candidate = _at(local + timedelta(days=1), clock, zone)
    return candidate.timestamp()


def schedule(
    purpose: Purpose,
    severity: Severity,
    role: Role,
    now: float,
    policy: AlertPolicy,
    *,
    settle: float = 0.0,
    last_for_risk: float | None = None,
) -> Slot:
    """When a notice of `purpose` about a risk of `severity` to a `role` may go out.

    `last_for_risk`: when this recipient was last told (or is due to be told) about the
    same client and risk; a cooldown spaces opened and updated notices from it.
    """
    due = now + settle
    held = 0.0
    if purpose in COOLED and last_for_risk is not None and policy.cooldown_minutes > 0:
        cooled = last_for_risk + policy.cooldown_minutes * 60
        if cooled > due:
            due = held = cooled
    digest = policy.digest
    if (
        digest.enabled
        and role is Role.lead
        and purpose in DIGESTED
        and severity in digest.severities
    ):
        due = held = next_digest_at(due, digest.at, policy.zone)
        return Slot(due, held, True)
    quiet = policy.quiet_hours
    if quiet is not None and (purpose is not Purpose.escalation or quiet.hold_escalations):
        end = quiet_end(due, quiet, policy.zone)
        if end is not None:
            due = held = end
    return Slot(due, held, False)
