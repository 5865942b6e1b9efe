"""Does a ticket announce a device change the RMM saw?

Only a ticket that concerns the change: a change or project ticket, or a procurement
or onboarding request (its summary or board says so, in the tenant's words), that names
the device (by any identity, or its hostname in the summary), its type ("new laptop"
for an RMM `WINDOWS_WORKSTATION`), its user, or the remote-access tool. When the change
cannot be named that way (the RMM reported no type, user or tool), such a ticket in the
window is enough; an unrelated request ("reset my password") never is.
"""

from __future__ import annotations

from services.classifier.domain.devices import Identities, names
from services.classifier.domain.state import ChangeRec, TicketRec
from services.classifier.domain.words import has_term, tokens
from services.events.models import Nature
from services.events.policy import ClassifierPolicy, UnannouncedChangePolicy

_MAY_BE_PROCUREMENT = frozenset({Nature.request.value, Nature.unknown.value})
# Log-ins that name no person.
_GENERIC_USERS = frozenset(
    "admin administrator user guest owner support test localadmin system it helpdesk "
    "service scan kiosk".split()
)


def announcing_kind(
    t: TicketRec, p: UnannouncedChangePolicy, natures: frozenset[str] | None = None
) -> bool:
    """A change/project ticket, or a procurement or onboarding request."""
    if natures is None:
        natures = frozenset(n.value for n in p.announcing_natures)
    if t.nature in natures:
        return True
    if t.nature not in _MAY_BE_PROCUREMENT:
        return False
    text = tokens(f"{t.summary or ''} {t.board or ''}")
    return has_term(text, p.procurement_terms) is not None


def user_words(user: str | None) -> list[str]:
    """`ACME\\jane.doe`, `jane.doe@acme.example` -> [`jane.doe`, `jane`, `doe`]."""
    if not user:
        return []
    login = user.strip().casefold().rsplit("\\", 1)[-1].split("@", 1)[0]
    if not login or login in _GENERIC_USERS:
        return []
    parts = [w for w in tokens(login.replace(".", " ").replace("_", " ")) if len(w) >= 3]
    return [login, *(w for w in parts if w not in _GENERIC_USERS)]


def type_words(device_type: str | None, p: UnannouncedChangePolicy) -> list[str]:
    """Words a ticket may use for the device's type (every word of its type's group)."""
    if not device_type:
        return []
    words = tokens(device_type.replace("_", " "))
    out: list[str] = []
    for group, terms in p.device_types.items():
        if group in words or has_term(words, terms) is not None:
            out += terms
    return out


def nameable(c: ChangeRec) -> bool:
    """Could a ticket written before the change have named it? A new device's hostname
    is rarely known in advance; its type, its user and a tool's name are."""
    return bool(c.device_type or c.user or c.tool)


def names_change(t: TicketRec, c: ChangeRec, policy: ClassifierPolicy) -> str | None:
    """How the ticket names the change (device, type, user or tool), if it does."""
    p = policy.detectors.unannounced_change
    identities = Identities(policy.device_identity)
    if identities(t.devices) & identities(c.keys):
        return "device"
    words = tokens(f"{t.summary or ''} {t.board or ''}")
    if has_term(words, names(c.keys)) is not None:
        return "hostname"
    if c.tool and has_term(words, [c.tool, *tokens(c.tool)[:1]]) is not None:
        return "tool"
    if has_term(words, user_words(c.user)) is not None:
        return "user"
    if has_term(words, type_words(c.device_type, p)) is not None:
        return "type"  # the loosest: last
    return None


def announces(t: TicketRec, c: ChangeRec, policy: ClassifierPolicy) -> bool:
    """Given a ticket of an announcing kind in the window before the change."""
    if names_change(t, c, policy) is not None:
        return True
    says_nothing = not t.summary and not t.devices  # nothing to judge it by
    return says_nothing or not nameable(c)
