"""Ignored recommendations: the client declines them, or leaves them unanswered past
their due date (or, without one, for a month). Other clients accept within two weeks.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from services.events.models import RecommendationStatus
from services.events.outputs import Behaviour
from services.scenario import rhythm
from services.scenario.habits.base import PlayBase
from services.scenario.habits.catalogue import DAY, RECOMMENDATIONS
from services.scenario.model import Recommendation

# A recommendation with no due date that the client leaves this long unanswered is
# ignored, as an account manager sees it.
UNANSWERED_DAYS = 30


class IgnoredRecommendation(PlayBase):
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
        default_due = timedelta(days=UNANSWERED_DAYS)
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
