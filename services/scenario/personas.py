"""Client personas: how much work a client makes, and which partner habits it has.

A partner-like client reports through the service desk, early, keeps its
meetings, answers recommendations and tells the MSP before it changes
anything; most of the MSP's hours for it are planned. Vendor-like clients have
one bad habit (and more break/fix); strained ones have two or three. A
reformed client had a habit at the start of the scenario and dropped it.

Volumes are per managed endpoint and month, chosen so that the health score
of each persona lands clearly inside its band (checked for every generated
client by `truth.expected_scores`).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from services.events.outputs import Band, Behaviour


@dataclass(frozen=True)
class VolumeProfile:
    service_desk: float  # client-initiated tickets per endpoint per month
    reactive_hours: float  # mean hours of work per client incident
    proactive_hours: float  # MSP-planned hours per endpoint per month
    alerts: float  # RMM alerts per endpoint per month
    rmm_ticket_share: float  # share of alerts that open a PSA ticket
    onsite_share: float  # share of client incidents that need a technician onsite


PARTNER_VOLUMES = VolumeProfile(0.22, 0.55, 0.45, 0.25, 0.3, 0.06)
VENDOR_VOLUMES = VolumeProfile(0.34, 0.7, 0.28, 0.35, 0.3, 0.1)
STRAINED_VOLUMES = VolumeProfile(0.46, 0.85, 0.16, 0.45, 0.3, 0.14)


@dataclass(frozen=True)
class Persona:
    family: str
    habits: frozenset[Behaviour]  # kept up to the end of the scenario
    reformed: frozenset[Behaviour]  # shown at the start, then dropped
    volumes: VolumeProfile
    description: str

    @property
    def band(self) -> Band:
        """The band the persona deserves at the end: one open habit costs a band."""
        return Band.green if not self.habits else Band.yellow if len(self.habits) == 1 else Band.red

    @property
    def label(self) -> str:
        if self.family == "mixture":
            return "mixture: " + " + ".join(sorted(self.habits))
        if self.reformed:
            return "reformed " + " + ".join(sorted(self.reformed))
        return self.family


def single(family: str, habit: Behaviour, description: str) -> Persona:
    return Persona(family, frozenset({habit}), frozenset(), VENDOR_VOLUMES, description)


PARTNER = Persona(
    "partner",
    frozenset(),
    frozenset(),
    PARTNER_VOLUMES,
    "reports through the service desk and early, keeps meetings, answers recommendations, "
    "announces changes; mostly planned work",
)
SINGLES = (
    single(
        "direct_to_tech",
        Behaviour.direct_to_tech,
        "calls and mails its favourite technician instead of the service desk",
    ),
    single(
        "late_reporter",
        Behaviour.late_reporting,
        "reports problems days after the RMM saw them (or after they began)",
    ),
    single(
        "meeting_skipper",
        Behaviour.skipped_meeting,
        "misses check-ins and reviews, cancels late, keeps moving them",
    ),
    single(
        "recommendation_ignorer",
        Behaviour.ignored_recommendation,
        "declines recommendations or leaves them unanswered past their due date",
    ),
    single(
        "changes_without_notice",
        Behaviour.unannounced_change,
        "adds devices and remote-access tools without a request or change ticket",
    ),
)
MIXTURES = (
    frozenset({Behaviour.direct_to_tech, Behaviour.late_reporting}),
    frozenset({Behaviour.skipped_meeting, Behaviour.ignored_recommendation}),
    frozenset({Behaviour.direct_to_tech, Behaviour.unannounced_change}),
    frozenset({Behaviour.late_reporting, Behaviour.skipped_meeting}),
    frozenset(
        {Behaviour.direct_to_tech, Behaviour.ignored_recommendation, Behaviour.skipped_meeting}
    ),
)
# Habits a client can drop inside a 90-day scenario (their episode gap is 30 days).
REFORMABLE = (Behaviour.direct_to_tech, Behaviour.late_reporting)
REFORMED_MIN_DAYS = 75


def mixture(habits: frozenset[Behaviour]) -> Persona:
    return Persona(
        "mixture",
        habits,
        frozenset(),
        STRAINED_VOLUMES,
        "several habits at once: " + ", ".join(sorted(habits)),
    )


def reformed(habit: Behaviour) -> Persona:
    return Persona(
        "reformed",
        frozenset(),
        frozenset({habit}),
        VENDOR_VOLUMES,
        f"showed {habit} in the first weeks, then stopped",
    )


def choose_personas(rng: random.Random, count: int, days: int) -> list[Persona]:
    """One of each family first (so a small scenario covers them all), then a mix
    weighted like a real book of clients: about a third partner-like."""
    can_reform = days >= REFORMED_MIN_DAYS
    chosen = [PARTNER, *SINGLES, mixture(MIXTURES[0])]
    if can_reform:
        chosen.append(reformed(REFORMABLE[0]))
    chosen = chosen[:count]
    while len(chosen) < count:
        roll = rng.random()
        if roll < 0.35:
            chosen.append(PARTNER)
        elif roll < 0.75:
            chosen.append(rng.choice(SINGLES))
        elif roll < 0.92 or not can_reform:
            chosen.append(mixture(rng.choice(MIXTURES)))
        else:
            chosen.append(reformed(rng.choice(REFORMABLE)))
    return chosen
