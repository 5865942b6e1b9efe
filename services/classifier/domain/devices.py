"""Device identity across systems.

A PSA and an RMM never share record ids (a Halo asset id, an Autotask configuration
item or a ConnectWise configuration is not a NinjaOne, Datto or Tactical device id),
so "the same device" is decided on the identities that cross systems: the hostname
(case-insensitive, domain suffix stripped), the serial number, or the RMM-PSA
integration's link (an RMM device id carried on the PSA record). Records keep
*keys* that say which kind of identity each is (`host:`, `serial:`, `rmm:`,
`psa:<source>:`); the tenant's `classifier.device_identity` decides, when two
records are compared, which kinds count, so a change of policy needs no replay.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable

from services.events.models import DeviceChange, RmmAlert, Source, Ticket
from services.events.policy import DeviceIdentityPolicy

# Serials that BIOSes and virtual machines report for every device: never an identity.
_PLACEHOLDER_SERIALS = frozenset(
    {
        "",
        "0",
        "00000000",
        "0123456789",
        "1234567890",
        "none",
        "n/a",
        "na",
        "null",
        "unknown",
        "default string",
        "to be filled by o.e.m.",
        "to be filled by oem",
        "system serial number",
        "not specified",
        "not applicable",
        "chassis serial number",
        "invalid",
    }
)

_PLACEHOLDERS = frozenset("".join(p.split()) for p in _PLACEHOLDER_SERIALS)

_MAYBE_IP = re.compile(r"[0-9a-f:.]+(%.+)?")

_KINDS = {"hostname": "host:", "serial": "serial:", "rmm_link": "rmm:"}


def hostname(value: str | None) -> str | None:
    """`PC-01.acme.local` and `pc-01` are one host; an IP address is no hostname."""
    if value is None:
        return None
    name = value.strip().casefold()
    if "\\" in name:  # DOMAIN\HOST
        name = name.rsplit("\\", 1)[1]
    if _MAYBE_IP.fullmatch(name):  # the parse is costly; most names are not addresses
        try:
            ipaddress.ip_address(name)
            return None
        except ValueError:
            pass
    name = name.split(".", 1)[0]
    return name or None


def serial(value: str | None) -> str | None:
    if value is None:
        return None
    cleaned = "".join(value.split()).casefold()
    return None if cleaned in _PLACEHOLDERS or set(cleaned) <= {"0", "-"} else cleaned


def _keys(
    *, host: str | None = None, serial_no: str | None = None, rmm_id: str | None = None
) -> list[str]:
    keys = []
    if (h := hostname(host)) is not None:
        keys.append("host:" + h)
    if (s := serial(serial_no)) is not None:
        keys.append("serial:" + s)
    if rmm_id is not None and rmm_id.strip():
        keys.append("rmm:" + rmm_id.strip().casefold())
    return keys


def alert_keys(p: RmmAlert) -> list[str]:
    return _keys(host=p.device_name, serial_no=p.serial, rmm_id=p.device_id)


def change_keys(p: DeviceChange) -> list[str]:
    return _keys(host=p.device_name, serial_no=p.serial, rmm_id=p.device_id)


def ticket_keys(p: Ticket, source: Source) -> list[str]:
    """A ticket's devices: plain PSA ids keep their source (they match nothing else
    unless the tenant says what that source's ids are); named identities cross."""
    keys = [f"psa:{source.value}:{i.strip().casefold()}" for i in p.device_ids if i.strip()]
    for d in p.devices:
        if d.id is not None and d.id.strip():
            keys.append(f"psa:{source.value}:{d.id.strip().casefold()}")
        keys += _keys(host=d.hostname, serial_no=d.serial, rmm_id=d.rmm_device_id)
    return list(dict.fromkeys(keys))


def effective(keys: Iterable[str], policy: DeviceIdentityPolicy) -> set[str]:
    """The identities of a record that count under the tenant's policy."""
    return Identities(policy)(keys)


class Identities:
    """`effective` with the policy read once (detectors compare many records)."""

    def __init__(self, policy: DeviceIdentityPolicy) -> None:
        self.allowed = tuple(_KINDS[k] for k in policy.match_on)
        self.psa = {str(s): meaning for s, meaning in policy.ticket_device_ids.items()}

    def __call__(self, keys: Iterable[str]) -> set[str]:
        return {k for k in (self._meaning(key) for key in keys) if k.startswith(self.allowed)}

    def _meaning(self, key: str) -> str:
        if key.startswith("psa:"):
            _, source, ref = key.split(":", 2)
            meaning = self.psa.get(source, "psa_id")
            if meaning == "rmm_device_id":
                return "rmm:" + ref
            if meaning == "hostname":
                host = hostname(ref)
                return "host:" + host if host else key
        return key


def names(keys: Iterable[str]) -> list[str]:
    """The hostnames among a record's keys (what a person would write in a ticket)."""
    return [k.removeprefix("host:") for k in keys if k.startswith("host:")]
