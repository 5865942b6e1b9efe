"""The `classifier:` section of the tenant file: thresholds, windows and weights.

What counts as late, how many occurrences make a habit, what a healthy RHEM
is: each MSP decides, so every number lives here with a default from the
field (../shared/domain.md), never in the detectors' code.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


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


class LateReportingPolicy(DetectorPolicy):
    alert_lead_hours: float = Field(
        4, gt=0, description="An RMM alert this long before the client's ticket means late."
    )
    alert_lookback_days: float = Field(
        7, gt=0, description="How far back an RMM alert on the same device or site is looked for."
    )
    issue_age_hours: float = Field(
        24, gt=0, description="Issue started this long before the ticket was created means late."
    )
    quiet_days: float = Field(
        14, gt=0, description="A first ticket at critical priority after this much quiet is late."
    )
    window_days: float = 60


class SkippedMeetingPolicy(DetectorPolicy):
    short_notice_hours: float = Field(
        24, gt=0, description="A client cancellation with less notice than this is a skip."
    )
    reschedules: int = Field(
        2, ge=1, description="Client reschedules of one meeting that count as a skip."
    )
    window_days: float = 90
    episode_gap_days: float = 60


class IgnoredRecommendationPolicy(DetectorPolicy):
    grace_days: float = Field(0, ge=0, description="Days past due before unanswered counts.")
    default_due_days: float = Field(
        30, gt=0, description="Due date of a recommendation that has none: presented + this."
    )
    window_days: float = 180
    episode_gap_days: float = 90
    min_occurrences: int = 1


class UnannouncedChangePolicy(DetectorPolicy):
    announce_days: float = Field(
        7, gt=0, description="A request or change ticket this recent announces a device change."
    )
    window_days: float = 30
    min_occurrences: int = 1


class DetectorsPolicy(_Strict):
    direct_to_tech: DetectorPolicy = DetectorPolicy()
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
    max_future_skew_hours: float = Field(
        6,
        ge=0,
        description="An event whose event time lies more than this ahead of when ingest "
        "received it (a vendor clock error, a typo'd year) is dead-lettered, never folded: "
        "it would move the watermark into the future and age every window out.",
    )
    same_day_visit_hours: float = Field(
        24, gt=0, description="A visit booked less than this before it starts is unplanned."
    )
    detectors: DetectorsPolicy = DetectorsPolicy()
    health: HealthPolicy = HealthPolicy()
