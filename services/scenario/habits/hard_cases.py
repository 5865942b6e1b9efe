"""Hard cases (issue 12): records a naive rule misreads, played on purpose, truth from intent.

- `site_alerts`: a client ticket naming only its site after an alert on another
  device there, cleared within minutes; a new-laptop request after an alert at
  its site. Neither is a late report (rule 1).
- `co_managed`: the client's own IT person enters tickets with a PSA login of
  their own: through the client's own service desk, not direct-to-tech (rule 6).
- `followups`: technicians open follow-up tickets for earlier incidents, at the
  PSA's default source: MSP work on a break/fix, not direct-to-tech (rule 6). They
  also open the next step of a client's desk ticket, titled by its subject with no
  follow-up word or link: work that came in through the desk, not direct-to-tech.

The others live with their habit: long-open alerts in `late_reporting`,
unrelated requests before silent devices in `unannounced_change`, MSP
cancellations in `skipped_meeting`; integer and multilingual picklists are
the vendors' and the tenant file's (`vendors`, `world`).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from services.events.models import Channel, Nature, Priority
from services.events.outputs import Initiator
from services.scenario import rhythm
from services.scenario.habits.base import Planned, PlayBase
from services.scenario.habits.catalogue import DAY, INCIDENTS, NEXT_STEPS, REQUESTS
from services.scenario.model import EnteredBy, Person, Ticket
from services.scenario.personas import HardCase

# The source a technician leaves a ticket he opens himself at: the PSA's default.
DEFAULT_CHANNEL = Channel.phone


class HardCases(PlayBase):
    def _co_managed_plans(self) -> None:
        if HardCase.co_managed not in self.persona.hard or not self.client.co_managed_staff:
            return
        count = max(3, round(self.volumes.service_desk * self.client.endpoints * self.months / 4))
        for at in rhythm.busy_times(self.rng, self.start + DAY, self.last, count, self.phase):
            nature = self.rng.choices((Nature.incident, Nature.request), (0.6, 0.4))[0]
            summary = self.rng.choice(INCIDENTS if nature is Nature.incident else REQUESTS)
            self.plans.append(
                Planned(
                    at=at,
                    purpose="co_managed",
                    nature=nature,
                    channel=self.rng.choice((Channel.phone, Channel.email, Channel.portal)),
                    entered_by=EnteredBy.co_managed,
                    initiator=Initiator.service_desk,
                    priority=self.rng.choice((Priority.low, Priority.medium, Priority.high)),
                    summary=summary,
                    co_managed=self.rng.choice(self.client.co_managed_staff),
                )
            )

    def _site_plans(self) -> None:
        """Tickets that will follow an alert on another device at their site."""
        if HardCase.site_alerts not in self.persona.hard:
            return
        for index in range(max(2, round(self.months * 1.5))):
            at = self._busy_time()
            if index % 3 == 2:
                contact = self.rng.choice(self.client.contacts).name
                plan = self._service_plan(at, "site", Nature.request, f"New laptop for {contact}")
            else:
                plan = self._service_plan(at, "site", Nature.incident, self.rng.choice(INCIDENTS))
            plan.site = self.rng.choice(self.client.sites)
            self.plans.append(plan)

    def _site_alerts(self) -> None:
        for plan in self.plans:
            if plan.purpose != "site" or plan.site is None:
                continue
            seen = plan.at - timedelta(hours=self.rng.uniform(5, 72))
            there = [
                d
                for d in self.client.devices
                if d.site == plan.site and self._free(d, seen) and seen > self.start
            ]
            if not there:
                continue
            device = self.rng.choice(there)
            if plan.nature is Nature.incident:
                cleared = seen + timedelta(minutes=self.rng.uniform(2, 15))
            else:
                cleared = seen + timedelta(hours=self.rng.uniform(1, 8))
            self._alert(device, seen, cleared)

    def _followups(self) -> None:
        if HardCase.followups not in self.persona.hard:
            return
        incidents = [
            t
            for t in self.out.tickets
            if t.client_initiated and t.nature is Nature.incident and t.created_at < self.last
        ]
        chosen = self.rng.sample(incidents, k=min(len(incidents), max(2, len(incidents) // 4)))
        for parent in sorted(chosen, key=lambda t: (t.created_at, t.id)):
            at = rhythm.next_workday_time(self.rng, parent.created_at, 24 * self.rng.uniform(1, 3))
            if at > self.last:
                continue
            self._followup(parent, at)
        self._next_steps()

    def _next_steps(self) -> None:
        """Next steps of a few desk tickets, opened by a technician 1-5 days later."""
        desk = [
            t
            for t in self.out.tickets
            if t.initiator is Initiator.service_desk
            and t.entered_by is EnteredBy.intake
            and t.summary in NEXT_STEPS
            and t.created_at < self.last
        ]
        chosen = self.rng.sample(desk, k=min(len(desk), max(1, len(desk) // 6)))
        for parent in sorted(chosen, key=lambda t: (t.created_at, t.id)):
            at = rhythm.next_workday_time(self.rng, parent.created_at, 24 * self.rng.uniform(1, 5))
            if at > self.last:
                continue
            self._technicians_ticket(
                parent,
                at,
                NEXT_STEPS[parent.summary],
                parent.nature,
                Initiator.service_desk,
                hours=(0.25, 1.0),
                within=DAY * 2,
            )

    def _followup(self, parent: Ticket, at: datetime) -> None:
        self._technicians_ticket(
            parent,
            at,
            f"Follow-up of #{parent.id}: {parent.summary}",
            Nature.incident,
            Initiator.msp_scheduled,
            hours=(0.25, 0.5),
            within=DAY,
            technician=parent.technician,
        )

    def _technicians_ticket(
        self,
        parent: Ticket,
        at: datetime,
        summary: str,
        nature: Nature,
        initiator: Initiator,
        *,
        hours: tuple[float, float],
        within: timedelta,
        technician: Person | None = None,
    ) -> None:
        """A ticket a technician opens himself at the PSA's default source, about the
        parent's contact, device and site, worked and closed within `within`."""
        ticket = self._ticket(
            at,
            summary=summary,
            nature=nature,
            channel=DEFAULT_CHANNEL,
            initiator=initiator,
            entered_by=EnteredBy.technician,
            priority=Priority.low,
            technician=technician,
            device=parent.device,
            site=parent.site,
        )
        ticket.contact = parent.contact
        worked = round(self.rng.uniform(*hours), 2)
        done = self._work(ticket, worked, "Remote Support", nature, within=within)
        self._lifecycle(ticket, done)
