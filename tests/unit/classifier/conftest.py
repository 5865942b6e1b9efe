from __future__ import annotations

from pathlib import Path

import pytest

from services.classifier.domain.engine import Engine
from services.classifier.domain.state import ClientState
from services.events.models import CanonicalEvent
from services.events.tenant import Tenant, load_tenant

FIXTURES = Path(__file__).parents[2] / "fixtures"


@pytest.fixture(scope="session")
def tenant() -> Tenant:
    return load_tenant(FIXTURES / "tenant.yaml")


@pytest.fixture
def engine(tenant: Tenant) -> Engine:
    return Engine(tenant)


class Feed:
    """Apply events to one client's state the way the agent does (watermark advancing)."""

    def __init__(self, engine: Engine, client: str = "acme") -> None:
        self.engine = engine
        self.state = ClientState(client)
        self.watermark = 0.0
        self.work: dict[str, str] = {}

    def __call__(self, *events: CanonicalEvent) -> Feed:
        for event in events:
            applied = self.engine.apply(self.state, event, self.watermark)
            if not applied.duplicate:
                self.watermark = max(self.watermark, event.occurred_at.timestamp())
            for item in applied.work:
                self.work[item.ref] = item.work_class.value
        return self


@pytest.fixture
def feed(engine: Engine) -> Feed:
    return Feed(engine)
