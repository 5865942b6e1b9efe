"""Monitoring: RMM alerts as noise, the tickets the RMM integration opens, patch failures,
the "reported within the hour" pairs, and NinjaOne's patch and software activity.

Noise alerts fire on any device not promised to a client ticket, so a client
ticket often follows an alert on another device at its site: no late report. The few
left open for good (stale alerts nobody clears) are never on a device a client ticket
will name later: an alert still open when the client reports is a late report.
"""

from __future__ import annotations

from datetime import timedelta

from services.events.models import Channel, Nature, Priority, Source
from services.events.outputs import Initiator
from services.scenario import rhythm
from services.scenario.habits.base import PlayBase
from services.scenario.habits.catalogue import DAY, OTHER_SOFTWARE
from services.scenario.model import Alert, EnteredBy, RmmActivity


class Monitoring(PlayBase):
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
            if self.rng.random() > 0.08 or self._named_later(device, at):
                # A stale alert left open is noise only on a device no client ticket will
                # name: open when the client reports, it is a problem the client sat on.
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
