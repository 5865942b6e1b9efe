"""Shared-secret header authentication, checked for every RMM source that uses it."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from services.events.models import Source
from services.events.tenant import Tenant
from services.ingest.adapters import dattormm, ninjaone, tacticalrmm
from services.ingest.adapters.base import AuthenticationError, Delivery
from tests.unit.adapters import helpers

RECEIVED = datetime(2026, 3, 2, 14, 6, tzinfo=UTC)

# source: adapter, fixture, header, configured secret, rotation secrets
SOURCES: dict[str, tuple[Any, str, str, str, list[str]]] = {
    "dattormm": (
        dattormm.ADAPTER,
        "alert_raised",
        "x-datto-secret",
        "datto-test-secret",
        ["datto-old", "datto-new"],
    ),
    "tacticalrmm": (
        tacticalrmm.ADAPTER,
        "check_failure",
        "x-tactical-secret",
        "tactical-test-secret",
        ["tactical-old", "tactical-new"],
    ),
    "ninjaone": (
        ninjaone.ADAPTER,
        "condition_triggered",
        "x-ninja-secret",
        "ninja-test-secret",
        ["ninja-old-secret", "ninja-new-secret"],
    ),
}
ACCEPTED = [
    ("dattormm", {"X-Datto-Secret": "datto-test-secret"}),
    (
        "tacticalrmm",
        {"Content-Type": "application/json", "X-Tactical-Secret": "tactical-test-secret"},
    ),
    ("ninjaone", {"X-Ninja-Secret": "ninja-test-secret"}),
]
REFUSED = [
    ("dattormm", {}, None),
    ("dattormm", {"x-datto-secret": "datto-test-secret-2"}, None),
    ("dattormm", {"x-datto-secret": "DATTO-TEST-SECRET"}, None),
    ("dattormm", {"x-ninja-secret": "datto-test-secret"}, None),
    ("tacticalrmm", {}, None),
    ("tacticalrmm", {"x-tactical-secret": "tactical-test-secret-old"}, None),
    ("tacticalrmm", {"x-tactical-secret": "tactical"}, None),
    ("tacticalrmm", {"authorization": "tactical-test-secret"}, None),
    ("ninjaone", {}, "missing x-ninja-secret"),
    ("ninjaone", {"x-ninja-secret": ""}, "missing x-ninja-secret"),
    ("ninjaone", {"x-ninja-secret": "ninja-test-secre"}, "does not match"),
    ("ninjaone", {"x-ninja-secret": "ninja-test-secret "}, "does not match"),
    ("ninjaone", {"x-partnerpulse-secret": "ninja-test-secret"}, "missing x-ninja-secret"),
]


def delivery(source: str, payloads: Path, headers: dict[str, str]) -> Delivery:
    fixture = SOURCES[source][1]
    body = helpers.raw(source, payloads, fixture)
    return helpers.make_delivery(Source(source), RECEIVED, body, headers)


def adapter(source: str) -> Any:
    return SOURCES[source][0]


@pytest.mark.parametrize(("source", "headers"), ACCEPTED)
def test_the_configured_secret_is_accepted(
    tenant: Tenant, payloads: Path, source: str, headers: dict[str, str]
) -> None:
    adapter(source).authenticate(delivery(source, payloads, headers), tenant)
    wrong = {name: value + "x" for name, value in headers.items()}  # one character more
    with pytest.raises(AuthenticationError):
        adapter(source).authenticate(delivery(source, payloads, wrong), tenant)


@pytest.mark.parametrize(("source", "headers", "reason"), REFUSED)
def test_a_missing_or_wrong_secret_is_refused(
    tenant: Tenant, payloads: Path, source: str, headers: dict[str, str], reason: str | None
) -> None:
    with pytest.raises(AuthenticationError, match=reason):
        adapter(source).authenticate(delivery(source, payloads, headers), tenant)


@pytest.mark.parametrize("source", list(SOURCES))
def test_both_secrets_are_accepted_during_a_rotation(
    tenant: Tenant, payloads: Path, source: str
) -> None:
    _, fixture, header, configured, secrets = SOURCES[source]
    rotating = helpers.with_header_secrets(tenant, source, secrets)
    for secret in secrets:
        adapter(source).authenticate(delivery(source, payloads, {header: secret}), rotating)
    with pytest.raises(AuthenticationError):
        adapter(source).authenticate(delivery(source, payloads, {header: configured}), rotating)
    body = helpers.raw(source, payloads, fixture)
    assert adapter(source).sign(body, rotating) == {header: secrets[-1]}
