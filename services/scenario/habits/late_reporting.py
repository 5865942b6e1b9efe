"""Late reporting: the client sits on a problem the RMM already saw (or that began days
before, in HaloPSA's "date occurred"), and reports it once it hurts.

The ticket names the device the alert fired on; the PSA names it by its own
asset id, the RMM by its device id, and only the host name is shared (issue
12, rule 3). With the `long_open_alert` hard case the alert stays open for
more than a week before the client finally reports it: the latest report of
all, still late (rule 2). An early report (within two hours of its alert) is
no lapse, and neither is a ticket after an alert on another device (rule 1,
see `hard_cases`).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from services.events.models import Nature, Priority, Source
from services.events.outputs import Behaviour
from services.scenario import rhythm
from services.scenario.habits.base import Planned, PlayBase
from services.scenario.habits.catalogue import INCIDENTS
from services.scenario.habits.direct_to_tech import habit_times
from services.scenario.personas import HardCase


class LateReporting(PlayBase):
    def _late_plans(self) -> None:
        targets = [
            (t, False) for t in habit_times(self, Behaviour.late_reporting, step_days=12, minimum=2)
        ]
        if self._slips(Behaviour.late_reporting):
            targets.append((self._busy_time(), True))
        long_open = HardCase.long_open_alert in self.persona.hard
        for index, (target, slip) in enumerate(targets):
            at = rhythm.next_workday_time(self.rng, target)
            priority = Priority.critical if self.persona.severe else Priority.high
            plan = self._late_plan(at, priority, slip)
            if long_open and index == len(targets) - 1 and not slip:
                plan.long_open = True
            elif self.client.psa is Source.halopsa and self.rng.random() < 0.5:
                plan.issue_started_at = at - timedelta(days=self.rng.uniform(1.5, 5))
            self.plans.append(plan)

    def _late_plan(self, at: datetime, priority: Priority, slip: bool) -> Planned:
        plan = self._service_plan(
            at,
            "late",
            Nature.incident,
            self.rng.choice(INCIDENTS),
            priority=priority,
        )
        plan.shows, plan.slip = Behaviour.late_reporting, slip
        return plan

    def _late_alerts(self) -> None:
        """The alert each late report follows: hours to days before it on the same device,
        or more than seven days before and still open when the client reports it."""
        for plan in self.plans:
            if plan.purpose != "late" or plan.issue_started_at is not None:
                continue
            if plan.long_open:
                seen = plan.at - timedelta(days=self.rng.uniform(8.5, 13))
                resolved = plan.at + timedelta(hours=self.rng.uniform(2, 30))
            else:
                seen = plan.at - timedelta(hours=self.rng.uniform(10, 108))
                resolved = plan.at + timedelta(hours=self.rng.uniform(2, 30))
            if seen < self.start:
                seen = self.start + timedelta(minutes=self.rng.randrange(30, 600))
            free = [
                d for d in self.client.devices if self._free(d, seen) and self._free(d, plan.at)
            ]
            if not free or seen >= plan.at:
                plan.purpose = "dropped"  # every device is promised to another ticket
                continue
            plan.device = self.rng.choice(free)
            plan.alert = self._alert(plan.device, seen, resolved)
