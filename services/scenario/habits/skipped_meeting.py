"""Skipped meetings: the client misses check-ins and reviews (no-show), cancels them at
short notice, or keeps moving them.

Not this habit (issue 12, rule 5): the MSP cancelling a meeting itself, even
at short notice (the `msp_cancellations` hard case, and now and then for any
client), a cancellation in good time, a meeting moved once.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from services.events.models import MeetingKind, MeetingStatus, Source
from services.events.outputs import Behaviour
from services.scenario import rhythm
from services.scenario.habits.base import PlayBase
from services.scenario.habits.catalogue import DAY, HOUR
from services.scenario.model import Meeting, MeetingChange
from services.scenario.personas import HardCase

Slot = tuple[datetime, MeetingKind, int, str]
# Where an Autotask or HaloPSA client's QBRs are tickets (half of them, by company id; the
# others' reviews are in the MSP's calendar): the first ticket id, apart from the desk's.
QBR_TICKET_IDS = {Source.autotask: 390000, Source.halopsa: 90000}


class SkippedMeeting(PlayBase):
    def _slots(self) -> list[Slot]:
        first = rhythm.workday_on_or_after(
            rhythm.local_day(self.start + timedelta(days=self.rng.uniform(1, 12)))
        )
        hour = self.rng.choice((10, 14))
        slots: list[Slot] = []
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
        return sorted(slots)

    def _skips(self, held: list[Slot]) -> set[int]:
        """Which meetings the persona skips: some of those in its habit window, the last one
        among them (it still skips at the end), at least two; just two, weeks apart, at the
        threshold; most of them when severe."""
        window = self._habit_window(Behaviour.skipped_meeting)
        if window is None:
            return set()
        inside = [i for i, s in enumerate(held) if window[0] <= s[0] <= window[1]]
        if not inside:
            return set()
        if self.persona.at_threshold and Behaviour.skipped_meeting in self.persona.habits:
            last = inside[-1]
            earlier = [i for i in inside if held[last][0] - held[i][0] >= 13 * DAY]
            # Twice: weeks apart where the window has room, else as far apart as it allows.
            return {last, earlier[-1] if earlier else inside[0]}
        share = 0.85 if self.persona.severe else 0.6
        skips = {i for i in inside if self.rng.random() < share}
        skips.add(inside[-1])
        for i in inside:
            if len(skips) >= 2:
                break
            skips.add(i)
        return skips

    def _meetings(self) -> None:
        psa = self.client.psa
        on_tickets = psa in QBR_TICKET_IDS and self.client.psa_company_id % 2 == 0
        slots = self._slots()
        held = [s for s in slots if s[0] + 2 * HOUR <= self.end]
        skips = self._skips(held)
        slip = (
            self.rng.choice([i for i in range(len(held)) if i not in skips])
            if self._slips(Behaviour.skipped_meeting) and len(held) > len(skips)
            else None
        )
        others = [i for i in range(len(held)) if i not in skips and i != slip]
        msp_cancels: set[int] = set()
        if HardCase.msp_cancellations in self.persona.hard and others:
            msp_cancels = set(self.rng.sample(others, k=min(2, len(others))))
        for index, (starts, kind, minutes, title) in enumerate(slots):
            booked = max(
                rhythm.next_workday_time(self.rng, self.start),
                starts - timedelta(days=self.rng.uniform(7, 14)),
            )
            booked = min(booked, starts - 2 * HOUR)
            source = Source.canonical
            if psa is Source.connectwise:
                source, meeting_id = psa, str(self.ctx.ids.next("connectwise:activity", 7001))
            elif on_tickets and kind is MeetingKind.review:
                source = psa
                meeting_id = str(self.ctx.ids.next(f"{psa}:qbr_ticket", QBR_TICKET_IDS[psa]))
            else:
                meeting_id = f"MTG-{self.ctx.ids.next('canonical:meeting', 5001)}"
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
            elif index == slip:
                self._no_show(meeting, habit=False)
            elif index in msp_cancels:
                self._msp_cancel(meeting)
            else:
                self._keep(meeting)

    def _change(self, meeting: Meeting, change: MeetingChange) -> bool:
        previous = meeting.changes[-1].at if meeting.changes else meeting.booked_at
        if change.at > self.end or change.at <= previous + HOUR:
            return False
        meeting.changes.append(change)
        return True

    def _no_show(self, meeting: Meeting, *, habit: bool = True) -> None:
        at = meeting.starts_at + timedelta(minutes=self.rng.randrange(15, 40))
        if self._change(meeting, MeetingChange(at, MeetingStatus.no_show)):
            self._evidence(Behaviour.skipped_meeting, at, meeting.ref, habit=habit)

    def _msp_cancel(self, meeting: Meeting) -> None:
        """The MSP cancels at short notice (a technician off sick): no skip by the client."""
        at = meeting.starts_at - timedelta(hours=self.rng.uniform(2, 20))
        if not self._change(meeting, MeetingChange(at, MeetingStatus.cancelled, by_client=False)):
            self._keep(meeting)

    def _skip(self, meeting: Meeting) -> None:
        """The persona skips this meeting, and the play always shows it: a way of skipping
        that does not fit (a cancellation before the meeting was even booked, a meeting
        moved twice with no room left before the end of the scenario) falls back to not
        turning up, rather than leaving a skip the persona meant unplayed (the truth only
        holds what was played: a skip that did not happen would make a habit at the
        threshold one lapse)."""
        # A ConnectWise activity's status names no side unless the tenant maps "Cancelled by
        # Client": there the persona skips by not turning up.
        ways, weights = ["no_show"], [1.0]
        if meeting.source is Source.canonical:
            ways, weights = ["no_show", "late_cancel", "moved_twice"], [0.4, 0.35, 0.25]
        way = self.rng.choices(ways, weights)[0]
        if way == "moved_twice" and meeting.starts_at - meeting.booked_at < 7 * DAY:
            way = "no_show"  # booked too recently to be moved twice
        if way == "late_cancel":
            at = meeting.starts_at - timedelta(hours=self.rng.uniform(2, 18))
            if self._change(meeting, MeetingChange(at, MeetingStatus.cancelled, by_client=True)):
                self._evidence(Behaviour.skipped_meeting, at, meeting.ref)
                return
        elif way == "moved_twice" and self._move_twice(meeting):
            return
        self._no_show(meeting)

    def _move_twice(self, meeting: Meeting) -> bool:
        """The client moves the meeting, then moves it again a day or so before: played only
        when both moves and the meeting held after them fit in the scenario (nothing is
        changed otherwise)."""
        first = meeting.starts_at - timedelta(days=self.rng.uniform(3, 6))
        moved = rhythm.next_workday_time(self.rng, meeting.starts_at, 24 * self.rng.uniform(2, 5))
        second = moved - timedelta(hours=self.rng.uniform(20, 40))
        moved_again = rhythm.next_workday_time(self.rng, moved, 24 * self.rng.uniform(3, 7))
        held = moved_again + timedelta(minutes=meeting.minutes + self.rng.randrange(5, 30))
        previous = meeting.changes[-1].at if meeting.changes else meeting.booked_at
        if not (previous + HOUR < first and first + HOUR < second and held <= self.end):
            return False
        self._change(meeting, MeetingChange(first, MeetingStatus.rescheduled, True, moved))
        self._change(meeting, MeetingChange(second, MeetingStatus.rescheduled, True, moved_again))
        self._evidence(Behaviour.skipped_meeting, second, meeting.ref)
        self._change(meeting, MeetingChange(held, MeetingStatus.held))
        return True

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
        elif roll < 0.14:
            at = starts - timedelta(hours=self.rng.uniform(3, 20))
            if self._change(meeting, MeetingChange(at, MeetingStatus.cancelled, by_client=False)):
                return
        held = starts + timedelta(minutes=meeting.minutes + self.rng.randrange(5, 30))
        self._change(meeting, MeetingChange(held, MeetingStatus.held))
