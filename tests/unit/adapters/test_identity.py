"""A hostname written in a ticket's text is a device only where the tenant says how to find
it (classifier.device_identity.ticket_text_hostname): free text names devices loosely."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from services.classifier.domain.devices import ticket_keys
from services.events.models import Source, Ticket
from services.events.tenant import Tenant, TenantConfigError
from services.ingest.adapters import ADAPTERS
from services.ingest.adapters.base import Delivery
from tests.unit.adapters import helpers

RECEIVED = datetime(2026, 3, 2, 14, 5, 12, tzinfo=UTC)
FORM = r"Computer: ([A-Za-z0-9-]+)"


def text_hostname(pattern: str | None) -> Tenant:
    def change(data: dict[str, Any]) -> None:
        identity = data.setdefault("classifier", {}).setdefault("device_identity", {})
        identity["ticket_text_hostname"] = pattern

    return helpers.tenant_with(change)


def ticket(tenant: Tenant, source: Source, body: dict[str, Any]) -> Ticket:
    delivery = Delivery(
        source=source, body=json.dumps(body).encode(), headers={}, received_at=RECEIVED
    )
    (event,) = ADAPTERS[source].normalise(delivery, tenant).events
    assert isinstance(event.payload, Ticket)
    return event.payload


def autotask_body(payloads: Path, description: str) -> dict[str, Any]:
    body = json.loads(helpers.raw("autotask", payloads, "ticket_create"))
    body["Fields"]["description"] = description
    return body


def test_off_by_default(tenant: Tenant, payloads: Path) -> None:
    found = ticket(tenant, Source.autotask, autotask_body(payloads, "Slow\nComputer: ACME-PC07"))
    assert [d.hostname for d in found.devices] == [None]


def test_the_portal_forms_computer_field_names_the_device(payloads: Path) -> None:
    found = ticket(
        text_hostname(FORM), Source.autotask, autotask_body(payloads, "Slow\nComputer: ACME-PC07")
    )
    assert [(d.id, d.hostname) for d in found.devices] == [("881", None), (None, "ACME-PC07")]
    assert "host:acme-pc07" in ticket_keys(found, Source.autotask)


def test_connectwise_summary_and_initial_description_are_read(payloads: Path) -> None:
    body = json.loads(helpers.raw("connectwise", payloads, "ticket_direct_by_tech"))
    entity = json.loads(body["Entity"])
    entity["initialDescription"] = "Computer: ACME-FD-01 and Computer: ACME-FD-02"
    body["Entity"] = json.dumps(entity)
    found = ticket(text_hostname(FORM), Source.connectwise, body)
    # the configuration already names ACME-FD-01: once only
    assert [d.hostname for d in found.devices] == ["ACME-FD-01", "ACME-FD-02"]


def test_halo_details_are_read(payloads: Path) -> None:
    body = json.loads(helpers.raw("halopsa", payloads, "new_ticket_logged"))
    body["ticket"]["details"] = "Beeping since Friday. Computer: ACME-NAS01"
    found = ticket(text_hostname(FORM), Source.halopsa, body)
    assert [d.hostname for d in found.devices] == ["ACME-NAS01"]


@pytest.mark.parametrize("pattern", ["Computer: \\S+", "Computer: ([A-Z"])
def test_a_pattern_without_a_group_or_that_does_not_compile_is_refused(pattern: str) -> None:
    with pytest.raises(TenantConfigError, match="ticket_text_hostname"):
        text_hostname(pattern)
