"""Late reporting: a client's report of a problem the RMM had already seen.

The alert and the ticket must plausibly concern the same problem (issue 12, causes 1-3):

- only the client's own report of a problem counts: an incident or problem ticket (or
  one of unknown nature with a reactive sign), never a service request, and never a
  technician's follow-up of earlier work (the MSP continuing a ticket is not the client
  reporting anything);
- the same device, by an identity both systems share (hostname, serial, the RMM-PSA
  link), or a ticket whose text names the alert's device by its hostname;
- only when the ticket names no device both systems know, the same *site*, as the tenant's
  `late_reporting.site_match` says, and only for an alert still open when the client
  reported (a site-wide problem it was living with) at a site small enough for one alert
  to single the problem out (`site_max_devices`): on an estate of thousands of
  endpoints some alert about the same topic is always open somewhere, and says nothing
  about this ticket;
- an alert reset within minutes is a blip, not a problem the client sat on; an alert
  still open when the ticket was created counts however old it is;
- a first critical ticket after a quiet period is late only if no alert of the client
  fired within the lead time before it (the RMM saw the problem begin just before:
  an outage phoned in promptly);
- an alert about the MSP's own upkeep (missing patches, old antivirus definitions, a
  backup: the tenant's `upkeep_topics`) is nothing the client notices: even on the
  ticket's device it counts only for a ticket about the same topic.

The alerts are indexed by device identity and by site, each in time order, so a
ticket looks only at the alerts of its own devices (or site) within the look-back,
plus the few that stayed open longer: never every alert for every ticket.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterator
from dataclasses import dataclass, field

from services.classifier.domain.devices import Identities, hostname
from services.classifier.domain.labels import CLIENT_INITIATORS, is_follow_up
from services.classifier.domain.state import DAY, HOUR, AlertRec, ClientState, TicketRec
from services.classifier.domain.words import has_term, related, tokens, topics_of
from services.events.models import Nature
from services.events.policy import ClassifierPolicy, LateReportingPolicy

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


@dataclass
class _Timeline:
    """Alerts of one device identity (or one site) in time order, with the few that
    stayed open longer than the look-back kept apart (they count however old)."""

    alerts: list[AlertRec] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    long_open: list[AlertRec] = field(default_factory=list)

    def add(self, a: AlertRec, lookback: float) -> None:
        self.alerts.append(a)
        self.times.append(a.at)
        if a.resolved is None or a.resolved - a.at > lookback:
            self.long_open.append(a)

    def before(self, t: TicketRec, lead: float, lookback: float) -> Iterator[AlertRec]:
        """Alerts that fired at least `lead` before the ticket: within the look-back, or
        older and still open when it was created. Earliest first."""
        latest = t.created - lead
        earliest = t.created - lookback
        for a in self.long_open:
            still_open = a.resolved is None or a.resolved > t.created
            if a.at < earliest and a.at <= latest and still_open:
                yield a
        low, high = bisect_left(self.times, earliest), bisect_right(self.times, latest)
        yield from self.alerts[low:high]


class _Alerts:
    """A client's alerts as the late-reporting rule looks them up: by device identity
    and by site."""

    def __init__(self, state: ClientState, policy: ClassifierPolicy) -> None:
        p = policy.detectors.late_reporting
        transient = p.transient_alert_minutes * 60
        self.lead, self.lookback = p.alert_lead_hours * HOUR, p.alert_lookback_days * DAY
        self.topics, self.upkeep = p.topics, set(p.upkeep_topics)
        self._upkeep: dict[str, set[str]] = {}  # alert ref -> its upkeep topics
        self._ticket_topics: dict[str, set[str]] = {}  # ticket ref -> its topics
        self.by_key: dict[str, _Timeline] = {}
        self.by_site: dict[str, _Timeline] = {}
        site_devices: dict[str, set[str]] = {}
        identities = Identities(policy.device_identity)
        for a in sorted(state.alerts.values(), key=lambda a: (a.at, a.ref)):
            if a.pending or (a.resolved is not None and a.resolved - a.at <= transient):
                continue  # only a reset known, or a blip reset within minutes
            for key in identities(a.devices):
                self.by_key.setdefault(key, _Timeline()).add(a, self.lookback)
            if a.site is not None:
                self.by_site.setdefault(a.site, _Timeline()).add(a, self.lookback)
                site_devices.setdefault(a.site, set()).add(min(a.devices, default=a.ref))
        self.site_size = {site: len(devices) for site, devices in site_devices.items()}
        self.every = sorted(a.at for a in state.alerts.values() if not a.pending)

    def began_shortly_before(self, t: TicketRec) -> bool:
        """Whether any alert of the client fired within the lead time before the ticket:
        the RMM saw the problem begin then, so the report came promptly."""
        i = bisect_left(self.every, t.created - self.lead)
        return i < len(self.every) and self.every[i] <= t.created

    def on_devices(self, keys: set[str], t: TicketRec) -> AlertRec | None:
        found = [
            a
            for key in keys
            if (line := self.by_key.get(key)) is not None
            for a in line.before(t, self.lead, self.lookback)
            if self._noticeable(a, t)
        ]
        return min(found, key=lambda a: (a.at, a.ref)) if found else None

    def _noticeable(self, a: AlertRec, t: TicketRec) -> bool:
        """Whether the client could have noticed the alert's problem: an alert about the
        MSP's own upkeep (missing patches, old antivirus definitions, a backup) only
        concerns a ticket about the same topic."""
        upkeep = self._upkeep.get(a.ref)
        if upkeep is None:  # once per alert, however many tickets look at it
            alert_words = tokens(f"{a.category or ''} {a.message or ''}")
            upkeep = self._upkeep[a.ref] = topics_of(alert_words, self.topics) & self.upkeep
        if not upkeep:
            return True
        about = self._ticket_topics.get(t.ref)
        if about is None:
            about = self._ticket_topics[t.ref] = topics_of(tokens(t.summary), self.topics)
        return bool(upkeep & about)

    def open_at_site(self, site: str, t: TicketRec) -> Iterator[AlertRec]:
        line = self.by_site.get(site)
        if line is None:
            return
        for a in line.before(t, self.lead, self.lookback):
            if a.resolved is None or a.resolved > t.created:
                yield a


def _named_hosts(t: TicketRec, identities: Identities) -> set[str]:
    """Host keys of the devices the ticket's text names ("PC-0412 will not boot")."""
    keys = {"host:" + h for w in tokens(t.summary) if (h := hostname(w)) is not None}
    return identities(keys)


def _same_problem(
    t: TicketRec, alerts: _Alerts, p: LateReportingPolicy, identities: Identities
) -> tuple[AlertRec, str] | None:
    """The earliest alert that plausibly concerns the ticket's problem, and how."""
    ticket_keys = identities(t.devices)
    if ticket_keys:  # same device, by any identity both systems share
        a = alerts.on_devices(ticket_keys, t)
        return (a, "on the same device") if a is not None else None
    named = _named_hosts(t, identities)
    if named and (a := alerts.on_devices(named, t)) is not None:
        return a, "on the device the ticket names"
    # The ticket names no device: the same site, if the tenant allows and the site is
    # small enough for an alert there to single out this problem.
    if p.site_match == "off" or t.site is None:
        return None
    if alerts.site_size.get(t.site, 0) > p.site_max_devices:
        return None
    words = tokens(t.summary)
    for a in alerts.open_at_site(t.site, t):
        if p.site_match == "any":
            return a, "at the same site"
        topic = related(words, tokens(f"{a.category or ''} {a.message or ''}"), p.topics)
        if topic is not None:
            return a, f"at the same site, about {topic}"
    return None


def client_reports(state: ClientState, policy: ClassifierPolicy) -> list[TicketRec]:
    """The client's own tickets in time order: not the RMM's, not the MSP's, and not a
    technician's follow-up of earlier work."""
    terms = policy.detectors.direct_to_tech.follow_up_terms
    return sorted(
        (
            t
            for t in state.tickets.values()
            if t.initiator in _CLIENT_INITIATOR_VALUES and not is_follow_up(t, terms)
        ),
        key=lambda t: (t.created, t.ref),
    )


def late_reports(state: ClientState, policy: ClassifierPolicy) -> list[tuple[TicketRec, str]]:
    """Each client ticket that shows late reporting, with why."""
    p = policy.detectors.late_reporting
    alerts = _Alerts(state, policy)
    identities = Identities(policy.device_identity)
    found: list[tuple[TicketRec, str]] = []
    previous: float | None = None
    for t in client_reports(state, policy):
        reasons: list[str] = []
        if problem_report(t, p):
            match = _same_problem(t, alerts, p, identities)
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
            # Nor is it late when the RMM saw the problem begin only just before (an
            # outage phoned in minutes after the agents went offline).
            if (
                t.priority == "critical"
                and previous is not None
                and t.created - previous >= p.quiet_days * DAY
                and not alerts.began_shortly_before(t)
            ):
                reasons.append("first contact after a quiet period came in at critical priority")
        if reasons:
            found.append((t, "; ".join(reasons)))
        previous = t.created
    return found
