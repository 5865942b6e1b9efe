"""Play one client through the scenario: its work, its RMM noise, its habits, its hard cases.

The parts live in `services.scenario.habits` (one module per habit). The order
matters, because some records must keep clear of others so that only what the
persona means shows up as behaviour evidence:

1. planned MSP work (patching, maintenance, projects, reviews, planned changes);
2. device changes (NinjaOne): silent ones with no ticket about a device in the
   8 days before (unrelated requests allowed); announced ones after a request
   naming the device;
3. the habits' tickets and the hard cases' are planned, then the everyday
   service-desk demand with what the client's volume leaves;
4. RMM alerts: noise, patch failures, the late reports' alerts, the "reported
   within the hour" pairs, alerts at the site of the site-only tickets;
5. client tickets get a device with no alert in the week before and none open
   (unless they report one late), and their work, visits and updates;
6. technicians' follow-ups, visits without a ticket, meetings, recommendations,
   NinjaOne noise.

Every piece of behaviour evidence is recorded as `Evidence` when it is made,
as the persona's intent: the truth is written from it, never from the records.
"""

from __future__ import annotations

from services.scenario.habits.base import Context, Planned, PlayBase, next_psa_id
from services.scenario.habits.direct_to_tech import DirectToTech
from services.scenario.habits.hard_cases import HardCases
from services.scenario.habits.ignored_recommendation import IgnoredRecommendation
from services.scenario.habits.late_reporting import LateReporting
from services.scenario.habits.monitoring import Monitoring
from services.scenario.habits.planned_work import PlannedWork
from services.scenario.habits.service_desk import ServiceDesk
from services.scenario.habits.skipped_meeting import SkippedMeeting
from services.scenario.habits.unannounced_change import UnannouncedChange
from services.scenario.model import Records

__all__ = ["ClientPlay", "Context", "Planned", "PlayBase", "next_psa_id"]


class ClientPlay(
    PlannedWork,
    UnannouncedChange,
    DirectToTech,
    LateReporting,
    HardCases,
    ServiceDesk,
    Monitoring,
    SkippedMeeting,
    IgnoredRecommendation,
):
    def run(self) -> Records:
        if self.persona.silent:
            return self.out
        self._msp_work()
        self._device_changes()
        self._direct_to_tech()
        self._late_plans()
        self._co_managed_plans()
        self._site_plans()
        self._client_demand()
        self._alerts()
        self._late_alerts()
        self._site_alerts()
        self._client_tickets()
        self._followups()
        self._visits_without_ticket()
        self._meetings()
        self._recommendations()
        self._ninja_noise()
        return self.out
