"""The client states a worker holds: live objects over the table they are written to.

The table (faust's `client-state`, or any mapping in tests) holds each client's
state as the bounded records of services/classifier/domain/layout.py. This module reads
them back into live `ClientState` objects, remembers which changed since the last
checkpoint and what the table holds of each (so a checkpoint writes only what
changed), and answers the schedule join's lookup: which client's state holds a
ticket (`TicketOwners`, services/classifier/domain/schedule_join.py).
No faust here: the agent's checkpoint (services/classifier/agent.py) does the writes.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from services.classifier.domain import layout
from services.classifier.domain.state import ClientState

log = logging.getLogger("partnerpulse.classifier")


class ClientStates:
    """The states of the clients seen, over the table that recovers them."""

    def __init__(self, table: Mapping[Any, Any]) -> None:
        self.table = table
        self.live: dict[str, ClientState] = {}  # state objects of the clients seen
        self.written: dict[str, layout.Written] = {}  # what the table holds of them
        self.unsaved: dict[str, ClientState] = {}  # changed since the last checkpoint
        # The states the batch under way folded into (not all written back yet).
        self.batch: Mapping[str, ClientState] = {}
        self._ticket_owner: dict[str, str] = {}
        self._tickets_indexed = False  # _ticket_owner holds every ticket of the table

    def state_of(self, client_id: str, *, keep: bool = True) -> ClientState | None:
        """The live state object; after a restart, rebuilt once from the recovered table.

        Readers outside the agent and the timer (the API) pass keep=False: during a
        recovery the table is half-read, and a state cached from it would be stale.
        """
        state = self.live.get(client_id)
        if state is None:
            raw = self.table.get(layout.head_key(client_id))
            if raw is not None:
                head = layout.decode_head(raw)
                parts = [self.table.get(key) for key in layout.part_keys(head)]
                if any(part is None for part in parts):
                    log.error("client %s: state parts missing from the table", client_id)
                state = layout.assemble(head, [p for p in parts if p is not None])
                if keep:
                    self.live[client_id] = state
                    self.written[client_id] = layout.Written.of_head(head)
        return state

    def write(self, state: ClientState) -> None:
        """A client's state changed: the next checkpoint writes it to the table."""
        self.unsaved[state.client_id] = state
        self.live[state.client_id] = state

    def plans(self) -> list[tuple[str, layout.Plan]]:
        """The records that bring the table up to the states changed since the last
        checkpoint (as they stand now); those states count as saved from here on."""
        plans = []
        for state in self.unsaved.values():
            before = self.written.get(state.client_id, layout.Written())
            planned = layout.plan(state, before)
            if planned is not None:
                plans.append((state.client_id, planned))
        self.unsaved = {}
        return plans

    def heads(self) -> dict[str, dict[str, Any]]:
        return {
            layout.client_of(key): layout.decode_head(value)
            for key, value in self.table.items()
            if not layout.is_part(key)
        }

    def orphans(self) -> list[bytes]:
        """The parts no head names (a checkpoint a crash cut short)."""
        keys = [bytes(k) for k in self.table.keys()]
        return layout.orphans(keys, self.heads())

    def seen(self) -> set[str]:
        """The ids of every event folded into a state this worker holds."""
        live = self.live  # newer than the table until the next checkpoint
        seen_sets: list[Iterable[str]] = [state.seen for state in live.values()]
        for client_id, head in self.heads().items():
            if client_id not in live:
                parts = (self.table.get(key) for key in layout.part_keys(head))
                seen_sets.append(layout.seen_of(p for p in parts if p is not None))
        return set().union(*seen_sets)

    # -- TicketOwners: the ConnectWise schedule join's lookup --------------------------

    def owner_of(self, ticket_ref: str) -> str | None:
        owner = self._ticket_owner.get(ticket_ref)
        if owner is not None:
            return owner
        for client_id, state in self.batch.items():
            if (
                ticket_ref in state.tickets
                or ticket_ref in state.meetings
                or ticket_ref in state.recommendations
            ):
                self._ticket_owner[ticket_ref] = client_id
                return client_id
        if not self._tickets_indexed:
            # Once after a start or a rebalance: every ticket the table holds.
            self._tickets_indexed = True
            for key, value in self.table.items():
                if layout.is_part(key):
                    client_id = layout.client_of(key)
                    for ref in layout.tickets_of(value):
                        self._ticket_owner.setdefault(ref, client_id)
            return self._ticket_owner.get(ticket_ref)
        return None

    def remember(self, ticket_ref: str, client_id: str) -> None:
        self._ticket_owner[ticket_ref] = client_id

    def reindex(self) -> None:
        """Partitions were assigned: the next unknown ticket indexes the table again."""
        self._tickets_indexed = False

    def forget(self) -> None:
        """Partitions were revoked: they may come back recovered from elsewhere."""
        self.live.clear()
        self.written.clear()
        self.unsaved.clear()
        self._ticket_owner.clear()
        self._tickets_indexed = False
