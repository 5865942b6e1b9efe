"""The partnership review's figures computed independently of the classifier and of
services/report: from a scenario's truth.json (the class of every piece of work, the
behaviours of every client) and its deliveries (read by the vendor adapters into
canonical events: dates, hours, locations, recommendations), so a test can hold the
report's figures against them. Also feeds those events to the classifier's pure
engine, as the agent would, for unit tests without a broker.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from services.classifier.domain.engine import Engine, owner_needed
from services.classifier.domain.state import DAY, ClientState
from services.events.models import (
    Action,
    CanonicalEvent,
    Recommendation,
    RecommendationStatus,
    TimeEntry,
    Visit,
)
from services.ingest.adapters import ADAPTERS
from services.ingest.adapters.base import AdapterError, Delivery
from services.scenario.files import ScenarioFiles


def scenario_events(files: ScenarioFiles) -> list[CanonicalEvent]:
    """Every delivery's canonical events, in delivery order, each owned by its client
    (ConnectWise schedule entries name none: their ticket's client owns them)."""
    events: list[CanonicalEvent] = []
    for d in files.deliveries:
        try:
            normalised = ADAPTERS[d.source].normalise(
                Delivery(d.source, d.body, d.headers), files.tenant
            )
        except AdapterError:
            continue  # ingest refuses it (422): the pipeline never sees it
        events += normalised.events
    owners = {
        str(e.ref): e.client_id for e in events if e.client_known and e.ref.entity == "ticket"
    }
    owned = []
    for e in events:
        ticket = owner_needed(e)
        if ticket is not None and ticket in owners:
            e = e.model_copy(update={"client_id": owners[ticket], "client_known": True})
        owned.append(e)
    return owned


@dataclass
class Folded:
    states: dict[str, ClientState]
    watermark: float
    signalled: dict[str, set[str]]  # client -> behaviours the classifier signals


def engine_states(files: ScenarioFiles) -> Folded:
    """The classifier's states after every event, folded by the pure engine as the agent
    does, and each client judged at the end (its health score, its signals)."""
    engine = Engine(files.tenant)
    states: dict[str, ClientState] = {}
    watermark = 0.0
    for e in scenario_events(files):
        if not e.client_known:
            continue
        state = states.setdefault(e.client_id, ClientState(e.client_id))
        if not engine.apply(state, e, watermark).duplicate:
            before, watermark = watermark, max(watermark, e.occurred_at.timestamp())
            if before and int(watermark // DAY) > int(before // DAY):  # a new day: judge all
                for judged in states.values():
                    engine.judge(judged, files.tenant.tenant, before, before)
    signalled = {}
    for client_id, state in states.items():
        view = engine.judge(state, files.tenant.tenant, watermark, watermark).view
        signalled[client_id] = {s.behaviour.value for s in view.signals}
    return Folded(states, watermark, signalled)


@dataclass
class Expected:
    visits: dict[str, int] = field(default_factory=lambda: {"proactive": 0, "reactive": 0})
    hours: dict[str, float] = field(default_factory=lambda: {"proactive": 0.0, "reactive": 0.0})
    recommendations: dict[str, int] = field(default_factory=dict)
    behaviours: set[str] = field(default_factory=set)
    rhem: float | None = None


def expected(files: ScenarioFiles, client_id: str, start: datetime, end: datetime) -> Expected:
    """What the report of `client_id` over [start, end) must show, by the truth."""
    latest: dict[str, CanonicalEvent] = {}
    for e in scenario_events(files):
        if e.client_id != client_id:
            continue
        key = str(e.ref)
        if key not in latest or e.occurred_at >= latest[key].occurred_at:
            latest[key] = e
    out = Expected()
    recommendation_status: list[RecommendationStatus] = []
    for ref, e in latest.items():
        p = e.payload
        if e.action is Action.deleted:
            continue
        if isinstance(p, Visit) and start <= p.starts_at < end:
            out.visits[files.truth.work[ref].value] += 1
        elif isinstance(p, TimeEntry) and start <= p.started_at < end:
            out.hours[files.truth.work[ref].value] += p.hours
        elif isinstance(p, Recommendation) and p.presented_at and start <= p.presented_at < end:
            recommendation_status.append(p.status)
    out.recommendations = {
        "presented": len(recommendation_status),
        "accepted": sum(
            s in (RecommendationStatus.accepted, "done") for s in recommendation_status
        ),
        "declined": recommendation_status.count(RecommendationStatus.declined),
    }
    out.behaviours = {s.behaviour.value for s in files.truth.signals if s.client == client_id}
    client = files.tenant.client(client_id)
    if client is not None and client.endpoints:
        months = (end - start).total_seconds() / DAY / 30
        out.rhem = out.hours["reactive"] / client.endpoints / months
    return out
