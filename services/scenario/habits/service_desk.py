"""Client demand through the service desk, and every client ticket's device, work and
visits: the ticket records of the habits' plans are made here, with their evidence.

A client ticket names a device with no alert in the week before and none
still open (the persona sat on nothing), unless the plan is a late report
that names the device its alert fired on.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from services.events.models import Location, Nature, Source
from services.scenario import rhythm
from services.scenario.habits.base import Planned, PlayBase
from services.scenario.habits.catalogue import (
    CLEAN_LOOKBACK,
    CLIENT_CHANGES,
    DAY,
    DEVICE_CHANGES,
    DEVICE_REQUESTS,
    HOW_TO,
    INCIDENTS,
    PROBLEMS,
    REQUESTS,
)

SUMMARIES = {
    Nature.incident: INCIDENTS,
    Nature.request: REQUESTS + DEVICE_REQUESTS,
    Nature.problem: PROBLEMS,
    Nature.change: CLIENT_CHANGES + DEVICE_CHANGES,
    Nature.unknown: HOW_TO,
}
NATURES = (
    (Nature.incident, 0.6),
    (Nature.request, 0.26),
    (Nature.problem, 0.04),
    (Nature.change, 0.07),
    (Nature.unknown, 0.03),
)


class ServiceDesk(PlayBase):
    def _client_demand(self) -> None:
        """The client's everyday tickets: what its volume leaves after the habits' ones."""
        budget = round(
            self.volumes.service_desk
            * self.client.endpoints
            * self.months
            * self.rng.uniform(0.9, 1.1)
        )
        budget -= len(self.plans)
        for _ in range(self.rng.choice((1, 1, 2))):
            at = self._busy_time()
            plan = self._service_plan(at, "quick", Nature.incident, self.rng.choice(INCIDENTS))
            plan.device = self._reserve(at)
            self.plans.append(plan)
            budget -= 1
        for at in rhythm.busy_times(self.rng, self.start, self.last, max(0, budget), self.phase):
            nature = self.rng.choices([n for n, _ in NATURES], [w for _, w in NATURES])[0]
            self.plans.append(
                self._service_plan(at, "service", nature, self.rng.choice(SUMMARIES[nature]))
            )

    def _client_tickets(self) -> None:
        for plan in sorted(self.plans, key=lambda p: (p.at, p.purpose)):
            if plan.purpose == "dropped":
                continue
            if plan.device is None and plan.site is None:
                device = None
                for _ in range(6):
                    device = self._clean_device(plan.at, CLEAN_LOOKBACK[1], CLEAN_LOOKBACK[0])
                    if device is not None:
                        break
                    plan.at = rhythm.next_workday_time(self.rng, plan.at, 20)
                if device is None or plan.at > self.last:
                    continue
                plan.device = device
            if plan.purpose != "announce" and self._is_blocked(plan.at):
                # The persona tells the MSP nothing about the device it is about to add.
                while self._announces(plan.nature, plan.summary):
                    plan.summary = self.rng.choice(REQUESTS)
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
            site=plan.site,
            issue_started_at=plan.issue_started_at or self._reported_start(plan.at),
        )
        ticket.co_managed_by = plan.co_managed
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
        if plan.shows is not None:
            refs = [ticket.ref] + ([plan.alert.ref] if plan.alert else [])
            self._evidence(plan.shows, plan.at, *refs, habit=not plan.slip)

    def _reported_start(self, at: datetime) -> datetime | None:
        """Halo's "date occurred" of a ticket reported promptly: just before it."""
        if self.client.psa is not Source.halopsa or self.rng.random() < 0.3:
            return None
        return at - timedelta(minutes=self.rng.randrange(0, 120))
