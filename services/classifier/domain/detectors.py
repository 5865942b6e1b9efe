"""The five behaviour detectors, and how their evidence becomes signals.

Each detector is a pure function of one client's state and the watermark (the
newest event time seen): it returns every piece of evidence it finds, so an
event that arrives out of order is judged with everything around it. Evidence
is grouped into episodes (runs of evidence with no gap longer than the
policy's `episode_gap_days`); an episode with enough evidence in its window is
one signal, which later evidence updates instead of raising another.
"""

from __future__ import annotations

import uuid
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from services.classifier.domain.announcing import announces, announcing_kind, names_change
from services.classifier.domain.devices import Identities
from services.classifier.domain.labels import by_client, is_cancelled
from services.classifier.domain.late import late_reports
from services.classifier.domain.review_cadence import review_overdue
from services.classifier.domain.state import DAY, HOUR, ChangeRec, ClientState, TicketRec
from services.events.outputs import Behaviour, Initiator, Severity
from services.events.policy import ClassifierPolicy, DetectorPolicy

SIGNAL_NAMESPACE = uuid.UUID("0b8f4d5e-2c71-4a3e-9f60-7d1e5a2b9c84")


@dataclass(frozen=True)
class Found:
    """One piece of evidence: a record that shows the behaviour, and why."""

    ref: str
    at: float
    note: str


def _when(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M")


def _ticket_name(t: TicketRec) -> str:
    return f"ticket {t.number}" if t.number else t.ref


def direct_to_tech(state: ClientState, policy: ClassifierPolicy, watermark: float) -> list[Found]:
    found = [
        Found(t.ref, t.created, f"{_ticket_name(t)} {_direct_how(t)}")
        for t in state.tickets.values()
        if t.initiator == Initiator.direct_to_tech
    ]
    found += [
        Found(
            w.ref,
            w.at,
            f"{w.hours:g} h logged by {w.technician or 'a technician'} with no ticket",
        )
        for w in state.work.values()
        if w.kind == "time_entry" and w.no_ticket
    ]
    return found


def _direct_how(t: TicketRec) -> str:
    if t.channel.startswith("direct_"):
        return f"came in by {t.channel.removeprefix('direct_')} straight to a technician"
    if t.addressed_to:
        return f"was addressed to {t.addressed_to} personally"
    return f"was entered by technician {t.entered_by or ''} instead of the service desk".replace(
        "  ", " "
    )


def late_reporting(state: ClientState, policy: ClassifierPolicy, watermark: float) -> list[Found]:
    """A client's problem report after an alert on the same problem (see `late`)."""
    return [
        Found(t.ref, t.created, f"{_ticket_name(t)}: {why}")
        for t, why in late_reports(state, policy)
    ]


def skipped_meeting(state: ClientState, policy: ClassifierPolicy, watermark: float) -> list[Found]:
    p = policy.detectors.skipped_meeting
    found: list[Found] = []
    for m in state.meetings.values():
        what = m.title or m.kind
        if m.status == "no_show":
            if m.cancelled_by != "technician":  # the MSP's own no-show is not the client's
                found.append(Found(m.ref, m.starts, f"no-show at {what} on {_when(m.starts)}"))
        elif is_cancelled(m.status):
            if not by_client(m.status, m.cancelled_by, p.unattributed_cancellations):
                continue  # the MSP's own cancellation never counts as the client skipping
            notice = m.starts - (m.changed if m.changed is not None else m.updated)
            if notice < p.short_notice_hours * HOUR:
                found.append(
                    Found(
                        m.ref,
                        m.starts,
                        f"{what} on {_when(m.starts)} cancelled "
                        f"{max(notice, 0) / HOUR:.0f} h before",
                    )
                )
        elif m.client_reschedules >= p.reschedules:
            found.append(Found(m.ref, m.starts, f"{what} rescheduled {m.client_reschedules} times"))
    return found + review_overdue(state, watermark, Found)  # the tenant's review_cadence


def ignored_recommendation(
    state: ClientState, policy: ClassifierPolicy, watermark: float
) -> list[Found]:
    p = policy.detectors.ignored_recommendation
    found: list[Found] = []
    for r in state.recommendations.values():
        if r.status == "declined":
            at = r.answered if r.answered is not None else r.updated
            found.append(Found(r.ref, at, f"recommendation '{r.title}' declined"))
        elif r.status == "open":
            due = r.due
            if due is None and r.presented is not None:
                due = r.presented + p.default_due_days * DAY
            if due is not None and watermark >= due + p.grace_days * DAY:
                found.append(
                    Found(
                        r.ref, due, f"recommendation '{r.title}' unanswered since {_when(due)[:10]}"
                    )
                )
    return found


def unannounced_change(
    state: ClientState, policy: ClassifierPolicy, watermark: float
) -> list[Found]:
    """A new device or remote-access tool no ticket announced. The announcing ticket must
    concern the change (see `announcing.announces`), not be just any recent request."""
    p = policy.detectors.unannounced_change
    window = p.announce_days * DAY
    named_window = max(window, p.named_announce_days * DAY)
    changes = [c for c in state.changes.values() if c.change in ("new_device", "new_remote_tool")]
    if not changes:
        return []
    natures = frozenset(n.value for n in p.announcing_natures)
    candidates = sorted(
        (t for t in state.tickets.values() if announcing_kind(t, p, natures)),
        key=lambda t: t.created,
    )
    times = [t.created for t in candidates]
    known = _known_devices(state, policy)
    found: list[Found] = []
    for c in changes:
        if c.change == "new_device" and known.seen_before(c):
            continue  # a device the MSP knew: its agent reinstalled, or replaced by name
        recent = candidates[bisect_left(times, c.at - named_window) : bisect_right(times, c.at)]
        if any(
            announces(t, c, policy)
            if t.created >= c.at - window
            else names_change(t, c, policy) in _NAMED
            for t in recent
        ):
            continue
        what = f"remote-access tool {c.tool} on {c.device}" if c.tool else f"new device {c.device}"
        found.append(Found(c.ref, c.at, f"{what} appeared with no ticket announcing it"))
    return found


_NAMED = frozenset({"device", "hostname", "user", "tool"})  # `names_change`, not by type


@dataclass
class _KnownDevices:
    """When each device identity first appeared in the client's records: RMM alerts,
    earlier device changes, tickets naming a device."""

    first: dict[str, float]
    identities: Identities

    def seen_before(self, c: ChangeRec) -> bool:
        return any(self.first.get(k, c.at) < c.at for k in self.identities(c.keys))


def _known_devices(state: ClientState, policy: ClassifierPolicy) -> _KnownDevices:
    identities = Identities(policy.device_identity)
    first: dict[str, float] = {}

    def saw(keys: Iterable[str], at: float) -> None:
        for key in identities(keys):
            first[key] = min(first.get(key, at), at)

    for a in state.alerts.values():
        saw(a.devices, a.at)
    for c in state.changes.values():
        saw(c.keys, c.at)
    for t in state.tickets.values():
        saw(t.devices, t.created)
    return _KnownDevices(first, identities)


Detector = Callable[[ClientState, ClassifierPolicy, float], list[Found]]

DETECTORS: dict[Behaviour, Detector] = {
    Behaviour.direct_to_tech: direct_to_tech,
    Behaviour.late_reporting: late_reporting,
    Behaviour.skipped_meeting: skipped_meeting,
    Behaviour.ignored_recommendation: ignored_recommendation,
    Behaviour.unannounced_change: unannounced_change,
}


def detector_policy(policy: ClassifierPolicy, behaviour: Behaviour) -> DetectorPolicy:
    p: DetectorPolicy = getattr(policy.detectors, behaviour.value)
    return p


@dataclass
class Episode:
    behaviour: Behaviour
    evidence: list[Found]  # sorted by time
    raised: bool  # enough evidence within the window
    open: bool  # not yet quiet for the episode gap

    @property
    def first(self) -> float:
        return self.evidence[0].at

    @property
    def last(self) -> float:
        return self.evidence[-1].at


def episodes(
    behaviour: Behaviour, found: Iterable[Found], p: DetectorPolicy, watermark: float
) -> list[Episode]:
    ordered = sorted(found, key=lambda f: (f.at, f.ref))
    groups: list[list[Found]] = []
    for f in ordered:
        if groups and f.at - groups[-1][-1].at <= p.episode_gap_days * DAY:
            groups[-1].append(f)
        else:
            groups.append([f])
    result = []
    for group in groups:
        result.append(
            Episode(
                behaviour,
                group,
                raised=_dense_enough(group, p),
                open=watermark - group[-1].at <= p.episode_gap_days * DAY,
            )
        )
    return result


def _dense_enough(group: list[Found], p: DetectorPolicy) -> bool:
    n, span = p.min_occurrences, p.window_days * DAY
    return any(group[i + n - 1].at - group[i].at <= span for i in range(len(group) - n + 1))


def recent_rate(episode: Episode, p: DetectorPolicy) -> int:
    """Evidence in the last `window_days` of the episode (up to its latest evidence): how
    often the client lapses now, not how long the episode has lasted."""
    since = episode.last - p.window_days * DAY
    return sum(1 for f in episode.evidence if f.at > since)


def as_a_rule(episode: Episode, p: DetectorPolicy) -> bool:
    """The lapse is the client's rule, not a habit now and then: the last window of the
    episode holds `critical_factor` times the evidence that raises a signal."""
    if p.critical_factor is None:
        return False
    return recent_rate(episode, p) >= p.critical_factor * p.min_occurrences


def severity(episode: Episode, p: DetectorPolicy) -> Severity:
    """Critical when the client lapses as a rule (`as_a_rule`), or when a change without
    notice is a remote-access tool (a security exposure however rare)."""
    if as_a_rule(episode, p) or (
        episode.behaviour is Behaviour.unannounced_change
        and any("remote-access tool" in f.note for f in episode.evidence)
    ):
        return Severity.critical
    return Severity.warning


def signal_id(client_id: str, behaviour: Behaviour, first_ref: str) -> str:
    return str(uuid.uuid5(SIGNAL_NAMESPACE, f"{client_id}\x1f{behaviour}\x1f{first_ref}"))
