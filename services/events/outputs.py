"""What the classifier publishes: the contract of `partnerpulse.work`, `.signals`, `.health`.

Every downstream reader (alerts, evaluate, dashboards' tests) reads these
models and nothing of the classifier's internals. Records are JSON, keyed by
canonical client id. All three topics are at-least-once: a record may repeat
after a worker restart, so readers keep the latest per identity:

- work: per `ref` (the vendor record, `source:entity:id`); a ticket's labels
  may be refined by later updates of the same ticket;
- signals: per `signal_id`, highest `version` wins;
- health: per `client_id`, latest `as_of` (then highest `seq`) wins.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from services.events.models import Location, Nature


class WorkClass(StrEnum):
    proactive = "proactive"
    reactive = "reactive"


class Initiator(StrEnum):
    """Who started a piece of work (the second axis of domain.md)."""

    service_desk = "service_desk"  # the client through an intake path
    direct_to_tech = "direct_to_tech"  # the client straight to a technician
    msp_scheduled = "msp_scheduled"  # the MSP planned it
    rmm = "rmm"  # monitoring automation found it
    unknown = "unknown"


class Behaviour(StrEnum):
    direct_to_tech = "direct_to_tech"
    late_reporting = "late_reporting"
    skipped_meeting = "skipped_meeting"
    ignored_recommendation = "ignored_recommendation"
    unannounced_change = "unannounced_change"


class Severity(StrEnum):
    info = "info"
    warning = "warning"
    critical = "critical"


class SignalStatus(StrEnum):
    """Where a signal's episode stands (the latest version of a signal says)."""

    open = "open"  # the behaviour goes on
    resolved = "resolved"  # the episode went quiet
    withdrawn = "withdrawn"  # later events showed its evidence did not hold


class Band(StrEnum):
    green = "green"
    yellow = "yellow"
    red = "red"


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class WorkItem(_Out):
    """One ticket, time entry or visit with its labels and the rule that decided them."""

    tenant: str
    client_id: str
    ref: str = Field(description="`source:entity:id`, the vendor's record (truth.json's key).")
    event_id: str = Field(description="The canonical event that produced this labelling.")
    kind: str = Field(description="ticket, time_entry or visit.")
    occurred_at: AwareDatetime
    nature: Nature
    initiator: Initiator
    work_class: WorkClass
    rule: str = Field(description="The labelling rule that decided the class, e.g. 'nature'.")
    hours: float = Field(0.0, description="Hours of work (time entries and visits).")
    location: Location = Location.unknown
    ticket_ref: str | None = Field(None, description="The ticket this work serves, if any.")


class Evidence(_Out):
    ref: str = Field(description="`source:entity:id` of the record that shows the behaviour.")
    at: AwareDatetime = Field(description="Event time of the evidence.")
    note: str = Field(description="What this record shows, in a few words.")


class Signal(_Out):
    """A detected behaviour. Repeated evidence updates one signal (same id, higher version)."""

    tenant: str
    client_id: str
    client_name: str | None = None
    signal_id: str = Field(description="Stable id of this behaviour episode for this client.")
    version: int = Field(ge=1, description="Increases with every update of the episode.")
    behaviour: Behaviour
    severity: Severity
    status: SignalStatus = Field(
        SignalStatus.open,
        description="open; resolved once the episode went quiet; withdrawn when later "
        "events showed its evidence did not hold.",
    )
    explanation: str = Field(description="One line an account lead understands.")
    evidence: list[Evidence] = Field(description="The most recent evidence, newest last.")
    evidence_count: int = Field(description="All evidence seen in this episode.")
    first_seen_at: AwareDatetime
    last_seen_at: AwareDatetime
    detected_at: AwareDatetime = Field(description="Wall-clock time the classifier emitted it.")


class WindowHealth(_Out):
    """KPIs over one event-time window ending at `as_of`."""

    days: int
    hours_proactive: float
    hours_reactive: float
    proactive_share: float | None = Field(description="Proactive hours / all hours; None if none.")
    rhem: float | None = Field(description="Reactive hours per endpoint per 30 days.")
    tickets: int
    tickets_per_endpoint: float | None = Field(description="Tickets per endpoint per 30 days.")
    visits_onsite_proactive: int
    visits_onsite_reactive: int
    behaviours: dict[Behaviour, int] = Field(description="Evidence count per behaviour.")


class HealthSnapshot(_Out):
    tenant: str
    client_id: str
    client_name: str | None = None
    as_of: AwareDatetime = Field(description="Event time the snapshot is judged at.")
    seq: int = Field(description="Increases with every snapshot of this client.")
    score: float = Field(ge=0, le=100)
    band: Band
    components: dict[str, float] = Field(
        description="Points each component takes off 100 (the score's explanation)."
    )
    baseline_score: float | None = Field(description="The client's own average of past scores.")
    change: float | None = Field(description="score - baseline_score.")
    endpoints: int | None
    windows: dict[str, WindowHealth] = Field(description="'30d' and '90d'.")
