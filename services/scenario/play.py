"""Play one client through the scenario: its work, its RMM noise and its habits.

The order matters, because some records must keep clear of others so that
only the persona's habits show up as behaviour evidence:

1. planned MSP work (patching, maintenance, projects, reviews, planned changes);
2. device changes (NinjaOne): unannounced ones where no request, change or
   project ticket was created in the 8 days before; announced ones after a
   request ticket;
3. client demand is planned: service-desk tickets, the habit's tickets;
4. RMM alerts (noise, patch failures, the late reporter's alerts and the
   "reported within the hour" pairs) and the tickets monitoring opens;
5. client tickets get a device with no alert in the week before (else the
   ticket would look late), and their work, visits and updates;
6. visits without a ticket, meetings, recommendations, NinjaOne noise.

Every piece of behaviour evidence is recorded as `Evidence` when it is made.
"""

from __future__ import annotations

import math
import random
import string
from bisect import bisect_left
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from services.events.models import (
    Channel,
    DeviceChangeKind,
    Location,
    MeetingKind,
    MeetingStatus,
    Nature,
    Priority,
    RecommendationStatus,
    Source,
)
from services.events.outputs import Behaviour, Initiator
from services.events.policy import ClassifierPolicy
from services.scenario import rhythm
from services.scenario.model import (
    Alert,
    ClientWorld,
    Device,
    DeviceChange,
    EnteredBy,
    Evidence,
    Meeting,
    MeetingChange,
    Person,
    Recommendation,
    Records,
    RmmActivity,
    Ticket,
    TicketUpdate,
    TimeEntry,
    Visit,
)
from services.scenario.personas import Persona
from services.scenario.truth import detector
from services.scenario.vendors import CHANNELS, encoded_nature
from services.scenario.world import REMOTE_TOOLS, Ids, make_uuid, new_device

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
# A client ticket on a device with an alert this far back looks late (4 h to 7 days,
# with a margin each side); the quick-report pairs stay under 2 hours.
LATE_LOOKBACK = (timedelta(hours=3), timedelta(days=7.5))
ANNOUNCE_BLOCK = timedelta(
    days=8.5
)  # no request/change/project ticket before an unannounced change

INCIDENTS = (
    "Outlook keeps asking for the password",
    "Printer on reception is offline",
    "Cannot open the shared drive",
    "Laptop will not boot",
    "VPN drops every few minutes",
    "No audio in Teams calls",
    "Scanner does not send to email",
    "PC very slow since the update",
    "Blue screen at start-up",
    "Wi-Fi drops in the meeting room",
    "Cannot print to the warehouse label printer",
    "Excel crashes when opening the budget file",
)
REQUESTS = (
    "New starter: account and laptop",
    "Install Adobe Acrobat",
    "Add user to the finance share",
    "Set up a shared mailbox",
    "Reset MFA on a phone",
    "Leaver: disable the account",
    "Second monitor for a desk",
)
CLIENT_CHANGES = ("Move a printer to the new office", "Change the guest Wi-Fi password")
PROBLEMS = ("Recurring disk errors on the file server", "Outlook crashes across the office")
HOW_TO = ("How do I share a calendar?", "How to set an out-of-office reply")
MSP_WORK = {
    Nature.maintenance: (
        "Firewall firmware update",
        "Backup restore test",
        "Replace UPS battery",
        "Server hardware health check",
        "Clean up stale directory accounts",
    ),
    Nature.project: (
        "Migrate the file share to SharePoint",
        "Replace workstations out of warranty",
        "Deploy new Wi-Fi access points",
    ),
    Nature.review: (
        "Quarterly technical review",
        "Security posture review",
        "Backup policy review",
    ),
    Nature.change: ("Planned change: conditional access policy", "Planned change: DNS migration"),
    Nature.unknown: ("Onboarding checklist follow-up", "Documentation refresh"),
}
WORK_TYPES = {
    Nature.maintenance: "Maintenance",
    Nature.project: "Project",
    Nature.review: "Review",
    Nature.change: "Change",
    Nature.unknown: "Maintenance",
}
RECOMMENDATIONS = (
    ("lifecycle", "Replace workstations out of warranty"),
    ("security", "Enable MFA on every mailbox"),
    ("quote", "Quote: firewall refresh"),
    ("roadmap", "Move the file server to SharePoint"),
    ("security", "Adopt a password manager"),
    ("lifecycle", "Retire the Windows Server 2012 host"),
    ("quote", "Quote: second internet line"),
)
ALERTS = {
    Source.ninjaone: (
        ("Disk Free Space", "Disk C: free space is below 10%"),
        ("CPU Utilization", "CPU above 95% for 15 minutes"),
        ("Device Down", "Device has not checked in for 15 minutes"),
        ("Memory Utilization", "Memory above 90% for 30 minutes"),
        ("Windows Service", "Service 'Spooler' stopped"),
    ),
    Source.dattormm: (
        ("Disk Usage", "Disk C: usage is above 90%"),
        ("CPU", "CPU usage above 95% for 15 minutes"),
        ("Online Status", "Device offline for 15 minutes"),
        ("Memory", "Memory usage above 90%"),
        ("Service", "Service Print Spooler is stopped"),
    ),
    Source.tacticalrmm: (
        ("check", "Disk Space Drive C: < 10% free"),
        ("check", "CPU Load above 95%"),
        ("availability", "Agent has not checked in for 15 minutes"),
        ("check", "Memory above 90%"),
        ("task", "Scheduled task 'Cleanup' failed"),
    ),
}
SEVERITIES = {
    Source.ninjaone: (("MAJOR", 3), ("MODERATE", 4), ("MINOR", 2), ("CRITICAL", 1)),
    # "Urgent" is a priority this tenant never mapped: the adapter reads it as info.
    Source.dattormm: (("High", 3), ("Moderate", 4), ("Low", 2), ("Critical", 1), ("Urgent", 0.3)),
    Source.tacticalrmm: (("error", 3), ("warning", 4), ("info", 2)),
}
# Where each PSA's record ids start (they then increase, as the PSA allocates them).
FIRST_IDS = {
    "ticket": {Source.connectwise: 48200, Source.autotask: 351100, Source.halopsa: 2200},
    "time": {Source.connectwise: 90100, Source.autotask: 41000, Source.halopsa: 7100},
    "visit": {Source.connectwise: 9100, Source.autotask: 6100, Source.halopsa: 5100},
}


def next_psa_id(ids: Ids, psa: Source, kind: str) -> int:
    return ids.next(f"{psa}:{kind}", FIRST_IDS[kind][psa])


OTHER_SOFTWARE = ("Google Chrome", "Adobe Acrobat Reader", "7-Zip", "Zoom Workplace", "Notepad++")


@dataclass
class Context:
    tenant_id: str
    start: datetime
    end: datetime
    ids: Ids
    technicians: list[Person]  # the last one is the vCIO
    policy: ClassifierPolicy


@dataclass
class Planned:
    """A client ticket whose time and purpose are known, waiting for its device."""

    at: datetime
    purpose: str  # service, direct, late, quick, announce (dropped: no device to name)
    nature: Nature
    channel: Channel
    entered_by: EnteredBy
    initiator: Initiator
    priority: Priority
    summary: str
    device: Device | None = None
    alert: Alert | None = None
    issue_started_at: datetime | None = None


class ClientPlay:
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
        self.announcing: list[datetime] = []  # request/change/project tickets created
        self.blocked: list[tuple[datetime, datetime]] = []  # no such tickets in these windows
        # Devices a client ticket will name: no alert may fire on them in the week before.
        self.reserved: dict[str, list[tuple[datetime, datetime]]] = defaultdict(list)

    # -- the whole play -----------------------------------------------------------------

    def run(self) -> Records:
        self._msp_work()
        self._device_changes()
        self._client_demand()
        self._alerts()
        self._client_tickets()
        self._visits_without_ticket()
        self._meetings()
        self._recommendations()
        self._ninja_noise()
        return self.out

    # -- helpers ------------------------------------------------------------------------

    def _habit_window(self, behaviour: Behaviour) -> tuple[datetime, datetime] | None:
        if behaviour in self.persona.habits:
            return self.start + DAY, self.end - 2 * DAY
        if behaviour in self.persona.reformed:
            gap = timedelta(days=detector(self.ctx.policy, behaviour).episode_gap_days)
            return self.start + DAY, self.end - gap - 12 * DAY
        return None

    def _shows(self, behaviour: Behaviour) -> bool:
        return behaviour in self.persona.habits or behaviour in self.persona.reformed

    def _evidence(self, behaviour: Behaviour, at: datetime, *refs: str) -> None:
        self.out.evidence.append(Evidence(self.client.id, behaviour, at, refs))

    def _announces(self, nature: Nature) -> bool:
        return encoded_nature(self.client.psa, nature) in (
            Nature.request,
            Nature.change,
            Nature.project,
        )

    def _is_blocked(self, at: datetime) -> bool:
        return any(low <= at <= high for low, high in self.blocked)

    def _pick_nature(self, at: datetime, options: tuple[tuple[Nature, float], ...]) -> Nature:
        nature = self.rng.choices([n for n, _ in options], [w for _, w in options])[0]
        if self._announces(nature) and self._is_blocked(at):
            return Nature.incident
        return nature

    def _hours(self, mean: float) -> float:
        value = self.rng.lognormvariate(math.log(mean) - 0.125, 0.5)
        return round(min(6.0, max(0.1, value)), 2)

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
        )
        self.out.tickets.append(ticket)
        if self._announces(nature):
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
        technician: Person | None = None,
    ) -> Visit:
        visit = Visit(
            client=self.client,
            source=self.client.psa,
            id=next_psa_id(self.ctx.ids, self.client.psa, "visit"),
            technician=technician or (ticket.technician if ticket else self.rng.choice(self.staff)),
            starts_at=starts,
            ends_at=starts + timedelta(hours=hours),
            booked_at=booked,
            location=Location.onsite,
            ticket=ticket,
            title=title,
        )
        self.out.visits.append(visit)
        return visit

    # -- 1. planned MSP work ------------------------------------------------------------

    def _msp_ticket(self, at: datetime, nature: Nature, summary: str) -> Ticket:
        return self._ticket(
            at,
            summary=summary,
            nature=nature,
            channel=Channel.scheduled,
            initiator=Initiator.msp_scheduled,
            entered_by=EnteredBy.technician,
            priority=self.rng.choice((Priority.low, Priority.low, Priority.medium)),
            with_contact=False,
        )

    def _msp_work(self) -> None:
        budget = self.volumes.proactive_hours * self.client.endpoints * self.months
        for day in rhythm.patch_tuesdays(self.start, self.last):
            at = rhythm.at_local(day, 8, self.rng.randrange(60))
            hours = round(max(0.5, 0.05 * self.client.endpoints * self.rng.uniform(0.8, 1.2)), 2)
            ticket = self._msp_ticket(at, Nature.maintenance, f"Monthly patching {day:%B %Y}")
            done = self._work(ticket, hours, "Patching", Nature.maintenance, within=2 * DAY)
            self._lifecycle(ticket, done)
            budget -= hours
        natures = (
            (Nature.maintenance, 0.45),
            (Nature.project, 0.22),
            (Nature.review, 0.15),
            (Nature.change, 0.12),
            (Nature.unknown, 0.06),
        )
        count = max(1, round(budget / 3.0))
        for at in rhythm.busy_times(self.rng, self.start + DAY, self.last - DAY, count, self.phase):
            nature = self.rng.choices([n for n, _ in natures], [w for _, w in natures])[0]
            ticket = self._msp_ticket(at, nature, self.rng.choice(MSP_WORK[nature]))
            hours = round(max(0.5, budget / count * self.rng.uniform(0.5, 1.5)), 2)
            done = self._work(ticket, hours, WORK_TYPES[nature], nature, within=5 * DAY)
            self._lifecycle(ticket, done)
            if nature in (Nature.maintenance, Nature.project) and self.rng.random() < 0.25:
                starts = rhythm.next_workday_time(self.rng, at, 24 * self.rng.uniform(3, 10))
                self._visit(ticket, at + HOUR, starts, self.rng.choice((2.0, 3.0)), ticket.summary)

    # -- 2. device changes (NinjaOne) ---------------------------------------------------

    def _device_changes(self) -> None:
        if self.client.rmm is not Source.ninjaone:
            return
        window = self._habit_window(Behaviour.unannounced_change)
        if window is not None:
            for target in rhythm.spaced(self.rng, *window, step_days=14, minimum=1):
                at = self._unannounced_time(target, window)
                if at is None:
                    continue
                self.blocked.append((at - ANNOUNCE_BLOCK, at + 2 * HOUR))
                change = self._new_change(at, announced=False)
                self._evidence(Behaviour.unannounced_change, at, change.ref)
            return
        count = round(self.months * self.rng.uniform(0.3, 1.0))
        for at in rhythm.busy_times(self.rng, self.start + 6 * DAY, self.last, count, self.phase):
            asked = at - timedelta(days=self.rng.uniform(1.5, 5))
            plan = self._service_plan(asked, "announce", Nature.request, "New laptop for a starter")
            plan.device = self._reserve(asked)
            self.plans.append(plan)
            self._new_change(at, announced=True)

    def _reserve(self, at: datetime) -> Device:
        """A device for a client ticket at `at`, kept free of alerts in the week before."""
        present = [d for d in self.client.devices if d.present(at)]
        workstations = [d for d in present if not d.server] or present
        device = self.rng.choice(workstations)
        self.reserved[device.hostname].append((at - LATE_LOOKBACK[1] - DAY, at))
        return device

    def _free(self, device: Device, at: datetime) -> bool:
        return device.present(at) and not any(
            low <= at <= high for low, high in self.reserved[device.hostname]
        )

    def _unannounced_time(
        self, target: datetime, window: tuple[datetime, datetime]
    ) -> datetime | None:
        for attempt in range(40):
            jitter = timedelta(days=self.rng.uniform(-1, 1) * (1 + attempt / 4))
            at = rhythm.next_workday_time(self.rng, max(window[0], target + jitter))
            if at > window[1]:
                continue
            if not any(at - ANNOUNCE_BLOCK <= t <= at + 2 * HOUR for t in self.announcing):
                return at
        return None

    def _new_change(self, at: datetime, *, announced: bool) -> DeviceChange:
        activity = self.ctx.ids.next("ninjaone:activity", 988000)
        if announced or self.rng.random() < 0.6:
            prefix = self.client.devices[0].hostname.split("-")[0]
            number = len(self.client.devices)
            name = (
                f"{prefix}-WS{number:03d}"
                if announced
                else "DESKTOP-"
                + "".join(self.rng.choices(string.ascii_uppercase + "0123456789", k=7))
            )
            device = new_device(
                self.rng, self.ctx.ids, Source.ninjaone, name, self.client.sites[0], False, at
            )
            self.client.devices.append(device)
            change = DeviceChange(self.client, activity, device, DeviceChangeKind.new_device, at)
        else:
            device = self.rng.choice([d for d in self.client.devices if d.present(at)])
            tool = self.rng.choice(REMOTE_TOOLS)
            change = DeviceChange(
                self.client, activity, device, DeviceChangeKind.new_remote_tool, at, tool
            )
        self.out.device_changes.append(change)
        return change

    # -- 3. client demand -------------------------------------------------------------

    def _service_plan(
        self,
        at: datetime,
        purpose: str,
        nature: Nature,
        summary: str,
        *,
        priority: Priority | None = None,
    ) -> Planned:
        psa = self.client.psa
        options = [
            (Channel.email, 0.5),
            (Channel.portal, 0.25),
            (Channel.phone, 0.17),
            (Channel.chat, 0.05),
            (Channel.unknown, 0.03),
        ]
        allowed = [(c, w) for c, w in options if c in CHANNELS[psa]]
        if purpose in ("announce", "late", "quick"):
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

    def _direct_plan(self, at: datetime) -> Planned:
        psa = self.client.psa
        channels = [
            c
            for c in (Channel.direct_email, Channel.direct_phone, Channel.phone)
            if c in CHANNELS[psa]
        ]
        nature = self._pick_nature(at, ((Nature.incident, 0.6), (Nature.request, 0.4)))
        summary = self.rng.choice(INCIDENTS if nature is Nature.incident else REQUESTS)
        return Planned(
            at=at,
            purpose="direct",
            nature=nature,
            channel=self.rng.choice(channels),
            entered_by=EnteredBy.technician,
            initiator=Initiator.direct_to_tech,
            priority=self.rng.choice((Priority.medium, Priority.high)),
            summary=f"{summary} (asked {self.favourite.name.split()[0]} directly)",
        )

    def _client_demand(self) -> None:
        budget = round(
            self.volumes.service_desk
            * self.client.endpoints
            * self.months
            * self.rng.uniform(0.9, 1.1)
        )
        budget -= len(self.plans)
        window = self._habit_window(Behaviour.direct_to_tech)
        if window is not None:
            for target in rhythm.spaced(self.rng, *window, step_days=5, minimum=2):
                at = rhythm.next_workday_time(self.rng, target)
                if self.client.psa is Source.connectwise and self.rng.random() < 0.35:
                    self._untracked_time(at)
                else:
                    self.plans.append(self._direct_plan(at))
                    budget -= 1
        elif not self._shows(Behaviour.direct_to_tech) and self.rng.random() < 0.35:
            self.plans.append(self._direct_plan(self._busy_time()))  # a one-off: no habit
            budget -= 1
        window = self._habit_window(Behaviour.late_reporting)
        late_times = rhythm.spaced(self.rng, *window, step_days=12, minimum=2) if window else []
        if (
            not late_times
            and not self._shows(Behaviour.late_reporting)
            and self.rng.random() < 0.35
        ):
            late_times = [self._busy_time()]  # a one-off
        for target in late_times:
            at = rhythm.next_workday_time(self.rng, target)
            plan = self._service_plan(
                at, "late", Nature.incident, self.rng.choice(INCIDENTS), priority=Priority.high
            )
            if self.client.psa is Source.halopsa and self.rng.random() < 0.5:
                plan.issue_started_at = at - timedelta(days=self.rng.uniform(1.5, 5))
            self.plans.append(plan)
            budget -= 1
        for _ in range(self.rng.choice((1, 1, 2))):
            at = self._busy_time()
            plan = self._service_plan(at, "quick", Nature.incident, self.rng.choice(INCIDENTS))
            plan.device = self._reserve(at)
            self.plans.append(plan)
            budget -= 1
        natures = (
            (Nature.incident, 0.6),
            (Nature.request, 0.26),
            (Nature.problem, 0.04),
            (Nature.change, 0.07),
            (Nature.unknown, 0.03),
        )
        summaries = {
            Nature.incident: INCIDENTS,
            Nature.request: REQUESTS,
            Nature.problem: PROBLEMS,
            Nature.change: CLIENT_CHANGES,
            Nature.unknown: HOW_TO,
        }
        for at in rhythm.busy_times(self.rng, self.start, self.last, max(0, budget), self.phase):
            nature = self._pick_nature(at, natures)
            self.plans.append(
                self._service_plan(at, "service", nature, self.rng.choice(summaries[nature]))
            )

    def _busy_time(self) -> datetime:
        return rhythm.busy_times(self.rng, self.start + DAY, self.last - DAY, 1, self.phase)[0]

    def _untracked_time(self, at: datetime) -> None:
        """Time logged for the client with no ticket: a quick favour, direct to the tech."""
        hours = round(self.rng.uniform(0.25, 1.0), 2)
        entered = at + timedelta(hours=hours, minutes=self.rng.randrange(5, 30))
        entry = self._time_entry(
            None,
            at,
            hours,
            entered,
            "Remote Support",
            Nature.incident,
            technician=self.favourite,
            notes=f"Quick call from {self.rng.choice(self.client.contacts).name.split()[0]}",
        )
        self._evidence(Behaviour.direct_to_tech, at, entry.ref)

    # -- 4. RMM alerts ------------------------------------------------------------------

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
        return alert

    def _alerts(self) -> None:
        devices = self.client.devices
        count = round(self.volumes.alerts * self.client.endpoints * self.months)
        for _ in range(count):
            at = rhythm.uniform_time(self.rng, self.start, self.last)
            free = [d for d in devices if self._free(d, at)]
            if not free:
                continue
            device = self.rng.choices(free, [6 if d.server else 1 for d in free])[0]
            resolved = None
            if self.rng.random() > 0.08:
                resolved = at + timedelta(hours=self.rng.uniform(0.1, 8))
            alert = self._alert(device, at, resolved)
            if self.rng.random() < self.volumes.rmm_ticket_share:
                self._rmm_ticket(alert)
        if self.client.rmm is not Source.ninjaone:
            for day in rhythm.patch_tuesdays(self.start, self.last):
                failing = round(0.03 * self.client.endpoints * self.rng.uniform(0.5, 1.5))
                for device in self.rng.sample(devices, k=min(failing, len(devices))):
                    at = rhythm.at_local(day + DAY, 2, self.rng.randrange(120))
                    if at <= self.last and self._free(device, at):
                        self._alert(device, at, at + timedelta(hours=self.rng.uniform(4, 30)))
        for plan in self.plans:
            if plan.purpose == "late" and plan.issue_started_at is None:
                seen = plan.at - timedelta(hours=self.rng.uniform(10, 108))
                free = [d for d in devices if self._free(d, seen)]
                if not free:
                    plan.purpose = "dropped"  # every device is promised to another ticket
                    continue
                plan.device = self.rng.choice(free)
                resolved = plan.at + timedelta(hours=self.rng.uniform(2, 30))
                plan.alert = self._alert(plan.device, seen, resolved)
        for plan in self.plans:
            if plan.purpose == "quick" and plan.device is not None:
                # The user calls within the hour of the alert: reported early, not late.
                seen = plan.at - timedelta(minutes=self.rng.randrange(20, 120))
                self._alert(plan.device, seen, plan.at + timedelta(hours=self.rng.uniform(1, 6)))

    def _rmm_ticket(self, alert: Alert) -> None:
        at = alert.triggered_at + timedelta(minutes=self.rng.randrange(1, 9))
        ticket = self._ticket(
            at,
            summary=f"[{alert.category}] {alert.message}",
            nature=Nature.incident,
            channel=Channel.monitoring,
            initiator=Initiator.rmm,
            entered_by=EnteredBy.automation,
            priority=self.rng.choice((Priority.medium, Priority.high)),
            device=alert.device,
            with_contact=False,
            rmm_alert_id=alert.id,
        )
        hours = round(self.rng.uniform(0.25, 0.75), 2)
        done = self._work(ticket, hours, "Remote Support", Nature.incident, within=DAY)
        if alert.resolved_at is not None:
            done = max(done, alert.resolved_at)
        self._lifecycle(ticket, done)

    def _clean_device(self, at: datetime, lookback: timedelta, until: timedelta) -> Device | None:
        """A device with no alert between `at - lookback` and `at - until`."""
        candidates = []
        for device in self.client.devices:
            if not device.present(at):
                continue
            times = sorted(self.alert_times[device.hostname])
            index = bisect_left(times, at - lookback)
            if index < len(times) and times[index] <= at - until:
                continue
            candidates.append(device)
        return self.rng.choice(candidates) if candidates else None

    # -- 5. client tickets ----------------------------------------------------------

    def _client_tickets(self) -> None:
        for plan in sorted(self.plans, key=lambda p: (p.at, p.purpose)):
            if plan.purpose == "dropped":
                continue
            if plan.device is None:
                device = None
                for _ in range(6):
                    device = self._clean_device(plan.at, LATE_LOOKBACK[1], LATE_LOOKBACK[0])
                    if device is not None:
                        break
                    plan.at = rhythm.next_workday_time(self.rng, plan.at, 20)
                if device is None or plan.at > self.last:
                    continue
                plan.device = device
            if self._announces(plan.nature) and self._is_blocked(plan.at):
                plan.nature = Nature.incident
            self._client_ticket(plan)

    def _client_ticket(self, plan: Planned) -> None:
        direct = plan.purpose == "direct"
        ticket = self._ticket(
            plan.at,
            summary=plan.summary,
            nature=plan.nature,
            channel=plan.channel,
            initiator=plan.initiator,
            entered_by=plan.entered_by,
            priority=plan.priority,
            technician=self.favourite if direct else None,
            device=plan.device,
            issue_started_at=plan.issue_started_at or self._reported_start(plan.at),
        )
        mean = self.volumes.reactive_hours * (0.6 if plan.nature is Nature.request else 1.0)
        onsite = plan.nature is Nature.incident and self.rng.random() < self.volumes.onsite_share
        work_type = "Onsite Support" if onsite else "Remote Support"
        location = Location.onsite if onsite else Location.remote
        ticket.location = location
        done = self._work(
            ticket, self._hours(mean), work_type, plan.nature, within=2 * DAY, location=location
        )
        if onsite:
            booked = plan.at + timedelta(hours=self.rng.uniform(0.3, 2))
            starts = booked + timedelta(hours=self.rng.uniform(1, 5))
            if booked <= self.end:
                self._visit(ticket, booked, starts, self.rng.choice((1.0, 1.5, 2.0)), plan.summary)
        self._lifecycle(ticket, done)
        if direct:
            self._evidence(Behaviour.direct_to_tech, plan.at, ticket.ref)
        if plan.purpose == "late":
            refs = [ticket.ref] + ([plan.alert.ref] if plan.alert else [])
            self._evidence(Behaviour.late_reporting, plan.at, *refs)

    def _reported_start(self, at: datetime) -> datetime | None:
        """Halo's "date occurred" of a ticket reported promptly: just before it."""
        if self.client.psa is not Source.halopsa or self.rng.random() < 0.3:
            return None
        return at - timedelta(minutes=self.rng.randrange(0, 120))

    # -- 6. visits, meetings, recommendations, RMM noise ------------------------------

    def _visits_without_ticket(self) -> None:
        """Partner-like clients book a monthly health check weeks ahead; the others get
        emergency visits booked the same day. A ConnectWise schedule entry is always
        booked against a ticket (it names no company): there the health check has its
        planned-maintenance ticket, and emergencies are the onsite incidents."""
        connectwise = self.client.psa is Source.connectwise
        if not self.persona.habits and not self.persona.reformed:
            for target in rhythm.spaced(self.rng, self.start, self.last, step_days=30, minimum=1):
                booked = rhythm.next_workday_time(self.rng, target)
                starts = rhythm.next_workday_time(self.rng, booked, 24 * self.rng.uniform(7, 14))
                title = "Onsite health check"
                ticket = (
                    self._msp_ticket(booked, Nature.maintenance, title) if connectwise else None
                )
                self._visit(ticket, booked, starts, self.rng.choice((2.0, 3.0)), title)
            return
        if connectwise:
            return
        for _ in range(round(self.months * self.rng.uniform(0.3, 1.0))):
            booked = self._busy_time()
            starts = booked + timedelta(hours=self.rng.uniform(1, 5))
            self._visit(None, booked, starts, self.rng.choice((1.0, 2.0)), "Emergency onsite visit")

    def _meetings(self) -> None:
        source = Source.connectwise if self.client.psa is Source.connectwise else Source.canonical
        first = rhythm.workday_on_or_after(
            rhythm.local_day(self.start + timedelta(days=self.rng.uniform(1, 12)))
        )
        hour = self.rng.choice((10, 14))
        slots: list[tuple[datetime, MeetingKind, int, str]] = []
        at = rhythm.at_local(first, hour)
        while at <= self.end - DAY:
            slots.append((at, MeetingKind.call, 30, "Fortnightly check-in"))
            at = rhythm.at_local(rhythm.workday_on_or_after(rhythm.local_day(at) + 14 * DAY), hour)
        days = (self.end - self.start).days
        if days >= 20:
            qbr_day = rhythm.workday_on_or_after(
                rhythm.local_day(self.start + timedelta(days=days * self.rng.uniform(0.3, 0.8)))
            )
            slots.append(
                (rhythm.at_local(qbr_day, 11), MeetingKind.review, 60, "Quarterly business review")
            )
        slots.sort()
        skipper = self._habit_window(Behaviour.skipped_meeting)
        held_slots = [s for s in slots if s[0] + 2 * HOUR <= self.end]
        skips: set[int] = set()
        if skipper is not None:
            inside = [i for i, s in enumerate(held_slots) if skipper[0] <= s[0] <= skipper[1]]
            skips = {i for i in inside if self.rng.random() < 0.6}
            if inside:
                skips.add(inside[-1])  # still skipping at the end
            for i in inside:
                if len(skips) >= 2:
                    break
                skips.add(i)
        one_off = (
            self.rng.randrange(len(held_slots))
            if held_slots and not self._shows(Behaviour.skipped_meeting) and self.rng.random() < 0.3
            else None
        )
        for index, (starts, kind, minutes, title) in enumerate(slots):
            booked = max(
                rhythm.next_workday_time(self.rng, self.start),
                starts - timedelta(days=self.rng.uniform(7, 14)),
            )
            booked = min(booked, starts - 2 * HOUR)
            meeting_id = (
                str(self.ctx.ids.next("connectwise:activity", 7001))
                if source is Source.connectwise
                else f"MTG-{self.ctx.ids.next('canonical:meeting', 5001)}"
            )
            meeting = Meeting(
                client=self.client,
                source=source,
                id=meeting_id,
                kind=kind,
                title=f"{self.client.name}: {title}",
                starts_at=starts,
                minutes=minutes,
                booked_at=booked,
                organiser=self.vcio if kind is MeetingKind.review else self.favourite,
            )
            self.out.meetings.append(meeting)
            if starts + 2 * HOUR > self.end:
                continue
            if index in skips:
                self._skip(meeting)
            elif index == one_off:
                self._no_show(meeting)  # a one-off: no habit
            else:
                self._keep(meeting)

    def _change(self, meeting: Meeting, change: MeetingChange) -> bool:
        previous = meeting.changes[-1].at if meeting.changes else meeting.booked_at
        if change.at > self.end or change.at <= previous + HOUR:
            return False
        meeting.changes.append(change)
        return True

    def _no_show(self, meeting: Meeting) -> None:
        at = meeting.starts_at + timedelta(minutes=self.rng.randrange(15, 40))
        if self._change(meeting, MeetingChange(at, MeetingStatus.no_show)):
            self._evidence(Behaviour.skipped_meeting, at, meeting.ref)

    def _skip(self, meeting: Meeting) -> None:
        way = "no_show"
        if meeting.source is Source.canonical:
            way = self.rng.choices(("no_show", "late_cancel", "moved_twice"), (0.4, 0.35, 0.25))[0]
        if way == "moved_twice" and meeting.starts_at - meeting.booked_at < 7 * DAY:
            way = "no_show"  # booked too recently to be moved twice
        if way == "no_show":
            self._no_show(meeting)
        elif way == "late_cancel":
            at = meeting.starts_at - timedelta(hours=self.rng.uniform(2, 18))
            if self._change(meeting, MeetingChange(at, MeetingStatus.cancelled, by_client=True)):
                self._evidence(Behaviour.skipped_meeting, at, meeting.ref)
        else:
            first = meeting.starts_at - timedelta(days=self.rng.uniform(3, 6))
            moved = rhythm.next_workday_time(
                self.rng, meeting.starts_at, 24 * self.rng.uniform(2, 5)
            )
            second = moved - timedelta(hours=self.rng.uniform(20, 40))
            moved_again = rhythm.next_workday_time(self.rng, moved, 24 * self.rng.uniform(3, 7))
            self._change(meeting, MeetingChange(first, MeetingStatus.rescheduled, True, moved))
            if self._change(
                meeting, MeetingChange(second, MeetingStatus.rescheduled, True, moved_again)
            ):
                self._evidence(Behaviour.skipped_meeting, second, meeting.ref)
                held = moved_again + timedelta(minutes=meeting.minutes + self.rng.randrange(5, 30))
                self._change(meeting, MeetingChange(held, MeetingStatus.held))

    def _keep(self, meeting: Meeting) -> None:
        """Held, perhaps after a change that is no skip: moved once, cancelled in good time,
        or cancelled by the MSP."""
        roll = self.rng.random()
        starts = meeting.starts_at
        if meeting.source is Source.canonical and roll < 0.06:
            at = starts - timedelta(days=self.rng.uniform(3, 8))
            new_start = rhythm.next_workday_time(self.rng, starts, 24 * self.rng.uniform(1, 4))
            if self._change(meeting, MeetingChange(at, MeetingStatus.rescheduled, True, new_start)):
                starts = new_start
        elif roll < 0.1:
            at = starts - timedelta(days=self.rng.uniform(3, 10))
            if self._change(meeting, MeetingChange(at, MeetingStatus.cancelled, by_client=True)):
                return
        elif meeting.source is Source.canonical and roll < 0.14:
            at = starts - timedelta(hours=self.rng.uniform(3, 20))
            if self._change(meeting, MeetingChange(at, MeetingStatus.cancelled, by_client=False)):
                return
        held = starts + timedelta(minutes=meeting.minutes + self.rng.randrange(5, 30))
        self._change(meeting, MeetingChange(held, MeetingStatus.held))

    def _recommendation(self, presented: datetime, due: datetime | None) -> Recommendation:
        category, title = self.rng.choice(RECOMMENDATIONS)
        record = Recommendation(
            client=self.client,
            id=f"REC-{self.ctx.ids.next('canonical:recommendation', 1001)}",
            title=title,
            category=category,
            presented_at=presented,
            due_at=due,
        )
        self.out.recommendations.append(record)
        return record

    def _answer(self, record: Recommendation, answer: RecommendationStatus, at: datetime) -> bool:
        if at > self.end:
            return False
        record.answer, record.answered_at = answer, at
        return True

    def _recommendations(self) -> None:
        default_due = timedelta(
            days=self.ctx.policy.detectors.ignored_recommendation.default_due_days
        )
        window = self._habit_window(Behaviour.ignored_recommendation)
        if window is None:
            # Answered (accepted) within two weeks; one presented in the last two weeks
            # may still be open, with a due date well after the end.
            targets = rhythm.spaced(self.rng, self.start + 3 * DAY, self.last, 35, minimum=1)
            for target in targets:
                presented = rhythm.next_workday_time(self.rng, target)
                recent = presented > self.end - 14 * DAY
                due = None if recent or self.rng.random() < 0.3 else presented + 21 * DAY
                record = self._recommendation(presented, due)
                answered = presented + timedelta(days=self.rng.uniform(2, 12))
                self._answer(record, RecommendationStatus.accepted, answered)
            return
        targets = rhythm.spaced(self.rng, *window, step_days=18, minimum=1)
        shown = False
        for index, target in enumerate(targets):
            presented = rhythm.next_workday_time(self.rng, target)
            must_show = not shown and index == len(targets) - 1
            if must_show or self.rng.random() < 0.45:
                record = self._recommendation(presented, presented + 21 * DAY)
                answered = presented + timedelta(days=self.rng.uniform(1, 3 if must_show else 10))
                if self._answer(record, RecommendationStatus.declined, answered):
                    self._evidence(Behaviour.ignored_recommendation, answered, record.ref)
                    shown = True
                else:
                    record.due_at = self.end + 4 * DAY  # still open, clearly not due yet
                continue
            with_due = self.rng.random() < 0.7
            due = presented + (
                timedelta(days=self.rng.uniform(10, 20)) if with_due else default_due
            )
            record = self._recommendation(presented, due if with_due else None)
            if due <= self.end - 3 * DAY:
                self._evidence(Behaviour.ignored_recommendation, due, record.ref)
                shown = True
            else:
                record.due_at = max(due, self.end + 4 * DAY)  # still open, clearly not due yet

    def _ninja_noise(self) -> None:
        if self.client.rmm is not Source.ninjaone:
            return
        for day in rhythm.patch_tuesdays(self.start, self.last):
            for device in self.rng.sample(self.client.devices, k=min(12, len(self.client.devices))):
                at = rhythm.at_local(day + DAY, 1, self.rng.randrange(180))
                if at > self.end or not device.present(at):
                    continue
                kb = f"KB50{self.rng.randrange(10000, 99999)}"
                self.out.activities.append(
                    RmmActivity(
                        self.client,
                        self.ctx.ids.next("ninjaone:activity", 988000),
                        device,
                        at,
                        "PATCH_MANAGEMENT",
                        "PATCH_MANAGEMENT_INSTALLED",
                        f"{day:%Y-%m} Cumulative Update for Windows ({kb}) installed",
                    )
                )
        for _ in range(round(self.months * 2)):
            at = rhythm.uniform_time(self.rng, self.start, self.last)
            device = self.rng.choice([d for d in self.client.devices if d.present(at)])
            name = self.rng.choice(OTHER_SOFTWARE)
            self.out.activities.append(
                RmmActivity(
                    self.client,
                    self.ctx.ids.next("ninjaone:activity", 988000),
                    device,
                    at,
                    "MONITOR",
                    "SOFTWARE_ADDED",
                    f"Software '{name}' version '1.0' was installed",
                    {"message": {"code": "agent_act_software_added", "params": {"name": name}}},
                )
            )
