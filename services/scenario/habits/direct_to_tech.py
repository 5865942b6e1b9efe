"""Direct-to-tech: the client calls or mails its favourite technician, who enters the
ticket himself (or logs the time on no ticket at all, in ConnectWise).

Not this habit, though entered by someone other than the intake path (issue 12,
rule 6): a co-managed client's own IT person with a PSA login, and technicians'
follow-up tickets (see `hard_cases`).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from services.events.models import Channel, Nature, Priority, Source
from services.events.outputs import Behaviour, Initiator
from services.scenario import rhythm
from services.scenario.habits.base import Planned, PlayBase
from services.scenario.habits.catalogue import INCIDENTS, REQUESTS
from services.scenario.model import EnteredBy
from services.scenario.vendors import CHANNELS


def habit_times(
    play: PlayBase, behaviour: Behaviour, step_days: float, minimum: int
) -> list[datetime]:
    """When the persona shows a habit: spread over its window, every `step_days` (a third
    of that when severe), or just twice, weeks apart, when played at the threshold. A habit
    the persona keeps is still shown at the end of its window, at the threshold too (as
    its skipped meetings are): twice early and never again is a client that reformed."""
    window = play._habit_window(behaviour)
    if window is None:
        return []
    low, high = window
    if play.persona.at_threshold and behaviour in play.persona.habits:
        span = high - low
        second = high - min(span * 0.1, timedelta(days=play.rng.uniform(2, 9)))
        first = max(low, second - min(span * 0.45, timedelta(days=play.rng.uniform(14, 21))))
        return [first, second]
    if play.persona.severe:
        step_days /= 3
    return rhythm.spaced(play.rng, low, high, step_days=step_days, minimum=minimum)


class DirectToTech(PlayBase):
    def _direct_plan(self, at: datetime, *, slip: bool = False) -> Planned:
        channels = [
            c
            for c in (Channel.direct_email, Channel.direct_phone, Channel.phone)
            if c in CHANNELS[self.client.psa]
        ]
        nature = self.rng.choices((Nature.incident, Nature.request), (0.6, 0.4))[0]
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
            shows=Behaviour.direct_to_tech,
            slip=slip,
        )

    def _direct_to_tech(self) -> None:
        for target in habit_times(self, Behaviour.direct_to_tech, step_days=5, minimum=2):
            at = rhythm.next_workday_time(self.rng, target)
            if self.client.psa is Source.connectwise and self.rng.random() < 0.35:
                self._untracked_time(at)
            else:
                self.plans.append(self._direct_plan(at))
        if self._slips(Behaviour.direct_to_tech):
            self.plans.append(self._direct_plan(self._busy_time(), slip=True))

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
