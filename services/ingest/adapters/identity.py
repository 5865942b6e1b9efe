"""What each vendor names a device by: the identities that cross systems.

A PSA's own asset id (a ConnectWise configuration, a Halo asset, an Autotask
configuration item) never equals an RMM's device id, so a ticket's devices carry
what the other systems also know: the computer's name, its serial number, and the
RMM device id that an RMM-PSA integration wrote on the PSA record. Values are kept
as the vendor wrote them; how they match (case, domain suffix, BIOS placeholder
serials) is the classifier's rule (services/classifier/domain/devices.py).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

from services.events.models import DeviceIdentity
from services.events.tenant import Tenant
from services.ingest.adapters.base import get_path, ref_id, text


def device_identity(
    *,
    psa_id: Any = None,
    hostname: Any = None,
    serial: Any = None,
    rmm_device_id: Any = None,
) -> DeviceIdentity | None:
    """A device with whatever identities the record gives; None when it gives none.
    An id of 0 is "unset" (Halo and Autotask write 0 for no asset)."""
    found = {
        "id": None if (i := ref_id(psa_id)) in (None, "0") else i,
        "hostname": text(hostname),
        "serial": text(serial),
        "rmm_device_id": text(rmm_device_id),
    }
    if all(value is None for value in found.values()):
        return None
    return DeviceIdentity(**found)


def first_text(obj: Mapping[str, Any], *paths: str) -> str | None:
    """The first of `paths` (dotted) that holds a non-empty value."""
    for path in paths:
        value = text(get_path(obj, path))
        if value is not None:
            return value
    return None


def _each(
    items: Any, read: Callable[[Mapping[str, Any]], DeviceIdentity | None]
) -> list[DeviceIdentity]:
    """Devices from a list of objects; a bare scalar is a PSA id."""
    if not isinstance(items, list):
        return []
    devices = []
    for item in items:
        device = read(item if isinstance(item, Mapping) else {"id": item})
        if device is not None and device not in devices:
            devices.append(device)
    return devices


def connectwise_configurations(configurations: Any) -> list[DeviceIdentity]:
    """A ConnectWise ticket's configurations, where the body has them.

    `configurations` is a sub-resource (`service/tickets/{id}/configurations`), not a
    field of the ticket model, so a cloud callback's Entity does not carry it and a
    ticket without it names no device. Older on-premise versions and enriched bodies
    send ConfigurationReferences (`id`, `deviceIdentifier`, `name`) or whole
    configurations (`serialNumber` too): `name` is the computer's name;
    `deviceIdentifier` is what the RMM integration that created the configuration
    wrote there (its own device id), so it is the RMM-PSA link.
    """
    return _each(
        configurations,
        lambda c: device_identity(
            psa_id=c.get("id"),
            hostname=c.get("name"),
            serial=c.get("serialNumber"),
            rmm_device_id=c.get("deviceIdentifier"),
        ),
    )


def halopsa_assets(assets: Any) -> list[DeviceIdentity]:
    """A Halo ticket's `assets[]`: `id` is Halo's own asset id; `inventory_number`
    (the asset tag, which MSPs commonly set to the computer's name) or the asset type's
    first key field (`key_field`) is the name; a serial where the body carries one."""
    return _each(
        assets,
        lambda a: device_identity(
            psa_id=a.get("id"),
            hostname=first_text(a, "hostname", "inventory_number", "key_field"),
            serial=first_text(a, "serialnumber", "serial_number", "serial"),
        ),
    )


# The ConfigurationItem fields that cross systems. A Ticket webhook's payload holds only
# Ticket fields and ticket UDFs (TicketWebhookFields / TicketWebhookUdfFields, "display
# always"), so these arrive only as ticket UDFs of these names (filled by a workflow rule
# or the RMM integration) or in an enriched body; the callout itself names only the
# configuration item's id. docs/webhook-templates.md says how to set them up.
AUTOTASK_CI_FIELDS = {
    "hostname": "referenceTitle",
    "serial": "serialNumber",
    "rmm_device_id": "rmmDeviceUID",
}


def autotask_ticket_device(field: Callable[[str], str | None]) -> DeviceIdentity | None:
    """The ticket's primary configuration item (`configurationItemID`, a PSA id) with
    the ConfigurationItem's name, serial and RMM link when the callout has them."""
    return device_identity(
        psa_id=field("configurationItemID"),
        hostname=field(AUTOTASK_CI_FIELDS["hostname"]),
        serial=field(AUTOTASK_CI_FIELDS["serial"]),
        rmm_device_id=field(AUTOTASK_CI_FIELDS["rmm_device_id"]),
    )


def with_text_hostnames(
    devices: list[DeviceIdentity], tenant: Tenant, *texts: str | None
) -> list[DeviceIdentity]:
    """`devices` plus the hostnames the tenant's `ticket_text_hostname` finds in a ticket's
    summary or description (off unless the tenant sets it), each once."""
    pattern = tenant.classifier.device_identity.ticket_text_hostname
    if pattern is None:
        return devices
    known = {(d.hostname or "").casefold() for d in devices}
    found = list(devices)
    for value in texts:
        for match in _compiled(pattern).finditer(value or ""):
            name = text(match.group(1))
            if name is not None and name.casefold() not in known:
                known.add(name.casefold())
                found.append(DeviceIdentity(hostname=name))
    return found


@lru_cache(maxsize=16)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


# -- RMM devices ------------------------------------------------------------------------


def ninjaone_hostname(activity: Mapping[str, Any]) -> str | None:
    """The computer's name from an activity with `expand: device`: `systemName` (the
    name the OS reports), else `dnsName` / `nodeName`; `displayName` (a label anyone
    can edit) only as a last resort."""
    return first_text(
        activity,
        "device.systemName",
        "device.dnsName",
        "device.nodeName",
        "device.displayName",
    )


def ninjaone_serial(activity: Mapping[str, Any]) -> str | None:
    """The serial number, when the expanded device carries its `system` details."""
    return first_text(
        activity,
        "device.system.serialNumber",
        "device.system.biosSerialNumber",
        "device.serialNumber",
    )
