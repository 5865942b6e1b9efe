from __future__ import annotations

from pathlib import Path

import pytest

from services.events.tenant import Tenant, load_tenant

FIXTURES = Path(__file__).parent / "fixtures"

# Fixtures of the shared support package (tests/support), for every test module.
pytest_plugins = ["tests.support.smtp"]


@pytest.fixture(scope="session")
def tenant() -> Tenant:
    return load_tenant(FIXTURES / "tenant.yaml")


@pytest.fixture(scope="session")
def payloads() -> Path:
    """Vendor payload fixtures: tests/fixtures/payloads/<source>/<name>.json."""
    return FIXTURES / "payloads"
