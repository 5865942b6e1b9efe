"""The report's words: why a visit was proactive or reactive, and the habits, for a
business owner (not the classifier's rule names)."""

from __future__ import annotations

from dataclasses import dataclass

from services.classifier.state import HOUR, TicketRec, WorkRec
from services.events.outputs import Behaviour

_NATURE = {
    "maintenance": "planned maintenance",
    "review": "scheduled review",
    "project": "planned project work",
}


def visit_reason(
    w: WorkRec, ticket: TicketRec | None, rule: str, initiator: str, nature: str
) -> str:
    """Why a visit was proactive or reactive, in plain words."""
    booked = ""
    if w.booked is not None and w.at - w.booked >= 24 * HOUR:
        days = int((w.at - w.booked) // (24 * HOUR))
        booked = f", booked {days} day{'s' if days != 1 else ''} ahead"
    if nature in _NATURE:
        return _NATURE[nature] + booked
    if initiator == "rmm":
        if nature in ("incident", "problem"):
            return "a fault found by our monitoring before anyone reported it"
        return "found by our monitoring" + booked
    if rule == "visit:booked_ahead":
        return "a planned visit" + booked
    if rule.endswith("msp_planned_change") or rule.endswith("msp_planned_request"):
        return "a change we planned" + booked
    if initiator == "msp_scheduled":
        return "work we scheduled" + booked
    if nature in ("incident", "problem"):
        how = " (reported directly to a technician)" if initiator == "direct_to_tech" else ""
        return f"a reported problem{how}"
    if nature in ("request", "change"):
        return f"your {nature}" + booked
    if rule == "visit:same_day":
        return "booked the same day, at short notice"
    return "unplanned work"


@dataclass(frozen=True)
class HabitWords:
    title: str
    seen: str  # "{n} requests went straight to a technician"
    helps: str

    def text(self, n: int) -> str:
        return f"{self.seen.format(n=n, s='' if n == 1 else 's')}. {self.helps}"


HABITS: dict[Behaviour, HabitWords] = {
    Behaviour.direct_to_tech: HabitWords(
        "Requests through the service desk",
        "{n} request{s} went straight to a technician rather than to the service desk",
        "Through the service desk, every request is logged, prioritised and handled even "
        "when that technician is away, and nothing waits unseen.",
    ),
    Behaviour.late_reporting: HabitWords(
        "Reporting problems early",
        "{n} problem{s} reached us some time after our monitoring or your staff saw them",
        "A quick call or e-mail as soon as something seems wrong lets us fix it while it "
        "is still small.",
    ),
    Behaviour.skipped_meeting: HabitWords(
        "Keeping our review meetings",
        "{n} planned meeting{s} did not take place or were moved at short notice",
        "Regular reviews are where we plan ahead together; a short one beats none.",
    ),
    Behaviour.ignored_recommendation: HabitWords(
        "Deciding on recommendations",
        "{n} recommendation{s} were declined or are still waiting for a decision",
        "A clear yes or no, even a no, lets us plan budgets and risks with you.",
    ),
    Behaviour.unannounced_change: HabitWords(
        "Telling us about changes",
        "{n} device{s} or remote-access tool{s} appeared without a request beforehand",
        "A short note before a new device or tool arrives lets us secure and support it "
        "from the first day.",
    ),
}
