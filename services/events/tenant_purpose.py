"""What a ticket is for, as the tenant decides by board, queue or ticket type.

MSPs keep their review meetings (a QBR board) and their recommendations (a vCIO or
roadmap queue) as PSA tickets. The tenant file's `ticket_purpose` picklist says which:
per source, keyed by ConnectWise `board.name`, Autotask `queueID` (or `type:<ticketType>`)
and HaloPSA `tickettype_id`. A ticket whose key maps to `review_meeting` becomes a
review Meeting, one that maps to `recommendation` a Recommendation; every other ticket
stays a ticket. Their statuses come from the `ticket_meeting_status` and
`recommendation_status` picklists, keyed by the ticket's status (name or id).

Records with only free text to go by (an Autotask appointment has a title, no type, no
status, no company) are read with `map_phrase` and `client_named`: picklist keys and
client names the text holds as whole words.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import TYPE_CHECKING

from services.events.models import Source

if TYPE_CHECKING:  # tenant.py imports this module
    from services.events.tenant import Tenant


class TicketPurpose(StrEnum):
    ticket = "ticket"
    review_meeting = "review_meeting"
    recommendation = "recommendation"


# The keys a `ticket_purpose` picklist may use, where the vendor sends integer ids.
_KEYS = {
    "autotask": (
        re.compile(r"^(queue:|type:)?\d+$"),
        "a queueID (29683495 or queue:29683495) or a ticketType (type:5)",
    ),
    "halopsa": (re.compile(r"^\d+$"), "a tickettype_id (an integer, e.g. 12)"),
}


def purpose_key_problem(source: str, key: str) -> str | None:
    """Why `key` cannot be a `ticket_purpose` key of `source`, or None if it can."""
    rule = _KEYS.get(source)
    if rule is None or rule[0].match(key.strip().casefold()):
        return None
    return f"{key!r} is not {rule[1]}"


def map_phrase(tenant: Tenant, source: Source, field: str, text: str | None) -> str | None:
    """The canonical value of a picklist key that free text (a title) holds as whole
    words: "QBR - Acme" holds "QBR". The earliest key in the text wins, then the longest;
    None when the text holds no key."""
    picklist = tenant.picklist(source, field)
    if picklist is None or not text:
        return None
    held = _words(text)
    found = [(held.find(_words(k)), -len(k), k) for k in picklist.values if _words(k).strip()]
    first = min((f for f in found if f[0] >= 0), default=None)
    return None if first is None else picklist.values[first[2]]


def client_named(tenant: Tenant, *texts: str | None) -> str | None:
    """The client whose name one of the texts holds as whole words (the longest name):
    for records that carry no company, such as Autotask appointments."""
    held = " ".join(_words(t) for t in texts if t)
    named = [c for c in tenant.clients if _words(c.name).strip() and _words(c.name) in held]
    return max(named, key=lambda c: len(c.name)).id if named else None


def _words(text: str) -> str:
    return " " + " ".join(re.findall(r"\w+", text.casefold())) + " "
