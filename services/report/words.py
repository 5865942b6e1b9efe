"""The report's words for why a visit was proactive or reactive, for a business owner
(not the classifier's rule names). The habits' words: services/events/wording.py."""

from __future__ import annotations

from services.classifier.domain.state import HOUR, TicketRec, WorkRec

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
