"""The MSP's planned work: patching, maintenance, projects, reviews, planned changes, and
the onsite visits booked ahead for it (all proactive by intent), and emergency visits."""

from __future__ import annotations

from datetime import datetime, timedelta

from services.events.models import Channel, Nature, Priority, Source
from services.events.outputs import Initiator
from services.scenario import rhythm
from services.scenario.habits.base import PlayBase
from services.scenario.habits.catalogue import DAY, HOUR, MSP_WORK, WORK_TYPES
from services.scenario.model import EnteredBy, Ticket


class PlannedWork(PlayBase):
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

    def _visits_without_ticket(self) -> None:
        """Partner-like clients get a monthly health check booked weeks ahead (planned:
        proactive); the others get emergency visits booked the same day (reactive). A
        ConnectWise schedule entry is always booked against a ticket (it names no company):
        there the health check has its planned-maintenance ticket, and emergencies are the
        onsite incidents."""
        connectwise = self.client.psa is Source.connectwise
        if not self.persona.habits and not self.persona.reformed:
            for target in rhythm.spaced(self.rng, self.start, self.last, step_days=30, minimum=1):
                booked = rhythm.next_workday_time(self.rng, target)
                starts = rhythm.next_workday_time(self.rng, booked, 24 * self.rng.uniform(7, 14))
                title = "Onsite health check"
                ticket = (
                    self._msp_ticket(booked, Nature.maintenance, title) if connectwise else None
                )
                self._visit(
                    ticket, booked, starts, self.rng.choice((2.0, 3.0)), title, planned=True
                )
            return
        if connectwise:
            return
        for _ in range(round(self.months * self.rng.uniform(0.3, 1.0))):
            booked = self._busy_time()
            starts = booked + timedelta(hours=self.rng.uniform(1, 5))
            self._visit(None, booked, starts, self.rng.choice((1.0, 2.0)), "Emergency onsite visit")
