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
from services.ingest.adapters.dattormm import ADAPTER
from tests.unit.adapters import helpers

RECEIVED = datetime(2026, 3, 2, 14, 6, tzinfo=UTC)
ALERT_UID = "8c6f2b1e-3d4a-4f5b-9a7c-2e1d0f9b8a76"
DEVICE_UID = "0b7e6d5c-4a3f-4e2d-8c1b-9f0e1d2c3b4a"


raw = partial(helpers.raw, "dattormm")


def variant(payloads: Path, name: str, **changes: Any) -> bytes:
    """A fixture with fields replaced (None removes the field)."""
    return helpers.replace_fields(raw(payloads, name), changes, indent=2)


delivery = partial(helpers.make_delivery, Source.dattormm, RECEIVED)


def with_secrets(tenant: Tenant, secrets: list[str]) -> Tenant:
    return helpers.with_header_secrets(tenant, "dattormm", secrets)


def alert(event_payload: object) -> RmmAlert:
    assert isinstance(event_payload, RmmAlert)
    return event_payload


# -- alerts ---------------------------------------------------------------------


def test_a_raised_alert_is_triggered(tenant: Tenant, payloads: Path) -> None:
    result = ADAPTER.normalise(delivery(raw(payloads, "alert_raised")), tenant)

    assert result.delivery_id is None
    (event,) = result.events
    assert event.source is Source.dattormm
    assert event.action is Action.triggered
    assert event.occurred_at == datetime(2026, 3, 2, 14, 5, 9, tzinfo=UTC)
    assert (event.client_id, event.client_known) == ("acme", True)
    assert event.source_client_ref == "3f9c1a2e-5d4b-4c6a-9e8f-1a2b3c4d5e6f"
    assert event.refs == [
        SourceRef(source=Source.dattormm, entity="alert", id=ALERT_UID),
        SourceRef(source=Source.dattormm, entity="device", id=DEVICE_UID),
    ]
    assert event.payload == RmmAlert(
        alert_id=ALERT_UID,
        status="triggered",
        severity=AlertSeverity.major,  # Datto "High"
        category="Disk Usage",
        message="Disk C: usage is 93% (threshold 90%)",
        device_id=DEVICE_UID,
        device_name="ACME-FS01",
        site="Acme Dental",
    )


def test_a_resolved_alert_resolves_the_same_alert(tenant: Tenant, payloads: Path) -> None:
    (raised,) = ADAPTER.normalise(delivery(raw(payloads, "alert_raised")), tenant).events
    (resolved,) = ADAPTER.normalise(delivery(raw(payloads, "alert_resolved")), tenant).events

    assert resolved.action is Action.resolved
    assert alert(resolved.payload).status == "resolved"
    assert resolved.ref == raised.ref
    assert resolved.occurred_at == datetime(2026, 3, 2, 15, 42, 31, tzinfo=UTC)  # epoch ms
    assert resolved.event_id != raised.event_id


def test_a_retry_keeps_the_event_id(tenant: Tenant, payloads: Path) -> None:
    body = raw(payloads, "alert_raised")
    first = ADAPTER.normalise(delivery(body), tenant).events[0]
    retry = ADAPTER.normalise(delivery(body, received_at=RECEIVED + timedelta(minutes=2)), tenant)
    assert retry.events[0].event_id == first.event_id


def test_a_sparse_alert_falls_back_and_defaults(tenant: Tenant, payloads: Path) -> None:
    (event,) = ADAPTER.normalise(delivery(raw(payloads, "device_offline_sparse")), tenant).events

    assert event.client_id == "globex"
    assert event.occurred_at == datetime(2026, 3, 3, 8, 12, 44, tzinfo=UTC)  # epoch seconds
    payload = alert(event.payload)
    assert payload.severity is AlertSeverity.info  # "Urgent" is not a Datto priority: default
    assert payload.category == "Online Status Monitor"  # empty category: the alert type


@pytest.mark.parametrize(
    ("priority", "expected"),
    [
        ("Critical", AlertSeverity.critical),
        ("high", AlertSeverity.major),
        ("Moderate", AlertSeverity.moderate),
        ("Low", AlertSeverity.minor),
        ("Information", AlertSeverity.info),
        ("[alert_priority]", AlertSeverity.info),
        (None, AlertSeverity.info),
    ],
)
def test_priority_is_mapped_through_the_tenant_picklist(
    tenant: Tenant, payloads: Path, priority: str | None, expected: AlertSeverity
) -> None:
    body = variant(payloads, "alert_raised", alert_priority=priority)
    (event,) = ADAPTER.normalise(delivery(body), tenant).events
    assert alert(event.payload).severity is expected


def test_optional_variables_left_unsubstituted_are_absent(tenant: Tenant, payloads: Path) -> None:
    body = variant(
        payloads,
        "alert_raised",
        device_uid="[device_uid]",
        device_hostname="[device_hostname]",
        alert_message_en="",
        site_name=None,
    )
    (event,) = ADAPTER.normalise(delivery(body), tenant).events
    payload = alert(event.payload)
    assert (payload.device_id, payload.device_name, payload.message, payload.site) == (
        None,
        None,
        None,
        None,
    )
    assert event.refs == [SourceRef(source=Source.dattormm, entity="alert", id=ALERT_UID)]


@pytest.mark.parametrize(
    ("site_uid", "client_id"),
    [
        (
            "00000000-0000-4000-8000-000000000000",
            "unknown:dattormm:00000000-0000-4000-8000-000000000000",
        ),
        (None, "unknown:dattormm:none"),
    ],
)
def test_an_unknown_site_is_flagged_not_refused(
    tenant: Tenant, payloads: Path, site_uid: str | None, client_id: str
) -> None:
    body = variant(payloads, "alert_raised", site_uid=site_uid)
    (event,) = ADAPTER.normalise(delivery(body), tenant).events
    assert (event.client_id, event.client_known) == (client_id, False)


@pytest.mark.parametrize("status", ["RAISED", " Raised "])
def test_the_status_is_read_case_insensitively(tenant: Tenant, payloads: Path, status: str) -> None:
    (event,) = ADAPTER.normalise(
        delivery(variant(payloads, "alert_raised", status=status)), tenant
    ).events
    assert event.action is Action.triggered


# -- malformed bodies -----------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "field", "problem"),
    [
        ({"status": None}, "status", "missing"),
        ({"status": "open"}, "status", "expected 'raised' or 'resolved'"),
        ({"status": "[status]"}, "status", "not substituted"),
        ({"alert_uid": None}, "alert_uid", "missing"),
        ({"alert_uid": "[alert_uid]"}, "alert_uid", "not substituted"),
        ({"timestamp": "[timestamp]"}, "timestamp", "not substituted"),
        ({"timestamp": "02/03/2026 14:05"}, "timestamp", "not a timestamp"),
    ],
)
def test_a_malformed_alert_names_the_field(
    tenant: Tenant, payloads: Path, changes: dict[str, Any], field: str, problem: str
) -> None:
    with pytest.raises(PayloadError) as exc:
        ADAPTER.normalise(delivery(variant(payloads, "alert_raised", **changes)), tenant)
    assert exc.value.field == field
    assert problem in exc.value.problem


@pytest.mark.parametrize(
    "body",
    [
        b'{"status": "raised", "alert_message_en": "Service "Spooler" stopped"}',
        b'["raised"]',
        b"",
    ],
)
def test_a_body_that_is_not_the_template_is_refused(tenant: Tenant, body: bytes) -> None:
    with pytest.raises(PayloadError) as exc:
        ADAPTER.normalise(delivery(body), tenant)
    assert exc.value.field == "body"


# -- device identity (issue 12, rule 3) -------------------------------------------------------
# Datto RMM Webhooks (monitor response variables): [device_hostname] is the computer's name
# and [device_uid] Datto's own device id; a PSA ticket meets this device by the hostname (or,
# through an integration, the uid), never by a PSA asset id.


def test_the_alert_names_its_device_by_hostname_and_datto_uid(
    tenant: Tenant, payloads: Path
) -> None:
    (event,) = ADAPTER.normalise(delivery(raw(payloads, "alert_raised")), tenant).events
    assert alert_keys(event.payload) == [
        "host:acme-fs01",
        "rmm:0b7e6d5c-4a3f-4e2d-8c1b-9f0e1d2c3b4a",
    ]
