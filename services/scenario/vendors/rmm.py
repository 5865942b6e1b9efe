"""RMM webhooks: NinjaOne activities, Datto RMM and Tactical RMM alert templates.

NinjaOne sends its own activity objects with `device` and `organization`
expanded, as its documented `expand` allows (no `location` object: the device
names only its `locationId`, issue 12 rule 9); Datto RMM and Tactical RMM send the bodies of
docs/webhook-templates.md, filled the way each substitutes its variables.
Only NinjaOne reports new devices and installed software.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from services.events.models import DeviceChangeKind, Source
from services.scenario.model import Alert, ClientWorld, Device, DeviceChange, RmmActivity
from services.scenario.vendors.common import Emission, body_rng, compact, iso_z
from services.scenario.world import make_uuid


def _ninja_device(client: ClientWorld, device: Device) -> dict[str, Any]:
    return {
        "id": int(device.rmm_id),
        "organizationId": int(client.rmm_org),
        "locationId": 7 + client.sites.index(device.site),
        "nodeClass": "WINDOWS_SERVER" if device.server else "WINDOWS_WORKSTATION",
        "displayName": device.hostname,
        "systemName": device.hostname,
        "dnsName": f"{device.hostname.lower()}.{client.domain.removesuffix('.example')}.local",
    }


def _ninja(
    client: ClientWorld, device: Device, activity_id: int, at: datetime, fields: dict[str, Any]
) -> Emission:
    body = {
        "id": activity_id,
        "activityTime": round(at.timestamp(), 2),
        "deviceId": int(device.rmm_id),
        **fields,
        "device": _ninja_device(client, device),
        "organization": {"id": int(client.rmm_org), "name": client.name},
    }
    return Emission(at, Source.ninjaone, compact(body))


NINJA_SEVERITY = {
    "critical": "CRITICAL",
    "major": "MAJOR",
    "moderate": "MODERATE",
    "minor": "MINOR",
}


def ninja_alert(alert: Alert) -> list[Emission]:
    rng = body_rng("ninjaone", alert.id)
    condition = {
        "severity": alert.severity,
        "priority": "HIGH" if alert.severity in ("MAJOR", "CRITICAL") else "MEDIUM",
        "seriesUid": alert.id,
        "activityType": "CONDITION",
        "sourceConfigUid": make_uuid(rng),
        "sourceName": alert.category,
        "subject": alert.message,
        "message": alert.message,
        "type": "Condition",
    }
    trigger, reset = alert.activity_ids
    out = [
        _ninja(
            alert.client,
            alert.device,
            trigger,
            alert.triggered_at,
            condition
            | {
                "statusCode": "TRIGGERED",
                "status": "Triggered",
                "data": {"message": {"code": "condition_triggered", "params": {}}},
            },
        )
    ]
    if alert.resolved_at is not None:
        out.append(
            _ninja(
                alert.client,
                alert.device,
                reset,
                alert.resolved_at,
                condition
                | {
                    "statusCode": "RESET",
                    "status": "Reset",
                    "data": {"message": {"code": "condition_reset", "params": {}}},
                },
            )
        )
    return out


def ninja_device_change(change: DeviceChange) -> list[Emission]:
    if change.change is DeviceChangeKind.new_device:
        fields: dict[str, Any] = {
            "activityType": "SYSTEM",
            "statusCode": "NODE_CREATED",
            "status": "Node created",
            "message": f"Device {change.device.hostname} was added to {change.client.name}",
            "type": "System",
        }
    else:
        version = (
            f"{8 + change.activity_id % 5}.{change.activity_id % 10}.{change.activity_id % 37}"
        )
        fields = {
            "activityType": "MONITOR",
            "statusCode": "SOFTWARE_ADDED",
            "status": "Software added",
            "message": f"Software '{change.tool}' version '{version}' was installed",
            "type": "Monitor",
            "data": {
                "message": {
                    "code": "agent_act_software_added",
                    "params": {"name": change.tool, "version": version},
                }
            },
        }
    return [_ninja(change.client, change.device, change.activity_id, change.at, fields)]


def ninja_activity(activity: RmmActivity) -> list[Emission]:
    fields: dict[str, Any] = {
        "activityType": activity.activity_type,
        "statusCode": activity.status_code,
        "status": activity.status_code.replace("_", " ").capitalize(),
        "message": activity.message,
        "type": activity.activity_type.replace("_", " ").title(),
    }
    if activity.data is not None:
        fields["data"] = activity.data
    return [_ninja(activity.client, activity.device, activity.activity_id, activity.at, fields)]


def datto_alert(alert: Alert) -> list[Emission]:
    rng = body_rng("dattormm", alert.id)
    body = {
        "status": "raised",
        "alert_uid": alert.id,
        "alert_type": alert.category + " Monitor",
        "alert_category": alert.category,
        "alert_priority": alert.severity,
        "alert_message_en": alert.message,
        "device_uid": alert.device.rmm_id,
        "device_hostname": alert.device.hostname,
        "device_ip": f"10.{alert.client.index % 250}.{rng.randrange(250)}.{rng.randrange(2, 250)}",
        "last_user": "[last_user]"
        if alert.device.server
        else f"{alert.client.psa_identifier}\\user",
        "site_uid": alert.client.rmm_org,
        "site_name": alert.client.name,
        "platform": "merlot",
        "timestamp": iso_z(alert.triggered_at),
    }
    out = [Emission(alert.triggered_at, Source.dattormm, json.dumps(body, indent=2) + "\n")]
    if alert.resolved_at is not None:
        resolved = body | {"status": "resolved", "timestamp": iso_z(alert.resolved_at)}
        out.append(
            Emission(alert.resolved_at, Source.dattormm, json.dumps(resolved, indent=2) + "\n")
        )
    return out


def _tactical_time(at: datetime) -> str:
    return str(at.replace(microsecond=at.microsecond or 250000))


def tactical_alert(alert: Alert) -> list[Emission]:
    body = {
        "event": "trigger",
        "alert_id": alert.id,
        "alert_type": alert.category,
        "severity": alert.severity,
        "alert_time": _tactical_time(alert.triggered_at),
        "resolved_on": "None",
        "message": alert.message,
        "agent_id": alert.device.rmm_id,
        "hostname": alert.device.hostname,
        "client": alert.client.rmm_org,
        "site": alert.device.site,
    }
    out = [Emission(alert.triggered_at, Source.tacticalrmm, json.dumps(body))]
    if alert.resolved_at is not None:
        resolved = body | {"event": "resolved", "resolved_on": _tactical_time(alert.resolved_at)}
        out.append(Emission(alert.resolved_at, Source.tacticalrmm, json.dumps(resolved)))
    return out


def alert(record: Alert) -> list[Emission]:
    writer = {
        Source.ninjaone: ninja_alert,
        Source.dattormm: datto_alert,
        Source.tacticalrmm: tactical_alert,
    }[record.source]
    return writer(record)
