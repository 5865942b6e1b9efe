from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from services.classifier.domain.devices import alert_keys, change_keys
from services.events.models import (
    Action,
    AlertSeverity,
    DeviceChange,
    DeviceChangeKind,
    RmmAlert,
    Source,
    SourceRef,
)
from services.events.tenant import Tenant
from services.ingest.adapters.base import AuthenticationError, PayloadError
from services.ingest.adapters.ninjaone import ADAPTER
from tests.unit.adapters import helpers

RECEIVED = datetime(2026, 3, 2, 14, 6, tzinfo=UTC)
SERIES = "b3a5e0c2-6a0f-4d0e-9c44-1f0d7d5e2a10"


raw = partial(helpers.raw, "ninjaone")


def variant(payloads: Path, name: str, **changes: Any) -> bytes:
    """A fixture with fields replaced (None removes the field)."""
    return helpers.replace_fields(raw(payloads, name), changes)


delivery = partial(helpers.make_delivery, Source.ninjaone, RECEIVED)


def with_secrets(tenant: Tenant, secrets: list[str]) -> Tenant:
    return helpers.with_header_secrets(tenant, "ninjaone", secrets)


# -- authentication -------------------------------------------------------------


def test_no_configured_secret_refuses_everything(tenant: Tenant, payloads: Path) -> None:
    with pytest.raises(AuthenticationError, match="no secret is configured"):
        ADAPTER.authenticate(
            delivery(raw(payloads, "condition_triggered"), {"x-ninja-secret": "anything"}),
            with_secrets(tenant, []),
        )


def test_the_sender_sends_the_newest_secret(tenant: Tenant, payloads: Path) -> None:
    body = raw(payloads, "condition_triggered")
    assert ADAPTER.sign(body, tenant) == {"x-ninja-secret": "ninja-test-secret"}
    rotating = with_secrets(tenant, ["ninja-old-secret", "ninja-new-secret"])
    headers = ADAPTER.sign(body, rotating)
    assert headers == {"x-ninja-secret": "ninja-new-secret"}
    ADAPTER.authenticate(delivery(body, headers), rotating)
    with pytest.raises(ValueError, match=r"webhooks\.ninjaone\.secrets is empty"):
        ADAPTER.sign(body, with_secrets(tenant, []))


# -- alerts ---------------------------------------------------------------------


def test_a_triggered_condition_is_an_alert(tenant: Tenant, payloads: Path) -> None:
    result = ADAPTER.normalise(delivery(raw(payloads, "condition_triggered")), tenant)

    assert result.delivery_id == "987654"
    (event,) = result.events
    assert event.source is Source.ninjaone
    assert event.action is Action.triggered
    assert event.occurred_at == datetime(2026, 3, 2, 14, 5, 9, 250000, tzinfo=UTC)
    assert event.received_at == RECEIVED
    assert (event.client_id, event.client_known, event.source_client_ref) == ("acme", True, "3")
    assert event.delivery_id == "987654"
    assert event.refs == [
        SourceRef(source=Source.ninjaone, entity="alert", id=SERIES),
        SourceRef(source=Source.ninjaone, entity="device", id="41"),
    ]
    assert event.payload == RmmAlert(
        alert_id=SERIES,
        status="triggered",
        severity=AlertSeverity.major,
        category="Disk Free Space",
        message="Disk C: free space is 7% (threshold 10%)",
        device_id="41",
        device_name="ACME-DC01",
        help_request=False,
    )


def test_a_reset_resolves_the_same_alert(tenant: Tenant, payloads: Path) -> None:
    (triggered,) = ADAPTER.normalise(delivery(raw(payloads, "condition_triggered")), tenant).events
    (reset,) = ADAPTER.normalise(delivery(raw(payloads, "condition_reset")), tenant).events

    assert reset.action is Action.resolved
    assert isinstance(reset.payload, RmmAlert)
    assert reset.payload.status == "resolved"
    assert reset.payload.alert_id == SERIES
    assert reset.ref == triggered.ref
    assert reset.occurred_at == datetime(2026, 3, 2, 15, 42, 31, tzinfo=UTC)
    assert reset.event_id != triggered.event_id


def test_a_retry_of_the_same_activity_keeps_its_event_id(tenant: Tenant, payloads: Path) -> None:
    body = raw(payloads, "condition_triggered")
    first = ADAPTER.normalise(delivery(body), tenant).events[0]
    retry = ADAPTER.normalise(delivery(body, received_at=RECEIVED + timedelta(seconds=40)), tenant)
    assert retry.events[0].event_id == first.event_id
    assert retry.events[0].received_at == RECEIVED + timedelta(seconds=40)


@pytest.mark.parametrize(
    ("severity", "expected"),
    [
        ("CRITICAL", AlertSeverity.critical),
        ("moderate", AlertSeverity.moderate),
        ("MINOR", AlertSeverity.minor),
        ("NONE", AlertSeverity.info),
        ("CATASTROPHIC", AlertSeverity.info),  # unknown: the tenant's default
        (None, AlertSeverity.info),  # missing
    ],
)
def test_severity_is_mapped_through_the_tenant_picklist(
    tenant: Tenant, payloads: Path, severity: str | None, expected: AlertSeverity
) -> None:
    body = variant(payloads, "condition_triggered", severity=severity)
    (event,) = ADAPTER.normalise(delivery(body), tenant).events
    assert isinstance(event.payload, RmmAlert)
    assert event.payload.severity is expected


def test_a_help_request_is_a_triggered_alert_flagged_as_help(
    tenant: Tenant, payloads: Path
) -> None:
    (event,) = ADAPTER.normalise(delivery(raw(payloads, "help_request")), tenant).events

    assert event.action is Action.triggered
    assert event.client_id == "globex"
    assert event.ref == SourceRef(source=Source.ninjaone, entity="alert", id="988120")
    assert event.payload == RmmAlert(
        alert_id="988120",  # no seriesUid: the activity itself
        status="triggered",
        severity=AlertSeverity.info,
        message="Outlook keeps asking for my password since this morning",
        device_id="57",
        device_name="GLX-LT-014",
        help_request=True,
    )


def test_a_condition_in_another_state_carries_nothing(tenant: Tenant, payloads: Path) -> None:
    body = variant(payloads, "condition_triggered", statusCode="ACKNOWLEDGED")
    result = ADAPTER.normalise(delivery(body), tenant)
    assert result.events == []
    assert result.delivery_id == "987654"


def test_the_alert_device_and_client_are_optional(tenant: Tenant, payloads: Path) -> None:
    body = variant(
        payloads, "condition_triggered", deviceId=None, device=None, organization=None, data=None
    )
    (event,) = ADAPTER.normalise(delivery(body), tenant).events
    assert isinstance(event.payload, RmmAlert)
    assert (event.payload.device_id, event.payload.device_name) == (None, None)
    assert event.refs == [SourceRef(source=Source.ninjaone, entity="alert", id=SERIES)]
    assert (event.client_id, event.client_known) == ("unknown:ninjaone:none", False)


def test_an_unknown_organization_is_flagged_not_refused(tenant: Tenant, payloads: Path) -> None:
    body = variant(payloads, "condition_triggered", organization={"id": 99, "name": "Initech"})
    (event,) = ADAPTER.normalise(delivery(body), tenant).events
    assert (event.client_id, event.client_known) == ("unknown:ninjaone:99", False)
    assert event.source_client_ref == "99"


# -- device changes -------------------------------------------------------------


def test_a_new_node_is_a_new_device(tenant: Tenant, payloads: Path) -> None:
    result = ADAPTER.normalise(delivery(raw(payloads, "node_created")), tenant)

    (event,) = result.events
    assert result.delivery_id == "989001"
    assert event.action is Action.detected
    assert event.client_id == "acme"  # from device.organizationId
    assert event.occurred_at == datetime(2026, 3, 4, 9, 30, tzinfo=UTC)
    assert event.refs == [SourceRef(source=Source.ninjaone, entity="device", id="63")]
    assert event.payload == DeviceChange(
        change=DeviceChangeKind.new_device,
        device_id="63",
        device_name="ACME-WS-022",
        detail="Device ACME-WS-022 was added to Acme Dental",
        device_type="WINDOWS_WORKSTATION",  # the expanded device's nodeClass
    )


def test_a_deleted_node_is_a_removed_agent(tenant: Tenant, payloads: Path) -> None:
    (event,) = ADAPTER.normalise(delivery(raw(payloads, "node_deleted")), tenant).events
    assert event.client_id == "acme"  # from the top-level organizationId
    assert isinstance(event.payload, DeviceChange)
    assert event.payload.change is DeviceChangeKind.removed_agent
    assert event.payload.device_id == "29"
    assert event.payload.device_name is None


def test_an_installed_remote_access_tool_is_a_new_remote_tool(
    tenant: Tenant, payloads: Path
) -> None:
    (event,) = ADAPTER.normalise(
        delivery(raw(payloads, "software_added_remote_tool")), tenant
    ).events
    assert event.ref == SourceRef(source=Source.ninjaone, entity="device", id="41")
    assert event.payload == DeviceChange(
        change=DeviceChangeKind.new_remote_tool,
        device_id="41",
        device_name="ACME-DC01",
        tool="AnyDesk",
        detail="Software 'AnyDesk' version '8.0.14' was installed",
        device_type="WINDOWS_SERVER",
    )


def test_a_remote_tool_named_only_in_the_message_is_still_seen(
    tenant: Tenant, payloads: Path
) -> None:
    body = variant(
        payloads,
        "software_added_remote_tool",
        data=None,
        message="Software 'TeamViewer Host' was installed",
    )
    (event,) = ADAPTER.normalise(delivery(body), tenant).events
    assert isinstance(event.payload, DeviceChange)
    assert event.payload.tool == "Software 'TeamViewer Host' was installed"


@pytest.mark.parametrize("name", ["software_added_other", "patch_management"])
def test_activities_the_pipeline_does_not_use_carry_no_events(
    tenant: Tenant, payloads: Path, name: str
) -> None:
    result = ADAPTER.normalise(delivery(raw(payloads, name)), tenant)
    assert result.events == []
    assert result.delivery_id == str(json.loads(raw(payloads, name))["id"])


# -- malformed bodies -----------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"{not json", "body"),
        (b"[]", "body"),
        (b"\xff\xfe", "body"),
    ],
)
def test_a_body_that_is_not_an_activity_is_refused(tenant: Tenant, body: bytes, field: str) -> None:
    with pytest.raises(PayloadError) as exc:
        ADAPTER.normalise(delivery(body), tenant)
    assert exc.value.field == field


@pytest.mark.parametrize(
    ("name", "changes", "field"),
    [
        ("condition_triggered", {"id": None}, "id"),
        ("condition_triggered", {"activityType": None}, "activityType"),
        ("condition_triggered", {"activityType": 7}, "activityType"),
        ("condition_triggered", {"statusCode": ["TRIGGERED"]}, "statusCode"),
        ("condition_triggered", {"seriesUid": None}, "seriesUid"),
        ("condition_triggered", {"activityTime": None}, "activityTime"),
        ("condition_triggered", {"activityTime": "last tuesday"}, "activityTime"),
        ("node_created", {"deviceId": None, "device": None}, "deviceId"),
    ],
)
def test_a_malformed_activity_names_the_field(
    tenant: Tenant, payloads: Path, name: str, changes: dict[str, Any], field: str
) -> None:
    with pytest.raises(PayloadError) as exc:
        ADAPTER.normalise(delivery(variant(payloads, name, **changes)), tenant)
    assert exc.value.field == field


# -- device identity (issue 12, rules 3, 4 and 9) ---------------------------------------------
# NinjaOne webhooks (Public API 2.0, Webhooks): an activity may be registered with
# `expand: ["device", "organization"]`; the device carries systemName, dnsName, nodeClass,
# locationId and, where the device details are included, system.serialNumber and
# lastLoggedInUser. There is no `location` expansion, so the location's name is absent.


def _activity(payloads: Path, name: str, change: Any) -> bytes:
    body = json.loads(raw(payloads, name))
    change(body)
    return json.dumps(body).encode()


def test_the_hostname_is_the_systems_name_not_the_editable_label(
    tenant: Tenant, payloads: Path
) -> None:
    def relabelled(body: dict[str, Any]) -> None:
        body["device"]["displayName"] = "Reception (old DC)"

    body = _activity(payloads, "condition_triggered", relabelled)
    (event,) = ADAPTER.normalise(delivery(body), tenant).events
    assert event.payload.device_name == "ACME-DC01"


def test_without_system_name_the_dns_name_is_the_hostname(tenant: Tenant, payloads: Path) -> None:
    def dns_only(body: dict[str, Any]) -> None:
        del body["device"]["systemName"], body["device"]["displayName"]

    body = _activity(payloads, "condition_triggered", dns_only)
    (event,) = ADAPTER.normalise(delivery(body), tenant).events
    assert event.payload.device_name == "acme-dc01.acmedental.local"
    assert alert_keys(event.payload)[0] == "host:acme-dc01"


def test_an_alert_carries_the_serial_when_the_device_details_do(
    tenant: Tenant, payloads: Path
) -> None:
    def detailed(body: dict[str, Any]) -> None:
        body["device"]["system"] = {"serialNumber": "CZC1234ABC", "manufacturer": "HP"}

    body = _activity(payloads, "condition_triggered", detailed)
    (event,) = ADAPTER.normalise(delivery(body), tenant).events
    assert event.payload.serial == "CZC1234ABC"
    assert "serial:czc1234abc" in alert_keys(event.payload)


def test_no_location_object_is_no_site_and_no_error(tenant: Tenant, payloads: Path) -> None:
    (event,) = ADAPTER.normalise(delivery(raw(payloads, "condition_triggered")), tenant).events
    assert event.payload.site is None


def test_a_location_object_where_a_body_has_one_names_the_site(
    tenant: Tenant, payloads: Path
) -> None:
    def located(body: dict[str, Any]) -> None:
        body["location"] = {"id": 7, "name": "Main office"}

    body = _activity(payloads, "condition_triggered", located)
    (event,) = ADAPTER.normalise(delivery(body), tenant).events
    assert event.payload.site == "Main office"


def test_a_new_device_says_its_type_user_and_serial(tenant: Tenant, payloads: Path) -> None:
    (event,) = ADAPTER.normalise(delivery(raw(payloads, "node_created_detailed")), tenant).events
    change = event.payload
    assert (change.device_type, change.last_user, change.serial) == (
        "WINDOWS_WORKSTATION",
        "ACME\\jane.doe",
        "5CG0123XYZ",
    )
    assert set(change_keys(change)) == {"host:acme-lt-031", "serial:5cg0123xyz", "rmm:77"}
