from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from services.classifier.domain.devices import alert_keys
from services.events.models import Action, AlertSeverity, RmmAlert, Source, SourceRef
from services.events.tenant import Tenant
from services.ingest.adapters.base import PayloadError
from services.ingest.adapters.tacticalrmm import ADAPTER
from tests.unit.adapters import helpers

RECEIVED = datetime(2026, 3, 2, 14, 6, tzinfo=UTC)
AGENT_ID = "YzJmNTQ4ZTktOGM3Ny00"


raw = partial(helpers.raw, "tacticalrmm")


def variant(payloads: Path, name: str, **changes: Any) -> bytes:
    """A fixture with fields replaced (None removes the field)."""
    return helpers.replace_fields(raw(payloads, name), changes)


delivery = partial(helpers.make_delivery, Source.tacticalrmm, RECEIVED)


def with_secrets(tenant: Tenant, secrets: list[str]) -> Tenant:
    return helpers.with_header_secrets(tenant, "tacticalrmm", secrets)


def alert(event_payload: object) -> RmmAlert:
    assert isinstance(event_payload, RmmAlert)
    return event_payload


# -- alerts ---------------------------------------------------------------------


def test_a_failure_is_a_triggered_alert(tenant: Tenant, payloads: Path) -> None:
    result = ADAPTER.normalise(delivery(raw(payloads, "check_failure")), tenant)

    assert result.delivery_id is None
    (event,) = result.events
    assert event.source is Source.tacticalrmm
    assert event.action is Action.triggered
    assert event.occurred_at == datetime(2026, 3, 2, 14, 5, 9, 250000, tzinfo=UTC)
    assert (event.client_id, event.client_known, event.source_client_ref) == (
        "acme",
        True,
        "Acme Dental",
    )
    assert event.refs == [
        SourceRef(source=Source.tacticalrmm, entity="alert", id="4711"),
        SourceRef(source=Source.tacticalrmm, entity="device", id=AGENT_ID),
    ]
    assert event.payload == RmmAlert(
        alert_id="4711",
        status="triggered",
        severity=AlertSeverity.major,  # Tactical "error"
        category="check",
        message="ACME-DC01 has a Disk Space Drive Space check: Drive C: < 10% free that failed.",
        device_id=AGENT_ID,
        device_name="ACME-DC01",
        site="Main Office",
    )


def test_a_resolve_resolves_the_same_alert_at_its_resolve_time(
    tenant: Tenant, payloads: Path
) -> None:
    (failure,) = ADAPTER.normalise(delivery(raw(payloads, "check_failure")), tenant).events
    (resolved,) = ADAPTER.normalise(delivery(raw(payloads, "check_resolved")), tenant).events

    assert resolved.action is Action.resolved
    assert alert(resolved.payload).status == "resolved"
    assert resolved.ref == failure.ref
    assert resolved.occurred_at == datetime(2026, 3, 2, 15, 42, 31, 4211, tzinfo=UTC)
    assert resolved.event_id != failure.event_id


def test_a_resolve_without_resolved_on_uses_the_alert_time(tenant: Tenant, payloads: Path) -> None:
    body = variant(payloads, "check_resolved", resolved_on="None")
    (event,) = ADAPTER.normalise(delivery(body), tenant).events
    assert event.occurred_at == datetime(2026, 3, 2, 14, 5, 9, 250000, tzinfo=UTC)


def test_a_retry_keeps_the_event_id(tenant: Tenant, payloads: Path) -> None:
    body = raw(payloads, "check_failure")
    first = ADAPTER.normalise(delivery(body), tenant).events[0]
    retry = ADAPTER.normalise(delivery(body, received_at=RECEIVED + timedelta(seconds=8)), tenant)
    assert retry.events[0].event_id == first.event_id


def test_without_an_alert_id_the_body_is_the_identity(tenant: Tenant, payloads: Path) -> None:
    trigger = raw(payloads, "overdue_no_alert_id")
    (first,) = ADAPTER.normalise(delivery(trigger), tenant).events
    (again,) = ADAPTER.normalise(delivery(trigger), tenant).events
    (resolved,) = ADAPTER.normalise(
        delivery(raw(payloads, "overdue_no_alert_id_resolved")), tenant
    ).events
    (other,) = ADAPTER.normalise(
        delivery(variant(payloads, "overdue_no_alert_id", alert_time="2026-03-04 08:00:00+00:00")),
        tenant,
    ).events

    assert again.event_id == first.event_id  # a retry repeats the body
    assert resolved.event_id != first.event_id
    assert other.event_id != first.event_id
    # Trigger and resolve render the same agent, type and message: they join.
    assert alert(resolved.payload).alert_id == alert(first.payload).alert_id
    assert first.client_id == "globex"
    payload = alert(first.payload)
    assert (payload.device_id, payload.device_name, payload.category) == (
        "GLX-LT-014",  # no agent id: the hostname
        "GLX-LT-014",
        "availability",
    )


@pytest.mark.parametrize(
    ("severity", "expected"),
    [
        ("error", AlertSeverity.major),
        ("warning", AlertSeverity.moderate),
        ("info", AlertSeverity.info),
        ("Informational", AlertSeverity.info),  # unknown: the tenant's default
        ("None", AlertSeverity.info),
    ],
)
def test_severity_is_mapped_through_the_tenant_picklist(
    tenant: Tenant, payloads: Path, severity: str, expected: AlertSeverity
) -> None:
    body = variant(payloads, "check_failure", severity=severity)
    (event,) = ADAPTER.normalise(delivery(body), tenant).events
    assert alert(event.payload).severity is expected


def test_values_tactical_had_none_for_are_absent(tenant: Tenant, payloads: Path) -> None:
    body = variant(payloads, "check_failure", site="None", message="None", hostname="None")
    (event,) = ADAPTER.normalise(delivery(body), tenant).events
    payload = alert(event.payload)
    assert (payload.site, payload.message, payload.device_name) == (None, None, None)
    assert payload.device_id == AGENT_ID


@pytest.mark.parametrize(
    ("client", "client_id"),
    [("Initech", "unknown:tacticalrmm:Initech"), ("None", "unknown:tacticalrmm:none")],
)
def test_an_unknown_client_is_flagged_not_refused(
    tenant: Tenant, payloads: Path, client: str, client_id: str
) -> None:
    body = variant(payloads, "check_failure", client=client)
    (event,) = ADAPTER.normalise(delivery(body), tenant).events
    assert (event.client_id, event.client_known) == (client_id, False)


def test_the_client_name_is_matched_case_insensitively(tenant: Tenant, payloads: Path) -> None:
    body = variant(payloads, "check_failure", client="ACME DENTAL")
    (event,) = ADAPTER.normalise(delivery(body), tenant).events
    assert event.client_id == "acme"


# -- malformed bodies -----------------------------------------------------------


def test_a_template_tactical_could_not_parse_is_refused_with_the_reason(
    tenant: Tenant, payloads: Path
) -> None:
    with pytest.raises(PayloadError) as exc:
        ADAPTER.normalise(delivery(raw(payloads, "unparsable_template")), tenant)
    assert exc.value.field == "body"
    assert "JSON string instead of an object" in exc.value.problem


@pytest.mark.parametrize(
    ("changes", "field", "problem"),
    [
        ({"event": None}, "event", "missing"),
        ({"event": "failure"}, "event", "expected 'trigger' or 'resolved'"),
        ({"alert_time": None}, "alert_time", "missing"),
        ({"alert_time": "None"}, "alert_time", "missing"),
        ({"alert_time": "Mar 2, 2026"}, "alert_time", "not a timestamp"),
    ],
)
def test_a_malformed_alert_names_the_field(
    tenant: Tenant, payloads: Path, changes: dict[str, Any], field: str, problem: str
) -> None:
    with pytest.raises(PayloadError) as exc:
        ADAPTER.normalise(delivery(variant(payloads, "check_failure", **changes)), tenant)
    assert exc.value.field == field
    assert problem in exc.value.problem


def test_a_bad_resolved_on_names_the_field(tenant: Tenant, payloads: Path) -> None:
    with pytest.raises(PayloadError) as exc:
        ADAPTER.normalise(delivery(variant(payloads, "check_resolved", resolved_on="soon")), tenant)
    assert exc.value.field == "resolved_on"


@pytest.mark.parametrize("body", [b"{", b"[1, 2]", b"42"])
def test_a_body_that_is_not_an_object_is_refused(tenant: Tenant, body: bytes) -> None:
    with pytest.raises(PayloadError) as exc:
        ADAPTER.normalise(delivery(body), tenant)
    assert exc.value.field == "body"


# -- device identity (issue 12, rule 3) -------------------------------------------------------
# Tactical RMM script/alert variables: {{agent.hostname}} is the computer's name and
# {{agent.agent_id}} Tactical's own agent id; a PSA ticket meets this device by the hostname.


def test_the_alert_names_its_device_by_hostname_and_agent_id(
    tenant: Tenant, payloads: Path
) -> None:
    (event,) = ADAPTER.normalise(delivery(raw(payloads, "check_failure")), tenant).events
    assert alert_keys(event.payload) == ["host:acme-dc01", "rmm:yzjmntq4ztktogm3ny00"]
