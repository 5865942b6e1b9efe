"""Client personas: how much work a client makes, which habits it has, which hard cases it plays.

A partner-like client reports through the service desk, early, keeps its
meetings, answers recommendations and tells the MSP before it changes
anything; most of the MSP's hours for it are planned. Vendor-like clients have
one bad habit (and more break/fix); strained ones have two or three. A
reformed client had a habit at the start of the scenario and dropped it.

The persona is the intent the truth is written from: its band is what an
account manager would judge from its habits (none green, one mild habit
yellow, two or more or a severe one red), never a score over the records.

Hard cases (issue 12) are deliberate elements a persona plays on top of its
habits: records a naive rule would misread, whose truth is still the intent
(an alert on another device at the same site is no late report; the MSP
cancelling a meeting is no skip). Noise makes a minority of clients ambiguous
on purpose: a partner with one isolated slip, a habit shown just twice.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from enum import StrEnum

from services.events.models import Source
from services.events.outputs import Band, Behaviour


class HardCase(StrEnum):
    site_alerts = "site_alerts"  # unrelated alerts at the ticket's site; requests after alerts
    long_open_alert = "long_open_alert"  # an alert left open > 7 days, then reported (late)
    unrelated_requests = "unrelated_requests"  # requests about nothing, before a silent device
    msp_cancellations = "msp_cancellations"  # the MSP cancels meetings at short notice
    co_managed = "co_managed"  # the client's IT person enters tickets with a PSA login
    followups = "followups"  # technicians' follow-up tickets left at the default source
    multilingual = "multilingual"  # German or French picklist values (ConnectWise)


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

# A reformed client's last lapse is at least this long before the end: six weeks of
# good practice, which an account manager reads as a dropped habit.
REFORMED_QUIET_DAYS = 42


@dataclass(frozen=True)
class Persona:
    family: str
    habits: frozenset[Behaviour]  # kept up to the end of the scenario
    reformed: frozenset[Behaviour]  # shown at the start, then dropped
    volumes: VolumeProfile
    description: str
    severe: bool = False  # one habit played so hard it alone makes the client red
    hard: frozenset[HardCase] = frozenset()
    slip: Behaviour | None = None  # one isolated lapse of a client without that habit
    at_threshold: bool = False  # its habits shown just twice, weeks apart
    silent: bool = False  # no event at all in the scenario
    psa: Source | None = None  # a hard case that needs a given PSA or RMM
    rmm: Source | None = None

    def band_for(self, shown: frozenset[Behaviour]) -> Band:
        """The band an account manager gives: the habits the client kept to the end (and
        actually showed), one mild habit yellow, two or a severe one red."""
        kept = self.habits & shown
        if not kept:
            return Band.green
        return Band.red if self.severe or len(kept) >= 2 else Band.yellow

    @property
    def band(self) -> Band:
        return self.band_for(self.habits)

    def shows(self, behaviour: Behaviour) -> bool:
        return behaviour in self.habits or behaviour in self.reformed

    @property
    def label(self) -> str:
        if self.silent:
            return "silent"
        if self.family == "mixture":
            label = "mixture: " + " + ".join(sorted(self.habits))
        elif self.reformed:
            label = "reformed " + " + ".join(sorted(self.reformed))
        else:
            label = self.family
        if self.severe:
            label += " (severe)"
        if self.at_threshold:
            label += " (at threshold)"
        if self.slip is not None:
            label += f" (one slip: {self.slip})"
        return label


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
SILENT = replace(PARTNER, family="silent", silent=True, description="no event in the scenario")
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
SINGLE = {next(iter(p.habits)): p for p in SINGLES}
MIXTURES = (
    frozenset({Behaviour.direct_to_tech, Behaviour.late_reporting}),
    frozenset({Behaviour.skipped_meeting, Behaviour.ignored_recommendation}),
    frozenset({Behaviour.direct_to_tech, Behaviour.unannounced_change}),
    frozenset({Behaviour.late_reporting, Behaviour.skipped_meeting}),
    frozenset(
        {Behaviour.direct_to_tech, Behaviour.ignored_recommendation, Behaviour.skipped_meeting}
    ),
)
# Habits a client can drop inside a scenario (then keep six weeks of good practice).
REFORMABLE = (Behaviour.direct_to_tech, Behaviour.late_reporting)
REFORMED_MIN_DAYS = 75
# Behaviours an isolated slip can show, and habits that can be played at the threshold.
SLIPS = (Behaviour.direct_to_tech, Behaviour.late_reporting, Behaviour.skipped_meeting)
THRESHOLD_HABITS = (Behaviour.direct_to_tech, Behaviour.late_reporting, Behaviour.skipped_meeting)


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


def severe(habit: Behaviour) -> Persona:
    return replace(
        SINGLE[habit],
        severe=True,
        volumes=STRAINED_VOLUMES,
        description=SINGLE[habit].description + ", as a rule rather than now and then",
    )


# -- the profiles -------------------------------------------------------------------------


def _sprinkle(rng: random.Random, persona: Persona) -> Persona:
    """Hard cases as everyday noise of the standard profile, and a minority of ambiguous
    clients (a partner with one isolated slip, a habit shown just twice)."""
    if persona.silent:
        return persona
    hard = {
        case
        for case, share in (
            (HardCase.site_alerts, 0.5),
            (HardCase.followups, 0.5),
            (HardCase.co_managed, 0.15),
            (HardCase.msp_cancellations, 0.35),
            (HardCase.multilingual, 0.3),
        )
        if rng.random() < share
    }
    if Behaviour.late_reporting in persona.habits and rng.random() < 0.5:
        hard.add(HardCase.long_open_alert)
    if persona.shows(Behaviour.unannounced_change) and rng.random() < 0.6:
        hard.add(HardCase.unrelated_requests)
    slip = persona.slip
    if not persona.habits and not persona.reformed and rng.random() < 0.3:
        slip = rng.choice(SLIPS)
    at_threshold = (
        len(persona.habits) == 1
        and not persona.severe
        and next(iter(persona.habits)) in THRESHOLD_HABITS
        and rng.random() < 0.15
    )
    return replace(persona, hard=persona.hard | hard, slip=slip, at_threshold=at_threshold)


def choose_personas(rng: random.Random, count: int, days: int) -> list[Persona]:
    """One of each family first (so a small scenario covers them all), then a mix
    weighted like a real book of clients: about a third partner-like."""
    can_reform = days >= REFORMED_MIN_DAYS
    chosen = [PARTNER, *SINGLES, mixture(MIXTURES[0])]
    if can_reform:
        chosen.append(reformed(REFORMABLE[0]))
    if count >= 10:
        chosen.append(SILENT)
    chosen = chosen[:count]
    while len(chosen) < count:
        roll = rng.random()
        if roll < 0.33:
            chosen.append(PARTNER)
        elif roll < 0.35:
            chosen.append(SILENT)
        elif roll < 0.72:
            chosen.append(rng.choice(SINGLES))
        elif roll < 0.76:
            chosen.append(severe(rng.choice(REFORMABLE)))
        elif roll < 0.92 or not can_reform:
            chosen.append(mixture(rng.choice(MIXTURES)))
        else:
            chosen.append(reformed(rng.choice(REFORMABLE)))
    return [_sprinkle(rng, p) for p in chosen]


def _hard(persona: Persona, *cases: HardCase, **changes: object) -> Persona:
    return replace(persona, hard=frozenset(cases), **changes)  # type: ignore[arg-type]


# Fifteen clients made only of hard cases (the "hard" profile), in this order; a larger
# count cycles through them again.
HARD_CASES: tuple[Persona, ...] = (
    _hard(PARTNER, HardCase.site_alerts, family="partner: unrelated alerts at its sites"),
    _hard(
        SINGLE[Behaviour.late_reporting],
        HardCase.long_open_alert,
        family="late_reporter: alerts open for over a week",
    ),
    _hard(
        SINGLE[Behaviour.late_reporting],
        HardCase.site_alerts,
        family="late_reporter: PSA asset ids that differ from the RMM's",
        psa=Source.autotask,
    ),
    _hard(
        SINGLE[Behaviour.unannounced_change],
        HardCase.unrelated_requests,
        family="changes_without_notice: unrelated requests before",
    ),
    _hard(
        PARTNER,
        HardCase.msp_cancellations,
        family="partner: the MSP cancels meetings",
        psa=Source.connectwise,
    ),
    _hard(PARTNER, HardCase.co_managed, family="partner: co-managed"),
    _hard(PARTNER, HardCase.followups, family="partner: technicians' follow-ups"),
    replace(SILENT, family="silent"),
    _hard(
        SINGLE[Behaviour.direct_to_tech],
        family="direct_to_tech: HaloPSA integer picklist ids",
        psa=Source.halopsa,
    ),
    _hard(
        SINGLE[Behaviour.skipped_meeting],
        HardCase.multilingual,
        HardCase.msp_cancellations,
        family="meeting_skipper: German or French picklists",
        psa=Source.connectwise,
    ),
    _hard(
        PARTNER,
        HardCase.multilingual,
        HardCase.followups,
        family="partner: German or French picklists",
        psa=Source.connectwise,
    ),
    _hard(PARTNER, HardCase.site_alerts, family="partner", slip=SLIPS[1]),
    _hard(
        SINGLE[Behaviour.direct_to_tech],
        HardCase.followups,
        family="direct_to_tech",
        at_threshold=True,
    ),
    _hard(
        SINGLE[Behaviour.direct_to_tech],
        HardCase.co_managed,
        family="direct_to_tech: co-managed",
    ),
    _hard(
        severe(Behaviour.late_reporting),
        HardCase.long_open_alert,
        HardCase.site_alerts,
        family="late_reporter: long-open and site alerts",
    ),
)


def hard_personas(count: int) -> list[Persona]:
    return [HARD_CASES[i % len(HARD_CASES)] for i in range(count)]
