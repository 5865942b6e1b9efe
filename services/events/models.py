"""The canonical event contract.

Every vendor payload is normalised into one `CanonicalEvent`: an envelope that
says who, where and when, and a `payload` whose `kind` says what. The
classifier reads only this; nothing downstream sees a vendor format.

Vocabulary (channel, nature, priority, identity roles, ...) is closed here so a
typo in a mapping fails validation instead of silently creating a new class.
Vendor picklist values are mapped to it by the tenant file, never by code.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Final, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

SCHEMA_VERSION: Final = 1

# Namespace for deterministic event ids: the same vendor event always maps to
# the same id, so a retry, a replay or a re-post deduplicates everywhere.
EVENT_ID_NAMESPACE = uuid.UUID("6f1d3c2a-5b7e-4f0a-9c1d-2e8b7a6f5d40")


class Source(StrEnum):
    connectwise = "connectwise"
    autotask = "autotask"
    halopsa = "halopsa"
    ninjaone = "ninjaone"
    dattormm = "dattormm"
    tacticalrmm = "tacticalrmm"
    canonical = "canonical"


class EntityKind(StrEnum):
    ticket = "ticket"
    time_entry = "time_entry"
    visit = "visit"
    meeting = "meeting"
    rmm_alert = "rmm_alert"
    device_change = "device_change"
    recommendation = "recommendation"


class Action(StrEnum):
    created = "created"
    updated = "updated"
    deleted = "deleted"
    triggered = "triggered"
    resolved = "resolved"
    detected = "detected"


class Channel(StrEnum):
    """How a piece of work reached the MSP."""

    email = "email"  # to the service-desk mailbox / email connector
    portal = "portal"
    phone = "phone"  # the service-desk phone queue
    chat = "chat"  # the service-desk chat
    walk_in = "walk_in"
    direct_email = "direct_email"  # mail to a technician's own mailbox
    direct_phone = "direct_phone"  # call to a technician's own phone
    direct_chat = "direct_chat"  # chat to a technician personally
    monitoring = "monitoring"  # RMM / monitoring alert
    scheduled = "scheduled"  # MSP-scheduled (recurring ticket, plan)
    internal = "internal"  # entered by MSP staff for its own work
    follow_up = "follow_up"  # a technician's follow-up of an earlier ticket
    unknown = "unknown"


class Nature(StrEnum):
    incident = "incident"
    problem = "problem"
    request = "request"
    change = "change"
    maintenance = "maintenance"
    review = "review"
    project = "project"
    unknown = "unknown"


class Priority(StrEnum):
    critical = "critical"
    high = "high"
    medium = "medium"
    low = "low"
    unknown = "unknown"


class IdentityRole(StrEnum):
    """Who an identity is, resolved through the tenant file."""

    technician = "technician"
    service_desk = "service_desk"  # an intake path: email connector, portal, phone queue
    client_contact = "client_contact"
    automation = "automation"  # RMM integration, recurring-ticket engine
    co_managed_staff = "co_managed_staff"  # a co-managed client's own IT staff (PSA login)
    unknown = "unknown"


class Location(StrEnum):
    onsite = "onsite"
    remote = "remote"
    unknown = "unknown"


class Identity(BaseModel):
    """A person or system as the source names it, with its resolved role."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(description="The source's own identifier: member id, resource id, email.")
    role: IdentityRole = IdentityRole.unknown
    name: str | None = None


class _Payload(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DeviceIdentity(BaseModel):
    """A device as a PSA record names it. The PSA's own id (Halo asset, Autotask
    configuration item, ConnectWise configuration) never equals an RMM's device id, so
    the identities that cross systems travel with it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str | None = Field(None, description="The PSA's own asset / configuration id.")
    hostname: str | None = None
    serial: str | None = None
    rmm_device_id: str | None = Field(
        None, description="The RMM's device id, where the RMM-PSA integration links them."
    )


class Ticket(_Payload):
    kind: Literal["ticket"] = "ticket"
    ticket_id: str = Field(description="The source's record id.")
    number: str | None = Field(None, description="The number people quote, if it differs.")
    summary: str | None = None
    channel: Channel = Channel.unknown
    nature: Nature = Nature.unknown
    priority: Priority = Priority.unknown
    status: str | None = Field(None, description="The source's status name, unmapped.")
    board: str | None = Field(None, description="Board / queue / ticket type, unmapped.")
    entered_by: Identity | None = None
    contact: Identity | None = Field(None, description="The client contact who asked.")
    addressed_to: Identity | None = Field(
        None, description="A technician the request was addressed to personally, if any."
    )
    assigned_to: list[Identity] = Field(default_factory=list)
    created_at: AwareDatetime
    issue_started_at: AwareDatetime | None = Field(
        None, description="When the problem began, as reported (Halo dateoccurred)."
    )
    responded_at: AwareDatetime | None = None
    resolved_at: AwareDatetime | None = None
    closed_at: AwareDatetime | None = None
    location: Location = Location.unknown
    device_ids: list[str] = Field(default_factory=list)
    devices: list[DeviceIdentity] = Field(
        default_factory=list, description="The devices named, with their cross-system identities."
    )
    site: str | None = None
    rmm_alert_id: str | None = Field(None, description="The RMM alert that raised it, if any.")


class ChargeTo(StrEnum):
    ticket = "ticket"
    project = "project"
    charge_code = "charge_code"  # time with no ticket
    activity = "activity"
    unknown = "unknown"


class TimeEntry(_Payload):
    kind: Literal["time_entry"] = "time_entry"
    entry_id: str
    technician: Identity | None = None
    charge_to: ChargeTo = ChargeTo.unknown
    ticket_id: str | None = Field(None, description="The ticket or project ticket charged.")
    work_type: str | None = Field(None, description="The source's work type, unmapped.")
    nature: Nature = Nature.unknown
    started_at: AwareDatetime
    ended_at: AwareDatetime | None = None
    hours: float = Field(ge=0, le=24 * 31)
    location: Location = Location.unknown
    notes: str | None = None


class Visit(_Payload):
    """A schedule entry: a technician's time booked for a client, onsite or remote."""

    kind: Literal["visit"] = "visit"
    visit_id: str
    technician: Identity | None = None
    location: Location = Location.unknown
    ticket_id: str | None = Field(None, description="The ticket the visit serves.")
    nature: Nature = Nature.unknown
    starts_at: AwareDatetime
    ends_at: AwareDatetime | None = None
    booked_at: AwareDatetime | None = Field(None, description="When the visit was scheduled.")
    status: str | None = None
    done: bool = False


class MeetingStatus(StrEnum):
    scheduled = "scheduled"
    held = "held"
    no_show = "no_show"
    cancelled = "cancelled"
    rescheduled = "rescheduled"
    # When the source's status says whose side it was (a tenant maps its own statuses).
    cancelled_by_msp = "cancelled_by_msp"
    cancelled_by_client = "cancelled_by_client"
    rescheduled_by_msp = "rescheduled_by_msp"
    rescheduled_by_client = "rescheduled_by_client"


class MeetingKind(StrEnum):
    meeting = "meeting"
    review = "review"  # technical or business review, QBR
    call = "call"


class Meeting(_Payload):
    kind: Literal["meeting"] = "meeting"
    meeting_id: str
    meeting_kind: MeetingKind = MeetingKind.meeting
    title: str | None = None
    status: MeetingStatus = MeetingStatus.scheduled
    cancelled_by: IdentityRole | None = Field(
        None, description="Whose side cancelled or rescheduled: client_contact or technician."
    )
    changed_at: AwareDatetime | None = Field(
        None, description="When the status last changed (the cancellation's notice time)."
    )
    starts_at: AwareDatetime
    ends_at: AwareDatetime | None = None
    booked_at: AwareDatetime | None = None
    organiser: Identity | None = None
    location: Location = Location.unknown


class AlertSeverity(StrEnum):
    critical = "critical"
    major = "major"
    moderate = "moderate"
    minor = "minor"
    info = "info"


class RmmAlert(_Payload):
    kind: Literal["rmm_alert"] = "rmm_alert"
    alert_id: str = Field(description="Joins a trigger to its reset (NinjaOne seriesUid).")
    status: Literal["triggered", "resolved"]
    severity: AlertSeverity = AlertSeverity.info
    category: str | None = None
    message: str | None = None
    device_id: str | None = None
    device_name: str | None = None
    serial: str | None = None
    site: str | None = None
    help_request: bool = Field(False, description="An end user asked for help from the device.")


class DeviceChangeKind(StrEnum):
    new_device = "new_device"
    new_remote_tool = "new_remote_tool"
    removed_agent = "removed_agent"


class DeviceChange(_Payload):
    kind: Literal["device_change"] = "device_change"
    change: DeviceChangeKind
    device_id: str
    device_name: str | None = None
    site: str | None = None
    tool: str | None = Field(None, description="The remote-access tool or vendor seen.")
    detail: str | None = None
    serial: str | None = None
    device_type: str | None = Field(None, description="laptop, workstation, server, ...")
    last_user: str | None = Field(None, description="The user last logged on, if reported.")


class RecommendationStatus(StrEnum):
    open = "open"
    accepted = "accepted"
    declined = "declined"
    done = "done"


class Recommendation(_Payload):
    kind: Literal["recommendation"] = "recommendation"
    recommendation_id: str
    title: str
    category: str | None = Field(None, description="lifecycle, security, quote, roadmap ...")
    status: RecommendationStatus = RecommendationStatus.open
    presented_at: AwareDatetime | None = None
    due_at: AwareDatetime | None = None
    answered_at: AwareDatetime | None = None


Payload = Annotated[
    Ticket | TimeEntry | Visit | Meeting | RmmAlert | DeviceChange | Recommendation,
    Field(discriminator="kind"),
]


class SourceRef(BaseModel):
    """`source:entity:id`, the vendor's own record reference (as truth.json names work)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    source: Source
    entity: str
    id: str

    def __str__(self) -> str:
        return f"{self.source}:{self.entity}:{self.id}"


class CanonicalEvent(BaseModel):
    """One normalised event: the envelope and one payload."""

    model_config = ConfigDict(extra="forbid")

    schema_version: Literal[1] = SCHEMA_VERSION
    event_id: str = Field(description="Deterministic id: retries and replays keep it.")
    tenant: str
    source: Source
    action: Action
    occurred_at: AwareDatetime = Field(description="Event time: what windows are judged on.")
    received_at: AwareDatetime = Field(description="When ingest accepted it.")
    client_id: str = Field(description="Canonical client id, or unknown:<source>:<ref>.")
    client_known: bool = Field(True, description="False when the tenant file names no client.")
    source_client_ref: str | None = Field(None, description="How the source named the client.")
    refs: list[SourceRef] = Field(
        min_length=1, description="The record itself first, then records it points to."
    )
    delivery_id: str | None = Field(None, description="The vendor's delivery or message id.")
    payload: Payload

    @field_validator("occurred_at", "received_at")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return value.astimezone(UTC)

    @property
    def kind(self) -> EntityKind:
        return EntityKind(self.payload.kind)

    @property
    def ref(self) -> SourceRef:
        return self.refs[0]


def event_id_for(tenant: str, source: Source | str, identity: str) -> str:
    """The deterministic id of a vendor event, from its natural identity."""
    return str(uuid.uuid5(EVENT_ID_NAMESPACE, f"{tenant}\x1f{source}\x1f{identity}"))


def unknown_client_id(source: Source | str, source_client_ref: str | None) -> str:
    return f"unknown:{source}:{source_client_ref or 'none'}"


def json_schema() -> dict[str, object]:
    return CanonicalEvent.model_json_schema()
