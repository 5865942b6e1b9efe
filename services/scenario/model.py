"""What a simulated MSP world is made of: people, clients, devices and work records.

Records hold the *intent* of the simulated world (this incident was reported
by the client straight to a technician; this visit was booked two weeks
ahead), not any vendor's format: `vendors` writes each record as its PSA or
RMM would send it, and `truth` derives the right answers from the intent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from services.events.models import (
    Channel,
    DeviceChangeKind,
    Location,
    MeetingKind,
    MeetingStatus,
    Nature,
    Priority,
    RecommendationStatus,
    Source,
)
from services.events.outputs import Behaviour, Initiator, WorkClass

PSAS = (Source.connectwise, Source.autotask, Source.halopsa)
RMMS = (Source.ninjaone, Source.dattormm, Source.tacticalrmm)


class EnteredBy(StrEnum):
    """Which kind of identity entered a ticket in the PSA."""

    intake = "intake"  # the service desk's email connector, portal or phone queue
    technician = "technician"
    automation = "automation"  # the RMM integration
    co_managed = "co_managed"  # the client's own IT person, with a PSA login of their own


@dataclass(frozen=True)
class Person:
    """A technician: one identity per PSA."""

    name: str
    email: str
    connectwise: str  # member identifier
    autotask: str  # resource id
    halopsa: str  # agent id

    def id_in(self, source: Source) -> str:
        return {
            Source.connectwise: self.connectwise,
            Source.autotask: self.autotask,
            Source.halopsa: self.halopsa,
        }.get(source, self.email)


@dataclass(frozen=True)
class CoManagedStaff:
    """A co-managed client's own IT person: enters tickets with a PSA login of their own."""

    name: str
    email: str
    psa_id: str  # ConnectWise member identifier, Autotask resource id, Halo agent id


@dataclass(frozen=True)
class Contact:
    name: str
    email: str
    psa_id: int


@dataclass
class Device:
    hostname: str
    rmm_id: str  # NinjaOne device id, Datto device_uid, Tactical agent_id
    # The PSA's own asset id (ConnectWise configuration, Autotask configuration item, Halo
    # asset): never the RMM's id; the host name is what both systems share (issue 12, rule 3).
    psa_asset_id: int
    site: str
    server: bool
    added_at: datetime | None = None  # None: managed since before the scenario

    def present(self, at: datetime) -> bool:
        return self.added_at is None or self.added_at <= at


@dataclass
class ClientWorld:
    """One client of the MSP, as the simulation knows it."""

    index: int
    id: str
    name: str
    domain: str
    persona: str
    habits: frozenset[Behaviour]
    reformed: frozenset[Behaviour]
    endpoints: int
    psa: Source
    rmm: Source
    psa_company_id: int  # ConnectWise company id, Autotask companyID, Halo client_id
    psa_identifier: str  # ConnectWise company identifier
    rmm_org: str  # NinjaOne organization id, Datto site_uid, Tactical client name
    sites: list[str]
    devices: list[Device]
    contacts: list[Contact]
    lead_name: str
    lead_email: str
    locale: str = "en"  # the language of the PSA picklist values its tickets carry
    co_managed_staff: list[CoManagedStaff] = field(default_factory=list)

    def source_ids(self) -> dict[Source, list[str]]:
        psa = (
            [str(self.psa_company_id), self.psa_identifier]
            if self.psa is Source.connectwise
            else [str(self.psa_company_id)]
        )
        return {self.psa: psa, self.rmm: [self.rmm_org]}


# -- work: tickets, time entries, visits -------------------------------------------------


def ticket_class(nature: Nature, initiator: Initiator) -> WorkClass:
    """The labelling rule: break/fix is reactive, planned work proactive; a request,
    a change or unknown work is proactive only when the MSP scheduled it."""
    if nature in (Nature.incident, Nature.problem):
        return WorkClass.reactive
    if nature in (Nature.maintenance, Nature.review, Nature.project):
        return WorkClass.proactive
    return WorkClass.proactive if initiator is Initiator.msp_scheduled else WorkClass.reactive


@dataclass
class TicketUpdate:
    at: datetime
    status: str  # "in_progress", "resolved", "closed"


@dataclass
class Ticket:
    client: ClientWorld
    source: Source
    id: int
    created_at: datetime
    summary: str
    nature: Nature
    channel: Channel
    initiator: Initiator
    entered_by: EnteredBy
    technician: Person
    priority: Priority
    device: Device | None = None
    contact: Contact | None = None
    location: Location = Location.remote
    issue_started_at: datetime | None = None
    rmm_alert_id: str | None = None
    updates: list[TicketUpdate] = field(default_factory=list)
    known_client: bool = True
    site: str | None = None  # the site a ticket names when it names no device
    co_managed_by: CoManagedStaff | None = None  # entered_by co_managed: which login

    @property
    def ref(self) -> str:
        return f"{self.source}:ticket:{self.id}"

    @property
    def work_class(self) -> WorkClass:
        return ticket_class(self.nature, self.initiator)

    @property
    def client_initiated(self) -> bool:
        return self.initiator in (Initiator.service_desk, Initiator.direct_to_tech)


@dataclass
class TimeEntry:
    client: ClientWorld
    source: Source
    id: int
    technician: Person
    started_at: datetime
    hours: float
    entered_at: datetime
    work_type: str
    nature: Nature  # the work type's nature (decides only when there is no ticket)
    ticket: Ticket | None
    location: Location = Location.remote
    notes: str | None = None

    @property
    def ref(self) -> str:
        entity = "time" if self.source is Source.connectwise else "time_entry"
        return f"{self.source}:{entity}:{self.id}"

    @property
    def work_class(self) -> WorkClass:
        if self.ticket is not None:
            return self.ticket.work_class
        return ticket_class(self.nature, Initiator.unknown)


VISIT_ENTITY = {
    Source.connectwise: "schedule",
    Source.autotask: "service_call",
    Source.halopsa: "appointment",
}


@dataclass
class Visit:
    client: ClientWorld
    source: Source
    id: int
    technician: Person
    starts_at: datetime
    ends_at: datetime
    booked_at: datetime
    location: Location
    ticket: Ticket | None
    title: str
    planned: bool = False  # without a ticket: booked ahead for planned work (else an emergency)

    @property
    def ref(self) -> str:
        return f"{self.source}:{VISIT_ENTITY[self.source]}:{self.id}"

    @property
    def hours(self) -> float:
        return (self.ends_at - self.starts_at).total_seconds() / 3600

    @property
    def work_class(self) -> WorkClass:
        if self.ticket is not None:
            return self.ticket.work_class
        return WorkClass.proactive if self.planned else WorkClass.reactive


# -- relationship: meetings, recommendations ----------------------------------------------


@dataclass
class MeetingChange:
    at: datetime
    status: MeetingStatus
    by_client: bool = False
    new_start: datetime | None = None  # a reschedule moves the meeting


@dataclass
class Meeting:
    client: ClientWorld
    # connectwise (an activity), autotask / halopsa (a ticket in the QBR queue / of the QBR
    # ticket type, vendors/reviews.py) or canonical (the MSP's calendar)
    source: Source
    id: str
    kind: MeetingKind
    title: str
    starts_at: datetime
    minutes: int
    booked_at: datetime
    organiser: Person
    changes: list[MeetingChange] = field(default_factory=list)

    @property
    def ref(self) -> str:
        entity = {Source.connectwise: "activity", Source.canonical: "meeting"}.get(
            self.source, "ticket"
        )
        return f"{self.source}:{entity}:{self.id}"


@dataclass
class Recommendation:
    client: ClientWorld
    id: str
    title: str
    category: str
    presented_at: datetime
    due_at: datetime | None
    answer: RecommendationStatus | None = None
    answered_at: datetime | None = None

    @property
    def ref(self) -> str:
        return f"canonical:recommendation:{self.id}"


# -- RMM ---------------------------------------------------------------------------------


@dataclass
class Alert:
    client: ClientWorld
    source: Source
    id: str  # NinjaOne seriesUid, Datto alert_uid, Tactical alert id
    device: Device
    category: str
    message: str
    severity: str  # the vendor's own value
    triggered_at: datetime
    resolved_at: datetime | None
    activity_ids: tuple[int, int] = (0, 0)  # NinjaOne activity ids of trigger and reset

    @property
    def ref(self) -> str:
        return f"{self.source}:alert:{self.id}"


@dataclass
class DeviceChange:
    client: ClientWorld
    activity_id: int  # NinjaOne only: Datto and Tactical send no device webhooks
    device: Device
    change: DeviceChangeKind
    at: datetime
    tool: str | None = None

    @property
    def ref(self) -> str:
        return f"ninjaone:device:{self.device.rmm_id}"


@dataclass
class RmmActivity:
    """NinjaOne activity that carries nothing the pipeline uses (patching, software)."""

    client: ClientWorld
    activity_id: int
    device: Device
    at: datetime
    activity_type: str
    status_code: str
    message: str
    data: dict[str, object] | None = None


# -- what the personas meant ---------------------------------------------------------------


@dataclass(frozen=True)
class Evidence:
    """One record that shows a behaviour, as the persona produced it. `habit` is False for
    an isolated slip of a client that has no such habit: an account manager would not
    call it a pattern, so it is no true signal."""

    client: str
    behaviour: Behaviour
    at: datetime
    refs: tuple[str, ...]
    habit: bool = True


@dataclass
class Records:
    tickets: list[Ticket] = field(default_factory=list)
    time_entries: list[TimeEntry] = field(default_factory=list)
    visits: list[Visit] = field(default_factory=list)
    meetings: list[Meeting] = field(default_factory=list)
    recommendations: list[Recommendation] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    device_changes: list[DeviceChange] = field(default_factory=list)
    activities: list[RmmActivity] = field(default_factory=list)
    evidence: list[Evidence] = field(default_factory=list)

    def extend(self, other: Records) -> None:
        for name in self.__dataclass_fields__:
            getattr(self, name).extend(getattr(other, name))
