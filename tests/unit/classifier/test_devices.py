"""One device, as PSA and RMM each name it."""

from __future__ import annotations

from services.classifier.domain.devices import effective, hostname, serial, ticket_keys
from services.events.models import DeviceIdentity, Source, Ticket
from services.events.policy import DeviceIdentityPolicy

from .factory import at


def test_a_hostname_is_case_insensitive_without_its_domain() -> None:
    assert hostname("PC-07.acme.local") == hostname("pc-07") == hostname("ACME\\PC-07") == "pc-07"
    assert hostname("10.0.0.5") is None  # an address names no host
    assert hostname("  ") is None


def test_placeholder_serials_are_no_identity() -> None:
    assert serial(" 5cg 1234xyz") == serial("5CG1234XYZ") == "5cg1234xyz"
    for junk in ("To Be Filled By O.E.M.", "Default string", "0", "000000", "N/A", "None"):
        assert serial(junk) is None, junk


def test_psa_ids_keep_their_source_and_cross_only_when_the_tenant_says() -> None:
    t = Ticket(
        ticket_id="1",
        created_at=at(0),
        device_ids=["42"],
        devices=[DeviceIdentity(id="43", hostname="PC-07.acme.local", rmm_device_id="1017")],
    )
    keys = ticket_keys(t, Source.halopsa)
    assert keys == ["psa:halopsa:42", "psa:halopsa:43", "host:pc-07", "rmm:1017"]
    assert effective(keys, DeviceIdentityPolicy()) == {"host:pc-07", "rmm:1017"}
    as_rmm = DeviceIdentityPolicy(ticket_device_ids={Source.halopsa: "rmm_device_id"})
    assert effective(keys, as_rmm) == {"host:pc-07", "rmm:1017", "rmm:42", "rmm:43"}
    only_host = DeviceIdentityPolicy(match_on=["hostname"])
    assert effective(keys, only_host) == {"host:pc-07"}
