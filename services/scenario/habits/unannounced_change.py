"""Unannounced changes (NinjaOne only reports new devices and software).

A client with the habit adds devices and remote-access tools with no ticket
about them in the days before; with the `unrelated_requests` hard case it
still raises requests about other things in those days (an MFA reset, a
share), which announce nothing (issue 12, rule 4). Every other client asks
first: a request naming the new device and its user, days before it appears.
"""

from __future__ import annotations

import string
from datetime import datetime, timedelta

from services.events.models import DeviceChangeKind, Nature, Source
from services.events.outputs import Behaviour
from services.scenario import rhythm
from services.scenario.habits.base import PlayBase
from services.scenario.habits.catalogue import ANNOUNCE_BLOCK, DAY, HOUR, REQUESTS
from services.scenario.model import DeviceChange
from services.scenario.personas import HardCase
from services.scenario.world import REMOTE_TOOLS, new_device


class UnannouncedChange(PlayBase):
    def _device_changes(self) -> None:
        if self.client.rmm is not Source.ninjaone:
            return
        window = self._habit_window(Behaviour.unannounced_change)
        if window is not None:
            unrelated = HardCase.unrelated_requests in self.persona.hard
            for index, target in enumerate(
                rhythm.spaced(self.rng, *window, step_days=14, minimum=1)
            ):
                at = self._unannounced_time(target, window)
                if at is None:
                    continue
                self.blocked.append((at - ANNOUNCE_BLOCK, at + 2 * HOUR))
                change = self._new_change(at, self._silent_name())
                self._evidence(Behaviour.unannounced_change, at, change.ref)
                if unrelated and (index == 0 or self.rng.random() < 0.6):
                    asked = at - timedelta(days=self.rng.uniform(1, 5))
                    if asked > self.start:
                        summary = self.rng.choice(REQUESTS)
                        self.plans.append(
                            self._service_plan(asked, "unrelated", Nature.request, summary)
                        )
            return
        count = round(self.months * self.rng.uniform(0.3, 1.0))
        for at in rhythm.busy_times(self.rng, self.start + 6 * DAY, self.last, count, self.phase):
            asked = at - timedelta(days=self.rng.uniform(1.5, 5))
            name = self._next_hostname()
            contact = self.rng.choice(self.client.contacts).name
            plan = self._service_plan(
                asked, "announce", Nature.request, f"New laptop for {contact}: {name}"
            )
            plan.site = self.client.sites[0]
            self.plans.append(plan)
            self._new_change(at, name)

    def _next_hostname(self) -> str:
        prefix = self.client.devices[0].hostname.split("-")[0]
        return f"{prefix}-WS{len(self.client.devices):03d}"

    def _silent_name(self) -> str | None:
        """A silent change: a device named by whoever set it up, or (None) a remote tool."""
        if self.rng.random() < 0.6:
            return "DESKTOP-" + "".join(
                self.rng.choices(string.ascii_uppercase + "0123456789", k=7)
            )
        return None

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

    def _new_change(self, at: datetime, name: str | None) -> DeviceChange:
        """A new device called `name`, or a remote-access tool on a device (name None)."""
        activity = self.ctx.ids.next("ninjaone:activity", 988000)
        if name is not None:
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
