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

from services.classifier.announcing import announces, announcing_kind
from services.classifier.devices import Identities
from services.classifier.labels import CLIENT_INITIATORS, by_client, is_cancelled
from services.classifier.review_cadence import review_overdue
from services.classifier.state import DAY, HOUR, AlertRec, ClientState, TicketRec
from services.classifier.words import has_term, related, tokens
from services.events.models import Nature
from services.events.outputs import Behaviour, Initiator, Severity
from services.events.policy import ClassifierPolicy, DetectorPolicy, LateReportingPolicy

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


_CLIENT_INITIATOR_VALUES = frozenset(i.value for i in CLIENT_INITIATORS)
_PROBLEM = frozenset({Nature.incident.value, Nature.problem.value})
_URGENT = frozenset({"critical", "high"})


def problem_report(t: TicketRec, p: LateReportingPolicy) -> bool:
    """Only a report of a problem can be a late one: an incident or problem ticket, or a
    ticket of unknown nature with a reactive sign (high or critical priority, a failure
    word in its summary, a problem start stated before creation). A service request,
    a change or a new laptop is never late reporting of an incident."""
    if t.nature in _PROBLEM:
        return True
    if t.nature != Nature.unknown.value:
        return False
    return (
        t.priority in _URGENT
        or has_term(tokens(t.summary), p.failure_terms) is not None
        or (t.issue_started is not None and t.issue_started < t.created)
    )


class _Alerts:
    """A client's alerts as the late-reporting rule looks them up: by device identity
    and by site, each in time order."""

    def __init__(self, state: ClientState, policy: ClassifierPolicy) -> None:
        p = policy.detectors.late_reporting
        transient = p.transient_alert_minutes * 60
        self.lead, self.lookback = p.alert_lead_hours * HOUR, p.alert_lookback_days * DAY
        self.by_key: dict[str, list[AlertRec]] = {}
        self.by_site: dict[str, list[AlertRec]] = {}
        identities = Identities(policy.device_identity)
        for a in sorted(state.alerts.values(), key=lambda a: a.at):
            if a.pending or (a.resolved is not None and a.resolved - a.at <= transient):
                continue  # only a reset known, or a blip reset within minutes
            for key in identities(a.devices):
                self.by_key.setdefault(key, []).append(a)
            if a.site is not None:
                self.by_site.setdefault(a.site, []).append(a)

    def counts(self, a: AlertRec, t: TicketRec) -> bool:
        """Fired at least the lead before the ticket, and either still open when it was
        created (however old) or fired within the look-back."""
        if a.at > t.created - self.lead:
            return False
        return a.at >= t.created - self.lookback or a.resolved is None or a.resolved > t.created

    def on_devices(self, keys: set[str], t: TicketRec) -> AlertRec | None:
        found = [a for key in keys for a in self.by_key.get(key, ()) if self.counts(a, t)]
        return min(found, key=lambda a: (a.at, a.ref)) if found else None

    def at_site(self, site: str, t: TicketRec) -> list[AlertRec]:
        return [a for a in self.by_site.get(site, ()) if self.counts(a, t)]


def _same_problem(
    t: TicketRec, alerts: _Alerts, policy: ClassifierPolicy, identities: Identities
) -> tuple[AlertRec, str] | None:
    """The earliest alert that plausibly concerns the ticket's problem, and how."""
    p = policy.detectors.late_reporting
    ticket_keys = identities(t.devices)
    if ticket_keys:  # same device, by any identity both systems share
        a = alerts.on_devices(ticket_keys, t)
        return (a, "on the same device") if a is not None else None
    # The ticket names no device both systems know: the same site, if the tenant allows.
    if p.site_match == "off" or t.site is None:
        return None
    words = tokens(t.summary)
    for a in alerts.at_site(t.site, t):
        if p.site_match == "any":
            return a, "at the same site"
        topic = related(words, tokens(f"{a.category or ''} {a.message or ''}"), p.topics)
        if topic is not None:
            return a, f"at the same site, about {topic}"
    return None


def late_reporting(state: ClientState, policy: ClassifierPolicy, watermark: float) -> list[Found]:
    p = policy.detectors.late_reporting
    client_tickets = sorted(
        (t for t in state.tickets.values() if t.initiator in _CLIENT_INITIATOR_VALUES),
        key=lambda t: t.created,
    )
    alerts = _Alerts(state, policy)
    identities = Identities(policy.device_identity)
    found: list[Found] = []
    previous: float | None = None
    for t in client_tickets:
        reasons: list[str] = []
        if problem_report(t, p):
            match = _same_problem(t, alerts, policy, identities)
            if match is not None:
                a, how = match
                hours = (t.created - a.at) / HOUR
                still_open = a.resolved is None or a.resolved > t.created
                still = " and was still open" if still_open else ""
                reasons.append(
                    f"the RMM alerted {hours:.0f} h earlier {how} "
                    f"({a.message or a.category or a.ref}){still}"
                )
            if (
                t.issue_started is not None
                and t.created - t.issue_started >= p.issue_age_hours * HOUR
            ):
                days = (t.created - t.issue_started) / DAY
                reasons.append(f"the problem started {days:.1f} days before it was reported")
            # Without an earlier ticket there is no evidence of a quiet period, only of no data.
            if (
                t.priority == "critical"
                and previous is not None
                and t.created - previous >= p.quiet_days * DAY
            ):
                reasons.append("first contact after a quiet period came in at critical priority")
        if reasons:
            found.append(Found(t.ref, t.created, f"{_ticket_name(t)}: " + "; ".join(reasons)))
        previous = t.created
    return found


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
    changes = [c for c in state.changes.values() if c.change in ("new_device", "new_remote_tool")]
    if not changes:
        return []
    natures = frozenset(n.value for n in p.announcing_natures)
    candidates = sorted(
        (t for t in state.tickets.values() if announcing_kind(t, p, natures)),
        key=lambda t: t.created,
    )
    times = [t.created for t in candidates]
    found: list[Found] = []
    for c in changes:
        recent = candidates[bisect_left(times, c.at - window) : bisect_right(times, c.at)]
        if any(announces(t, c, policy) for t in recent):
            continue
        what = f"remote-access tool {c.tool} on {c.device}" if c.tool else f"new device {c.device}"
        found.append(Found(c.ref, c.at, f"{what} appeared with no ticket announcing it"))
    return found


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


def severity(episode: Episode, p: DetectorPolicy) -> Severity:
    if len(episode.evidence) >= 3 * p.min_occurrences or (
        episode.behaviour is Behaviour.unannounced_change
        and any("remote-access tool" in f.note for f in episode.evidence)
    ):
        return Severity.critical
    return Severity.warning


def signal_id(client_id: str, behaviour: Behaviour, first_ref: str) -> str:
    return str(uuid.uuid5(SIGNAL_NAMESPACE, f"{client_id}\x1f{behaviour}\x1f{first_ref}"))
