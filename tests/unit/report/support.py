"""Shared by the report's unit tests: a client state the classifier's engine builds."""

from __future__ import annotations

from services.classifier.domain.engine import Engine
from services.classifier.domain.state import ClientState
from services.events.models import CanonicalEvent
from services.events.tenant import Tenant
from tests.unit.classifier import factory as f

PATCH = f.ticket("100", f.at(0), nature="maintenance", channel="scheduled", summary="Patch cycle")
OUTAGE = f.ticket("101", f.at(5), nature="incident", summary="Printer down")


def state_of(tenant: Tenant, *events: CanonicalEvent) -> ClientState:
    """The state of client acme after `events`, folded and judged as the agent does."""
    engine = Engine(tenant)
    state = ClientState("acme")
    watermark = 0.0
    for event in events:
        engine.apply(state, event, watermark)
        watermark = max(watermark, event.occurred_at.timestamp())
    engine.judge(state, tenant.tenant, watermark, watermark)
    return state
