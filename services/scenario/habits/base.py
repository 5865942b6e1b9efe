"""What every part of a client's play shares: its state and the record builders.

`PlayBase` holds one client's random stream, its records and the bookkeeping
that keeps the persona's intents apart (which devices a ticket will name, when
a ticket about a device was raised); its builders make tickets, time entries,
visits and alerts and record the persona's evidence as it makes them.
"""

from __future__ import annotations

import math
import random
from bisect import bisect_left
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from services.events.models import Channel, Location, Nature, Priority, Source
from services.events.outputs import Behaviour, Initiator
from services.scenario import rhythm
from services.scenario.habits.catalogue import (
    ALERTS,
    CLEAN_LOOKBACK,
    DAY,
    HOUR,
    SEVERITIES,
    concerns_devices,
)
from services.scenario.model import (
    Alert,
    ClientWorld,
    CoManagedStaff,
    Device,
    EnteredBy,
    Evidence,
    Person,
    Records,
    Ticket,
    TicketUpdate,
    TimeEntry,
    Visit,
)
from services.scenario.personas import REFORMED_QUIET_DAYS, Persona
from services.scenario.vendors import CHANNELS, encoded_nature
from services.scenario.world import Ids, make_uuid

# Where each PSA's record ids start (they then increase, as the PSA allocates them).
FIRST_IDS = {
    "ticket": {Source.connectwise: 48200, Source.autotask: 351100, Source.halopsa: 2200},
    "time": {Source.connectwise: 90100, Source.autotask: 41000, Source.halopsa: 7100},
    "visit": {Source.connectwise: 9100, Source.autotask: 6100, Source.halopsa: 5100},
}


def next_psa_id(ids: Ids, psa: Source, kind: str) -> int:
    return ids.next(f"{psa}:{kind}", FIRST_IDS[kind][psa])


@dataclass
class Context:
    tenant_id: str
    start: datetime
    end: datetime
    ids: Ids
    technicians: list[Person]  # the last one is the vCIO


@dataclass
class Planned:
    """A client ticket whose time and purpose are known, waiting for its device."""

    at: datetime
    purpose: str  # service, direct, late, quick, announce, site (dropped: no device)
    nature: Nature
    channel: Channel
    entered_by: EnteredBy
    initiator: Initiator
    priority: Priority
    summary: str
    device: Device | None = None
    site: str | None = None  # a ticket that names its site, not a device
    alert: Alert | None = None
    issue_started_at: datetime | None = None
    shows: Behaviour | None = None  # the behaviour this ticket is evidence of, if any
    slip: bool = False  # an isolated lapse, no habit
    long_open: bool = False  # a late report of an alert left open for over a week
    co_managed: CoManagedStaff | None = None  # entered by the client's own IT person


class PlayBase:
    def __init__(self, ctx: Context, client: ClientWorld, persona: Persona, rng: random.Random):
        self.ctx = ctx
        self.client = client
        self.persona = persona
        self.volumes = persona.volumes
        self.rng = rng
        self.start = ctx.start
        self.end = ctx.end
        self.last = ctx.end - 12 * HOUR  # no new work in the last hours: follow-ups have room
        self.months = (ctx.end - ctx.start).total_seconds() / 86400 / 30
        self.phase = rng.uniform(0, 2 * math.pi)
        self.staff = ctx.technicians[:-1]
        self.vcio = ctx.technicians[-1]
        self.favourite = self.staff[client.index % len(self.staff)]
        self.out = Records()
        self.plans: list[Planned] = []
        self.alert_times: dict[str, list[datetime]] = defaultdict(list)
        self.alert_spans: dict[str, list[tuple[datetime, datetime | None]]] = defaultdict(list)
        self.announcing: list[datetime] = []  # tickets about a device, when raised
        self.blocked: list[tuple[datetime, datetime]] = []  # no such tickets in these windows
        # Devices a client ticket will name: no alert may fire on them in the week before.
        self.reserved: dict[str, list[tuple[datetime, datetime]]] = defaultdict(list)

    # -- intent ---------------------------------------------------------------------------

    def _habit_window(self, behaviour: Behaviour) -> tuple[datetime, datetime] | None:
        """When the persona shows a habit: to the end if it keeps it, else stopping six
        weeks before the end (a reformed client)."""
        if behaviour in self.persona.habits:
            return self.start + DAY, self.end - 2 * DAY
        if behaviour in self.persona.reformed:
            quiet = timedelta(days=REFORMED_QUIET_DAYS)
            return self.start + DAY, self.end - quiet
        return None

    def _slips(self, behaviour: Behaviour) -> bool:
        return self.persona.slip is behaviour and not self.persona.shows(behaviour)

    def _evidence(self, behaviour: Behaviour, at: datetime, *refs: str, habit: bool = True) -> None:
        self.out.evidence.append(Evidence(self.client.id, behaviour, at, refs, habit))

    def _announces(self, nature: Nature, summary: str) -> bool:
        """A ticket tells the MSP about a new device when it is a request, change or project
        and names a device, its type or its user."""
        kind = encoded_nature(self.client.psa, nature)
        return kind in (Nature.request, Nature.change, Nature.project) and concerns_devices(summary)

    def _is_blocked(self, at: datetime) -> bool:
        return any(low <= at <= high for low, high in self.blocked)

    def _hours(self, mean: float) -> float:
        value = self.rng.lognormvariate(math.log(mean) - 0.125, 0.5)
        return round(min(6.0, max(0.1, value)), 2)

    def _busy_time(self) -> datetime:
        return rhythm.busy_times(self.rng, self.start + DAY, self.last - DAY, 1, self.phase)[0]

    # -- records --------------------------------------------------------------------------

    def _ticket(
        self,
        at: datetime,
        *,
        summary: str,
        nature: Nature,
        channel: Channel,
        initiator: Initiator,
        entered_by: EnteredBy,
        priority: Priority,
        technician: Person | None = None,
        device: Device | None = None,
        site: str | None = None,
        with_contact: bool = True,
        rmm_alert_id: str | None = None,
        issue_started_at: datetime | None = None,
    ) -> Ticket:
        ticket = Ticket(
            client=self.client,
            source=self.client.psa,
            id=next_psa_id(self.ctx.ids, self.client.psa, "ticket"),
            created_at=at,
            summary=summary,
            nature=nature,
            channel=channel,
            initiator=initiator,
            entered_by=entered_by,
            technician=technician or self.rng.choice(self.staff),
            priority=priority,
            device=device,
            contact=self.rng.choice(self.client.contacts) if with_contact else None,
            issue_started_at=issue_started_at,
            rmm_alert_id=rmm_alert_id,
            site=site,
        )
        self.out.tickets.append(ticket)
        if self._announces(nature, summary):
            self.announcing.append(at)
        return ticket

    def _work(
        self,
        ticket: Ticket,
        hours: float,
        work_type: str,
        nature: Nature,
        *,
        within: timedelta,
        location: Location = Location.remote,
    ) -> datetime:
        """Time entries for `hours` of work on a ticket; returns when the work ended."""
        parts = 1 if hours < 1.5 else self.rng.choice((2, 2, 3))
        finished = ticket.created_at + 0.5 * HOUR
        for index in range(parts):
            share = round(hours / parts, 2)
            if index == 0:
                begin = ticket.created_at + timedelta(minutes=self.rng.randrange(10, 90))
            else:
                begin = rhythm.next_workday_time(self.rng, finished, 0.5)
                begin = min(begin, ticket.created_at + within)
            entered = begin + timedelta(hours=share, minutes=self.rng.randrange(5, 45))
            if entered > self.end:
                break
            self._time_entry(ticket, begin, share, entered, work_type, nature, location)
            finished = max(finished, begin + timedelta(hours=share))
        return finished

    def _time_entry(
        self,
        ticket: Ticket | None,
        begin: datetime,
        hours: float,
        entered: datetime,
        work_type: str,
        nature: Nature,
        location: Location = Location.remote,
        technician: Person | None = None,
        notes: str | None = None,
    ) -> TimeEntry:
        entry = TimeEntry(
            client=self.client,
            source=self.client.psa,
            id=next_psa_id(self.ctx.ids, self.client.psa, "time"),
            technician=technician or (ticket.technician if ticket else self.favourite),
            started_at=begin,
            hours=hours,
            entered_at=entered,
            work_type=work_type,
            nature=nature,
            ticket=ticket,
            location=location,
            notes=notes,
        )
        self.out.time_entries.append(entry)
        return entry

    def _lifecycle(self, ticket: Ticket, done: datetime) -> None:
        """In progress soon after creation, resolved once the work is done."""
        responded = ticket.created_at + timedelta(minutes=self.rng.randrange(5, 120))
        resolved = max(done, responded) + timedelta(minutes=self.rng.randrange(10, 360))
        if responded <= self.end and self.rng.random() < 0.8:
            ticket.updates.append(TicketUpdate(responded, "in_progress"))
        if resolved <= self.end:
            ticket.updates.append(TicketUpdate(resolved, "resolved"))

    def _visit(
        self,
        ticket: Ticket | None,
        booked: datetime,
        starts: datetime,
        hours: float,
        title: str,
        *,
        planned: bool = False,
    ) -> Visit:
        visit = Visit(
            client=self.client,
            source=self.client.psa,
            id=next_psa_id(self.ctx.ids, self.client.psa, "visit"),
            technician=ticket.technician if ticket else self.rng.choice(self.staff),
            starts_at=starts,
            ends_at=starts + timedelta(hours=hours),
            booked_at=booked,
            location=Location.onsite,
            ticket=ticket,
            title=title,
            planned=planned,
        )
        self.out.visits.append(visit)
        return visit

    def _service_plan(
        self,
        at: datetime,
        purpose: str,
        nature: Nature,
        summary: str,
        *,
        priority: Priority | None = None,
    ) -> Planned:
        """A client ticket through the service desk's intake (email, portal, phone, chat)."""
        options = [
            (Channel.email, 0.5),
            (Channel.portal, 0.25),
            (Channel.phone, 0.17),
            (Channel.chat, 0.05),
            (Channel.unknown, 0.03),
        ]
        allowed = [(c, w) for c, w in options if c in CHANNELS[self.client.psa]]
        if purpose != "service":
            allowed = [(c, w) for c, w in allowed if c is not Channel.unknown]
        channel = self.rng.choices([c for c, _ in allowed], [w for _, w in allowed])[0]
        if priority is None:
            priority = self.rng.choices(
                (Priority.low, Priority.medium, Priority.high, Priority.unknown),
                (0.3, 0.5, 0.17, 0.03),
            )[0]
        return Planned(
            at=at,
            purpose=purpose,
            nature=nature,
            channel=channel,
            entered_by=EnteredBy.intake,
            initiator=Initiator.service_desk,
            priority=priority,
            summary=summary,
        )

    # -- devices and alerts ---------------------------------------------------------------

    def _reserve(self, at: datetime, lookback: timedelta = CLEAN_LOOKBACK[1]) -> Device:
        """A workstation for a client ticket at `at`, kept free of alerts before it."""
        present = [d for d in self.client.devices if d.present(at)]
        workstations = [d for d in present if not d.server] or present
        device = self.rng.choice(workstations)
        self.reserved[device.hostname].append((at - lookback - DAY, at))
        return device

    def _free(self, device: Device, at: datetime) -> bool:
        return device.present(at) and not any(
            low <= at <= high for low, high in self.reserved[device.hostname]
        )

    def _named_later(self, device: Device, at: datetime) -> bool:
        """Will a client ticket reserved before now name the device after `at`?"""
        return any(high >= at for _, high in self.reserved[device.hostname])

    def _clean_device(self, at: datetime, lookback: timedelta, until: timedelta) -> Device | None:
        """A device with no alert between `at - lookback` and `at - until`, and none still
        open then: the client reports nothing it sat on."""
        candidates = []
        for device in self.client.devices:
            if not device.present(at):
                continue
            if any(
                fired <= at and (cleared is None or cleared > at - until)
                for fired, cleared in self.alert_spans[device.hostname]
            ):
                continue
            times = sorted(self.alert_times[device.hostname])
            index = bisect_left(times, at - lookback)
            if index < len(times) and times[index] <= at - until:
                continue
            candidates.append(device)
        return self.rng.choice(candidates) if candidates else None

    def _alert(self, device: Device, at: datetime, resolved: datetime | None) -> Alert:
        rmm = self.client.rmm
        category, message = self.rng.choice(ALERTS[rmm])
        severities = SEVERITIES[rmm]
        severity = self.rng.choices([s for s, _ in severities], [w for _, w in severities])[0]
        if rmm is Source.tacticalrmm:
            alert_id = str(self.ctx.ids.next("tacticalrmm:alert", 4711))
        else:
            alert_id = make_uuid(self.rng)
        activities = (0, 0)
        if rmm is Source.ninjaone:
            activities = (
                self.ctx.ids.next("ninjaone:activity", 988000),
                self.ctx.ids.next("ninjaone:activity", 988000),
            )
        alert = Alert(
            client=self.client,
            source=rmm,
            id=alert_id,
            device=device,
            category=category,
            message=f"{device.hostname}: {message}",
            severity=severity,
            triggered_at=at,
            resolved_at=resolved if resolved is not None and resolved <= self.end else None,
            activity_ids=activities,
        )
        self.out.alerts.append(alert)
        self.alert_times[device.hostname].append(at)
        self.alert_spans[device.hostname].append((at, alert.resolved_at))
        return alert
