"""The `classifier:` section of the tenant file: thresholds, windows and weights.

What counts as late, how many occurrences make a habit, what a healthy RHEM
is: each MSP decides, so every number lives here with a default from the
field (../shared/domain.md), never in the detectors' code.
"""

from __future__ import annotations

import re
from importlib import resources
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

from services.events.models import Nature, Source

# The word lists' defaults (data, not code): services/events/default_terms.yaml.
_TERMS: dict[str, Any] = yaml.safe_load(
    resources.files("services.events").joinpath("default_terms.yaml").read_text(encoding="utf-8")
)


def _words(name: str) -> list[str]:
    return [str(w) for w in _TERMS[name]]


def _table(name: str) -> dict[str, list[str]]:
    return {str(k): [str(w) for w in v] for k, v in _TERMS[name].items()}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DetectorPolicy(_Strict):
    """When evidence becomes a signal, and when a signal's episode ends."""

    min_occurrences: int = Field(
        2, ge=1, description="Evidence needed within `window_days` before a signal is raised."
    )
    window_days: float = Field(30, gt=0, description="Event-time window for `min_occurrences`.")
    episode_gap_days: float = Field(
        30,
        gt=0,
        description="Quiet time after which the episode is resolved; new evidence opens another.",
    )
    weight: float = Field(
        35, ge=0, description="Points an open signal of this behaviour takes off the score."
    )
    critical_factor: float | None = Field(
        5,
        ge=1,
        description="A signal is critical when the last `window_days` of its episode hold at "
        "least this many times `min_occurrences` evidence: the lapse is the client's rule, "
        "not a habit now and then. A rate, not the episode's total: a long episode of "
        "occasional lapses stays a warning. null: never critical by its rate (the default "
        "of the behaviours whose occasions come at a pace others set).",
    )


class LateReportingPolicy(DetectorPolicy):
    alert_lead_hours: float = Field(
        4, gt=0, description="An RMM alert this long before the client's ticket means late."
    )
    alert_lookback_days: float = Field(
        7,
        gt=0,
        description="How far back a *resolved* RMM alert is looked for; an alert still open "
        "when the ticket is created counts however old it is.",
    )
    transient_alert_minutes: float = Field(
        30,
        ge=0,
        description="An alert resolved within this of firing (a RESET) is not a problem the "
        "client sat on, and never counts.",
    )
    site_match: Literal["off", "related", "any"] = Field(
        "related",
        description="When the ticket names no device, an alert at the same site counts: "
        "`off` never; `related` only when the alert's category or message and the ticket's "
        "summary concern the same topic; `any` always. Only an alert still open when the "
        "client reported counts at the site level.",
    )
    site_max_devices: int = Field(
        50,
        ge=0,
        description="Site-level matching only at a site where the RMM has alerted on at most "
        "this many devices: on a larger estate some alert about the same topic is always "
        "open somewhere, and says nothing about the ticket.",
    )

    topics: dict[str, list[str]] = Field(
        default_factory=lambda: _table("topics"),
        description="Topic -> words: a ticket and an alert sharing a topic concern the same "
        "problem (site-level matching).",
    )
    upkeep_topics: list[str] = Field(
        default_factory=lambda: ["patch", "backup", "upkeep"],
        description="Topics of alerts about the MSP's own upkeep (missing patches, antivirus "
        "definitions, backups, pending reboots): nothing the client notices, so even on the "
        "ticket's device such an alert counts only for a ticket about the same topic.",
    )
    failure_terms: list[str] = Field(
        default_factory=lambda: _words("failure_terms"),
        description="Words that make a ticket of unknown nature a problem report.",
    )
    issue_age_hours: float = Field(
        24, gt=0, description="Issue started this long before the ticket was created means late."
    )
    quiet_days: float = Field(
        14, gt=0, description="A first ticket at critical priority after this much quiet is late."
    )
    window_days: float = 60

    @field_validator("site_match", mode="before")
    @classmethod
    def _yaml_off(cls, value: object) -> object:
        # YAML reads a bare `off` as false (and `on` as true).
        return (
            {False: "off", True: "related"}.get(value, value) if isinstance(value, bool) else value
        )


class SkippedMeetingPolicy(DetectorPolicy):
    short_notice_hours: float = Field(
        24, gt=0, description="A client cancellation with less notice than this is a skip."
    )
    unattributed_cancellations: Literal["client", "msp"] = Field(
        "client",
        description="Whose side a cancellation is when neither its status (`cancelled_by_msp`, "
        "`cancelled_by_client`) nor the source says: `client` counts it, `msp` does not.",
    )
    reschedules: int = Field(
        2, ge=1, description="Client reschedules of one meeting that count as a skip."
    )
    window_days: float = 90
    episode_gap_days: float = 60
    # Occasions at a pace others set (the meeting calendar, the MSP's recommendations, the
    # client's purchases): a count per window says how often the occasion came, not how
    # the client behaves at it. No critical rate.
    critical_factor: float | None = None


class IgnoredRecommendationPolicy(DetectorPolicy):
    grace_days: float = Field(0, ge=0, description="Days past due before unanswered counts.")
    default_due_days: float = Field(
        30, gt=0, description="Due date of a recommendation that has none: presented + this."
    )
    window_days: float = 180
    episode_gap_days: float = 90
    min_occurrences: int = 1
    critical_factor: float | None = None  # occasions at a pace others set (as meetings)


class UnannouncedChangePolicy(DetectorPolicy):
    announce_days: float = Field(
        7, gt=0, description="How recent an announcing ticket must be, before the change."
    )
    named_announce_days: float = Field(
        30,
        gt=0,
        description="How recent a ticket that names the change itself (the device, its "
        "user or the tool, not only its type) may be: hardware ordered for a named user "
        "arrives weeks later.",
    )
    announcing_natures: list[Nature] = Field(
        default_factory=lambda: [Nature.change, Nature.project],
        description="Ticket natures that announce a change when they concern it.",
    )
    procurement_terms: list[str] = Field(
        default_factory=lambda: _words("procurement_terms"),
        description="Words in a ticket's summary or board that make it a procurement or "
        "onboarding ticket (which announces like a change ticket); any other request does not.",
    )
    device_types: dict[str, list[str]] = Field(
        default_factory=lambda: _table("device_types"),
        description="Device type -> words a ticket uses for it: `new laptop` names a device "
        "the RMM types `WINDOWS_WORKSTATION`.",
    )
    window_days: float = 30
    min_occurrences: int = 1
    # A client adds a device every few weeks to months: a month without one says nothing
    # of whether the next will be announced. A quarter without an unannounced one does.
    episode_gap_days: float = 90
    critical_factor: float | None = None  # occasions at a pace others set (as meetings)


class DirectToTechPolicy(DetectorPolicy):
    follow_up_terms: list[str] = Field(
        default_factory=lambda: _words("follow_up_terms"),
        description="Words in the summary of a technician-entered ticket that make it the "
        "technician's own follow-up of earlier work, not a client going around the desk.",
    )
    next_step_days: float = Field(
        7,
        ge=0,
        description="A technician-entered ticket that reports no failure (no "
        "`late_reporting.failure_terms`) and shares a topic (`late_reporting.topics`) or "
        "a significant word with a ticket the client raised through the service desk up "
        "to this many days before is the technician's next step of that desk work, not a "
        "client going around the desk (0: never).",
    )


IdentityKind = Literal["hostname", "serial", "rmm_link"]


class DeviceIdentityPolicy(_Strict):
    """How a PSA ticket's device is recognised as an RMM's device."""

    match_on: list[IdentityKind] = Field(
        default_factory=lambda: list[IdentityKind](["hostname", "serial", "rmm_link"]),
        description="Identities that make two records the same device (any one shared "
        "suffices): hostname (case-insensitive, domain suffix stripped), serial number, "
        "the RMM-PSA integration's link (an RMM device id on the PSA record).",
    )
    ticket_device_ids: dict[Source, Literal["psa_id", "rmm_device_id", "hostname"]] = Field(
        default_factory=dict,
        description="What a source's plain ticket `device_ids` are: by default the PSA's own "
        "ids (which never match an RMM's); say `rmm_device_id` or `hostname` for a source "
        "whose integration writes those.",
    )
    ticket_text_hostname: str | None = Field(
        None,
        description="Off by default. A regular expression whose first group is a hostname "
        "written in a ticket's summary or description, e.g. the portal form's "
        "'Computer: ([A-Za-z0-9-]+)'. Applied by ingest (a change applies to tickets "
        "received after it); free text names devices loosely, so anchor it on a label.",
    )

    @field_validator("ticket_text_hostname")
    @classmethod
    def _one_group(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                groups = re.compile(value).groups
            except re.error as exc:
                raise ValueError(f"not a regular expression: {exc}") from None
            if groups < 1:
                raise ValueError("needs a group around the hostname, e.g. 'Computer: (\\S+)'")
        return value


class DetectorsPolicy(_Strict):
    direct_to_tech: DirectToTechPolicy = DirectToTechPolicy()
    late_reporting: LateReportingPolicy = LateReportingPolicy()
    skipped_meeting: SkippedMeetingPolicy = SkippedMeetingPolicy()
    ignored_recommendation: IgnoredRecommendationPolicy = IgnoredRecommendationPolicy()
    unannounced_change: UnannouncedChangePolicy = UnannouncedChangePolicy()


class HealthPolicy(_Strict):
    green_at: float = Field(70, ge=0, le=100, description="Score at or above which it is green.")
    yellow_at: float = Field(40, ge=0, le=100, description="Score at or above which it is yellow.")
    rhem_target: float = Field(
        0.25, gt=0, description="Reactive hours per endpoint per month that costs nothing."
    )
    rhem_max_penalty: float = Field(25, ge=0, description="Points at 4x the RHEM target.")
    proactive_share_target: float = Field(
        0.6, ge=0, le=1, description="Share of hours that are proactive at which nothing is lost."
    )
    proactive_max_penalty: float = Field(20, ge=0, description="Points at a 0 proactive share.")
    tickets_per_endpoint_target: float = Field(
        0.5, gt=0, description="Tickets per endpoint per month that costs nothing."
    )
    tickets_max_penalty: float = Field(10, ge=0, description="Points at 4x the ticket target.")
    behaviour_max_penalty: float = Field(100, ge=0, description="Cap on all behaviour points.")
    critical_weight_factor: float = Field(
        2,
        ge=0,
        description="An open signal whose lapses come at its detector's critical rate "
        "(`critical_factor`) takes this many times its `weight` off the score: one habit "
        "kept as a rule makes a client red on its own.",
    )
    window_days: int = Field(90, ge=1, description="The window the score is judged on.")
    baseline_snapshots: int = Field(
        30, ge=1, description="Past daily scores the baseline averages."
    )


class ClassifierPolicy(_Strict):
    allowed_lateness_days: float = Field(
        7,
        ge=0,
        description="Events older than the longest window plus this, behind the newest event "
        "time seen, are too late to count (they are still labelled).",
    )
    same_day_visit_hours: float = Field(
        24, gt=0, description="A visit booked less than this before it starts is unplanned."
    )
    detectors: DetectorsPolicy = DetectorsPolicy()
    device_identity: DeviceIdentityPolicy = DeviceIdentityPolicy()
    health: HealthPolicy = HealthPolicy()
