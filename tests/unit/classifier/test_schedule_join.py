"""ConnectWise schedule entries name no company: they belong to their ticket's client.

The join's rules on a fake lookup and parking (services/classifier/domain/schedule_join.py),
then the processor applying them with no faust and no broker.
"""

from __future__ import annotations

from typing import Any

from services.classifier.domain.schedule_join import MemoryParking, ScheduleJoin
from services.classifier.metrics import ClassifierMetrics
from services.classifier.processor import Processor
from services.classifier.settings import ClassifierSettings
from services.classifier.states import ClientStates
from services.events import topics
from services.events.models import CanonicalEvent
from services.events.tenant import Tenant

from .factory import at, event, ticket, time_entry, visit

TICKET_7 = "connectwise:ticket:7"
NO_COMPANY = "unassigned"  # what ingest names when the source names no company


class Owners:
    """A fake `TicketOwners`: ticket reference -> the client whose state holds it."""

    def __init__(self, **owners: str) -> None:
        self.owners = {f"connectwise:ticket:{k}": v for k, v in owners.items()}

    def owner_of(self, ticket_ref: str) -> str | None:
        return self.owners.get(ticket_ref)

    def remember(self, ticket_ref: str, client_id: str) -> None:
        self.owners[ticket_ref] = client_id


Parking = MemoryParking  # events waiting per ticket, in memory


def entry(entry_id: str, hours: float = 1.0) -> CanonicalEvent:
    """A ConnectWise time entry on ticket 7 that names no company."""
    return time_entry(entry_id, at(1), hours, ticket_id="7", client=NO_COMPANY, known=False)


def test_an_entry_whose_ticket_is_known_belongs_to_the_tickets_client() -> None:
    join = ScheduleJoin(Owners(**{"7": "acme"}), Parking())
    owned = join.attribute(entry("t1"))
    assert owned is not None
    assert (owned.client_id, owned.client_known) == ("acme", True)


def test_an_event_that_names_its_client_keeps_it() -> None:
    join = ScheduleJoin(Owners(**{"7": "globex"}), Parking())
    own = time_entry("t1", at(1), 1.0, ticket_id="7", client="acme")
    tkt = ticket("8", at(1), client=NO_COMPANY)  # a ticket never waits for a ticket
    assert join.attribute(own) is own
    assert join.attribute(tkt) is tkt


def test_an_entry_before_its_ticket_waits_and_follows_the_ticket_in_order() -> None:
    parking = Parking()
    join = ScheduleJoin(Owners(), parking)
    first, second = (
        entry("t1"),
        visit("v1", at(2), booked=at(0), ticket_id="7", client=NO_COMPANY, known=False),
    )
    assert join.attribute(first) is None and join.attribute(second) is None
    assert parking.waiting == {TICKET_7: [first, second]}
    released = join.ticket_folded(TICKET_7, "acme")
    assert released == [first, second]  # in the order they came
    assert parking.waiting == {}
    owned = [join.attribute(e) for e in released]
    assert [(e.client_id, e.client_known) for e in owned if e is not None] == [
        ("acme", True),
        ("acme", True),
    ]


def test_a_ticket_folded_with_nothing_waiting_is_remembered_for_later_entries() -> None:
    parking = Parking()
    join = ScheduleJoin(Owners(), parking)
    assert join.ticket_folded(TICKET_7, "acme") == []
    owned = join.attribute(entry("t1"))
    assert owned is not None and owned.client_id == "acme"
    assert parking.waiting == {}


class Outbox:
    def __init__(self) -> None:
        self.records: list[tuple[str, bytes | None, bytes]] = []

    def add(self, topic: str, key: bytes | None, value: bytes, headers: Any = None) -> None:
        self.records.append((topic, key, value))


def qbr_meeting() -> CanonicalEvent:
    """Ticket 7 on a board the tenant maps to review meetings, as its adapter makes it."""
    return event(
        {"kind": "meeting", "meeting_id": "7", "meeting_kind": "review", "starts_at": at(2)},
        entity="ticket",
        record_id="7",
        occurred=at(0),
    )


def checkpointed(proc: Processor) -> dict[bytes, Any]:
    """The state table as a checkpoint of the processor's states leaves it."""
    table: dict[bytes, Any] = {}
    for _, planned in proc.states.plans():
        table.update(planned.parts)
        table[planned.head[0]] = planned.head[1]
    return table


def processor(tenant: Tenant, table: dict[bytes, Any]) -> tuple[Processor, Parking, Outbox]:
    states = ClientStates(table)
    parking, outbox = Parking(), Outbox()
    return (
        Processor(
            ClassifierSettings(),
            tenant,
            states=states,
            join=ScheduleJoin(states, parking),
            outbox=outbox,
            metrics=ClassifierMetrics([]),
            clock=lambda: at(3).timestamp(),
        ),
        parking,
        outbox,
    )


def test_the_processor_folds_a_parked_entry_into_its_tickets_client(tenant: Tenant) -> None:
    proc, parking, outbox = processor(tenant, {})
    proc.handle([entry("t1", hours=2.0).model_dump_json().encode()])
    assert proc.processed == 0 and list(parking.waiting) == [TICKET_7]
    assert proc.state_of(NO_COMPANY) is None  # nothing folded under no company
    proc.handle([ticket("7", at(0)).model_dump_json().encode()])
    assert proc.processed == 2 and parking.waiting == {}
    state = proc.state_of("acme")
    assert state is not None and TICKET_7 in state.tickets
    assert [w.hours for w in state.work.values()] == [2.0]
    work_keys = {key for topic, key, _ in outbox.records if topic == topics.WORK}
    assert work_keys == {b"acme"}  # the entry's work item is the ticket client's


def test_the_processor_finds_a_tickets_client_in_the_recovered_table(tenant: Tenant) -> None:
    """After a restart the lookup is the state table: an entry of a ticket folded before
    the restart is joined at once, not parked."""
    before, _, _ = processor(tenant, {})
    before.handle([ticket("7", at(0)).model_dump_json().encode()])
    table = checkpointed(before)
    after, parking, _ = processor(tenant, table)
    after.handle([entry("t1").model_dump_json().encode()])
    assert parking.waiting == {} and after.processed == 1
    state = after.state_of("acme")
    assert state is not None and len(state.work) == 1


def test_an_entry_on_a_qbr_ticket_follows_the_meeting_that_ticket_became(tenant: Tenant) -> None:
    """A ticket on a board the tenant maps to review meetings arrives as a Meeting (its
    record still the ticket): a schedule entry booked on it is that client's too."""
    proc, parking, _ = processor(tenant, {})
    proc.handle([entry("t1", hours=1.5).model_dump_json().encode()])
    assert list(parking.waiting) == [TICKET_7]
    qbr = qbr_meeting()
    proc.handle([qbr.model_dump_json().encode()])
    assert parking.waiting == {} and proc.processed == 2
    state = proc.state_of("acme")
    assert state is not None and [w.hours for w in state.work.values()] == [1.5]


def test_after_a_restart_an_entry_on_a_qbr_ticket_still_finds_its_client(
    tenant: Tenant,
) -> None:
    """The meeting a QBR ticket became is in the recovered table under the ticket's
    record: an entry booked on it after a restart is joined at once, not parked."""
    before, _, _ = processor(tenant, {})
    qbr = qbr_meeting()
    before.handle([qbr.model_dump_json().encode()])
    table = checkpointed(before)
    after, parking, _ = processor(tenant, table)
    after.handle([entry("t1").model_dump_json().encode()])
    assert parking.waiting == {} and after.processed == 1
