"""NinjaOne: one activity object per webhook delivery.

An activity is `{"id", "activityTime" (epoch seconds), "deviceId", "severity",
"priority", "seriesUid", "activityType", "statusCode", "sourceName", "subject",
"message", "data", ...}`; with `expand: ["device", "organization"]` at
registration it also carries the `device` and `organization` objects.

What the pipeline uses:

| activityType / statusCode         | canonical                                        |
|-----------------------------------|--------------------------------------------------|
| CONDITION / TRIGGERED, RESET      | RmmAlert triggered / resolved, joined by seriesUid |
| HELP_REQUEST / any                | RmmAlert(help_request=True), triggered           |
| SYSTEM / NODE_CREATED             | DeviceChange(new_device)                          |
| SYSTEM / NODE_DELETED             | DeviceChange(removed_agent)                       |
| any / SOFTWARE_ADDED, remote tool | DeviceChange(new_remote_tool)                     |

Everything else (patching, scripts, antivirus, acknowledgements, software that
is not a remote-access tool, ...) is a valid delivery with no events.
Authentication: the custom header set at registration, holding one of the
tenant's secrets.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from services.events.models import (
    Action,
    CanonicalEvent,
    DeviceChange,
    DeviceChangeKind,
    RmmAlert,
    Source,
    SourceRef,
)
from services.events.tenant import Tenant
from services.ingest.adapters.base import (
    Delivery,
    Normalised,
    PayloadError,
    VendorAdapter,
    alert_refs,
    get_path,
    make_event,
    parse_time,
    require,
    require_object,
    text,
)
from services.ingest.adapters.identity import first_text, ninjaone_hostname, ninjaone_serial
from services.ingest.adapters.signatures import header_secret_functions

SOURCE = Source.ninjaone

_CONDITION_ACTIONS = {"TRIGGERED": Action.triggered, "RESET": Action.resolved}
_SYSTEM_CHANGES = {
    "NODE_CREATED": DeviceChangeKind.new_device,
    "NODE_DELETED": DeviceChangeKind.removed_agent,
}
_SOFTWARE_ADDED = "SOFTWARE_ADDED"


def normalise(delivery: Delivery, tenant: Tenant) -> Normalised:
    activity = require_object(delivery.json(), "body")
    activity_id = str(text(require(activity, "id")))
    activity_type = _code(activity, "activityType", required=True)
    status_code = _code(activity, "statusCode")
    reader = _Activity(activity, activity_id, delivery, tenant)

    if activity_type == "CONDITION" and status_code in _CONDITION_ACTIONS:
        events = [reader.alert(_CONDITION_ACTIONS[status_code], help_request=False)]
    elif activity_type == "HELP_REQUEST":
        events = [reader.alert(Action.triggered, help_request=True)]
    elif activity_type == "SYSTEM" and status_code in _SYSTEM_CHANGES:
        events = [reader.device_change(_SYSTEM_CHANGES[status_code])]
    elif status_code == _SOFTWARE_ADDED:
        tool = _remote_tool(activity, tenant)
        events = [reader.device_change(DeviceChangeKind.new_remote_tool, tool=tool)] if tool else []
    else:
        events = []
    return Normalised(events=events, delivery_id=activity_id)


class _Activity:
    """Reads the parts of one activity that every event built from it shares."""

    def __init__(
        self, activity: dict[str, Any], activity_id: str, delivery: Delivery, tenant: Tenant
    ) -> None:
        self.activity = activity
        self.activity_id = activity_id
        self.delivery = delivery
        self.tenant = tenant

    def alert(self, action: Action, *, help_request: bool) -> CanonicalEvent:
        activity = self.activity
        if help_request:
            alert_id = text(activity.get("seriesUid")) or self.activity_id
        else:
            alert_id = str(text(require(activity, "seriesUid")))
        device_id = self._device_id(required=False)
        refs = alert_refs(SOURCE, alert_id, device_id)
        payload = RmmAlert(
            alert_id=alert_id,
            status="triggered" if action is Action.triggered else "resolved",
            severity=self.tenant.map(SOURCE, "severity", activity.get("severity")),
            category=text(activity.get("sourceName")),
            message=text(activity.get("message")) or text(activity.get("subject")),
            device_id=device_id,
            device_name=ninjaone_hostname(activity),
            serial=ninjaone_serial(activity),
            site=_site(activity),
            help_request=help_request,
        )
        return self._event(action, refs, payload)

    def device_change(self, change: DeviceChangeKind, *, tool: str | None = None) -> CanonicalEvent:
        activity = self.activity
        device_id = str(self._device_id(required=True))
        payload = DeviceChange(
            change=change,
            device_id=device_id,
            device_name=ninjaone_hostname(activity),
            site=_site(activity),
            tool=tool,
            detail=text(activity.get("message")) or text(activity.get("subject")),
            serial=ninjaone_serial(activity),
            device_type=first_text(activity, "device.nodeClass"),
            last_user=first_text(activity, "device.lastLoggedInUser"),
        )
        refs = [SourceRef(source=SOURCE, entity="device", id=device_id)]
        return self._event(Action.detected, refs, payload)

    def _event(
        self, action: Action, refs: list[SourceRef], payload: RmmAlert | DeviceChange
    ) -> CanonicalEvent:
        activity = self.activity
        organization_name = text(get_path(activity, "organization.name"))
        return make_event(
            tenant=self.tenant,
            source=SOURCE,
            action=action,
            identity=f"activity:{self.activity_id}",
            occurred_at=parse_time(activity.get("activityTime"), "activityTime"),
            received_at=self.delivery.received_at,
            source_client_ref=_organization_id(activity),
            client_refs=[organization_name] if organization_name else [],
            refs=refs,
            payload=payload,
            delivery_id=self.activity_id,
        )

    def _device_id(self, *, required: bool) -> str | None:
        device_id = text(self.activity.get("deviceId")) or text(
            get_path(self.activity, "device.id")
        )
        if device_id is None and required:
            raise PayloadError("deviceId", "required field is missing or empty")
        return device_id


def _site(activity: Mapping[str, Any]) -> str | None:
    """The location's name, only where a body carries a `location` object: the documented
    `expand` is device and organization, so a webhook names the location by
    `device.locationId` alone, which is no site name."""
    return text(get_path(activity, "location.name"))


def _code(activity: Mapping[str, Any], key: str, *, required: bool = False) -> str | None:
    value = activity.get(key)
    if value is None or value == "":
        if required:
            raise PayloadError(key, "required field is missing or empty")
        return None
    if not isinstance(value, str):
        raise PayloadError(key, f"expected a string, got {type(value).__name__}")
    return value.strip().upper()


def _organization_id(activity: Mapping[str, Any]) -> str | None:
    """The organization (client) id: expanded object first, then the device's, then top level."""
    for path in ("organization.id", "device.organizationId", "organizationId"):
        value = text(get_path(activity, path))
        if value:
            return value
    return None


def _remote_tool(activity: Mapping[str, Any], tenant: Tenant) -> str | None:
    """The added software's name when it is a remote-access tool the tenant watches.

    NinjaOne's software-inventory activity names the product in `data` (its
    message parameters) or only in the human-readable `message`/`subject`;
    the exact key is not documented, so structured fields are tried first.
    """
    for candidate in _software_names(activity):
        if tenant.is_remote_tool(candidate):
            return candidate
    return None


def _software_names(activity: Mapping[str, Any]) -> Iterator[str]:
    data = activity.get("data")
    if isinstance(data, Mapping):
        for path in ("softwareName", "name", "software.name", "message.params.name"):
            value = text(get_path(data, path))
            if value:
                yield value
        params = get_path(data, "message.params")
        if isinstance(params, Mapping):
            for value in params.values():
                if isinstance(value, str) and value.strip():
                    yield value.strip()
    for key in ("subject", "message"):
        value = text(activity.get(key))
        if value:
            yield value


authenticate, sign = header_secret_functions(SOURCE, lambda tenant: tenant.webhooks.ninjaone)

ADAPTER = VendorAdapter(
    source=SOURCE, authenticate_fn=authenticate, normalise_fn=normalise, sign_fn=sign
)
