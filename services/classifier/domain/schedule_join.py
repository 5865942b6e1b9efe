"""ConnectWise schedule entries joined to their ticket's client.

A ConnectWise schedule entry (a time entry, visit or meeting booked on a ticket)
names no company: its client is the client whose state holds its ticket. When
that ticket is known, the entry is folded as the ticket's client's; when it is
not (yet), the entry waits, parked under the ticket's reference, and is folded
as soon as the ticket arrives, in the order the entries came.

The rules are pure; what they look up and where entries wait are ports:
`TicketOwners` (which client's state holds a ticket: the classifier answers from
its client states) and `Parking` (the classifier keeps it in a table of its own,
recovered with the states).
"""

from __future__ import annotations

from typing import Protocol

from services.classifier.domain.folding import owner_needed
from services.events.models import CanonicalEvent


class TicketOwners(Protocol):
    """The state lookup: which client a ticket belongs to."""

    def owner_of(self, ticket_ref: str) -> str | None:
        """The client whose state holds the ticket; None when no state holds it."""

    def remember(self, ticket_ref: str, client_id: str) -> None:
        """The ticket was just folded into this client's state."""


class Parking(Protocol):
    """Events waiting for their ticket, by the ticket's reference."""

    def park(self, ticket_ref: str, event: CanonicalEvent) -> None:
        """Keep the event, after those already waiting for the ticket."""

    def take(self, ticket_ref: str) -> list[CanonicalEvent]:
        """Every event waiting for the ticket, in the order parked; none wait after."""

    def forget(self) -> None:
        """Partitions were revoked: what is parked is read from durable storage again."""


class MemoryParking:
    """`Parking` in memory: for one process's replay (bench/offline_eval.py) and tests.
    The worker parks in its table (services/classifier/tables.py), which survives it."""

    def __init__(self) -> None:
        self.waiting: dict[str, list[CanonicalEvent]] = {}

    def park(self, ticket_ref: str, event: CanonicalEvent) -> None:
        self.waiting.setdefault(ticket_ref, []).append(event)

    def take(self, ticket_ref: str) -> list[CanonicalEvent]:
        return self.waiting.pop(ticket_ref, [])

    def forget(self) -> None:
        """Nothing to read again: the waiting events are this object's."""


class ScheduleJoin:
    """Gives every event its client: its own, its ticket's, or none yet (parked)."""

    def __init__(self, owners: TicketOwners, parking: Parking) -> None:
        self.owners = owners
        self.parking = parking

    def attribute(self, event: CanonicalEvent) -> CanonicalEvent | None:
        """The event as its client's; None when it waits for its ticket (parked)."""
        ticket_ref = owner_needed(event)
        if ticket_ref is None:
            return event
        owner = self.owners.owner_of(ticket_ref)
        if owner is None:
            self.parking.park(ticket_ref, event)
            return None
        return event.model_copy(update={"client_id": owner, "client_known": True})

    def ticket_folded(self, ticket_ref: str, client_id: str) -> list[CanonicalEvent]:
        """A ticket was folded into a client's state: the events that waited for it,
        to be folded now (each then `attribute`d to that client)."""
        self.owners.remember(ticket_ref, client_id)
        return self.parking.take(ticket_ref)
