"""A freshly simulated scenario read back through the vendor adapters: every delivery
parses, and the devices its PSA tickets name are the devices its RMMs report, by the
identities that cross systems (issue 12, rule 3), never by a PSA id equal to an RMM id."""

from __future__ import annotations

import copy
from collections import Counter

import pytest

from services.classifier.domain.devices import alert_keys, change_keys, ticket_keys
from services.events.models import CanonicalEvent, DeviceChange, RmmAlert, Source, Ticket
from services.events.tenant import parse_tenant
from services.scenario.simulate import Scenario, SimulationConfig, simulate
from tests.unit.scenario_reference import normalise_all

# The scenario of issue 12's late-reporting check, simulated afresh (not the committed one).
CONFIG = SimulationConfig(clients=7, days=30, seed=1, max_endpoints=40)


@pytest.fixture(scope="module")
def scenario() -> Scenario:
    return simulate(CONFIG)


@pytest.fixture(scope="module")
def events(scenario: Scenario) -> list[CanonicalEvent]:
    return normalise_all(parse_tenant(scenario.tenant), scenario.deliveries)


def _tickets(events: list[CanonicalEvent], source: Source) -> list[Ticket]:
    return [e.payload for e in events if e.source is source and isinstance(e.payload, Ticket)]


def _keys(events: list[CanonicalEvent]) -> dict[str, set[str]]:
    """Each record's device identities, by its ref (as truth.json names evidence)."""
    keys: dict[str, set[str]] = {}
    for e in events:
        p = e.payload
        found = (
            ticket_keys(p, e.source)
            if isinstance(p, Ticket)
            else alert_keys(p)
            if isinstance(p, RmmAlert)
            else change_keys(p)
            if isinstance(p, DeviceChange)
            else []
        )
        keys.setdefault(str(e.ref), set()).update(found)
    return keys


def _late_reports(scenario: Scenario) -> list[tuple[str, str]]:
    """(ticket, alert) pairs the personas meant as one problem reported late."""
    pairs = []
    for signal in scenario.truth["signals"]:
        if signal["behaviour"] == "late_reporting":
            refs = signal["evidence"]
            pairs += [(t, a) for t, a in zip(refs[::2], refs[1::2], strict=True)]
    return pairs


def test_every_delivery_parses_through_its_adapter(events: list[CanonicalEvent]) -> None:
    assert {e.source for e in events} == set(Source)
    assert Counter(e.payload.kind for e in events).keys() == {
        "ticket",
        "time_entry",
        "visit",
        "meeting",
        "rmm_alert",
        "device_change",
        "recommendation",
    }


def test_a_late_report_names_the_alerts_device_where_the_psa_body_does(
    scenario: Scenario, events: list[CanonicalEvent]
) -> None:
    """ConnectWise configurations (when sent) and Halo assets name the computer; its name
    is what the RMM reports. The PSA's own asset id is never the RMM's device id."""
    keys = _keys(events)
    pairs = [(t, a) for t, a in _late_reports(scenario) if not t.startswith("autotask:")]
    assert pairs, "the scenario has no late report on ConnectWise or Halo"
    for ticket, alert in pairs:
        shared = keys[ticket] & keys[alert]
        assert shared and all(k.startswith(("host:", "serial:", "rmm:")) for k in shared), (
            ticket,
            alert,
            keys[ticket],
            keys[alert],
        )


def test_an_autotask_ticket_names_its_configuration_item_by_autotask_id_only(
    scenario: Scenario,
) -> None:
    """The Ticket webhook carries configurationItemID, not the item's name or serial (those
    come only with ticket UDFs): without the tenant's text option its late reports share no
    identity with the alert, and the classifier falls back on the site."""
    tenant = copy.deepcopy(scenario.tenant)
    tenant.get("classifier", {}).get("device_identity", {}).pop("ticket_text_hostname", None)
    events = normalise_all(parse_tenant(tenant), scenario.deliveries)
    naming = [t for t in _tickets(events, Source.autotask) if t.devices]
    assert naming
    assert all(d.id and d.hostname is None and d.serial is None for t in naming for d in t.devices)
    keys = _keys(events)
    pairs = [(t, a) for t, a in _late_reports(scenario) if t.startswith("autotask:")]
    assert all(not keys[t] & keys[a] for t, a in pairs)


def test_every_rmm_alert_and_new_device_names_its_host(events: list[CanonicalEvent]) -> None:
    payloads = [e.payload for e in events if isinstance(e.payload, RmmAlert | DeviceChange)]
    assert payloads
    assert all(p.device_name for p in payloads if p.device_id)
    new_devices = [
        p for p in payloads if isinstance(p, DeviceChange) and p.change.value == "new_device"
    ]
    assert new_devices and all(p.device_type for p in new_devices)


def test_with_the_forms_computer_field_autotask_late_reports_name_the_alerts_host(
    scenario: Scenario,
) -> None:
    """The simulated portal form writes "Computer: <name>" in the description; a tenant
    that says so (ticket_text_hostname) gets the device the Ticket webhook cannot name."""
    tenant = copy.deepcopy(scenario.tenant)
    tenant.setdefault("classifier", {}).setdefault("device_identity", {})[
        "ticket_text_hostname"
    ] = r"Computer: ([A-Za-z0-9-]+)"
    keys = _keys(normalise_all(parse_tenant(tenant), scenario.deliveries))
    pairs = [(t, a) for t, a in _late_reports(scenario) if t.startswith("autotask:")]
    assert pairs, "the scenario has no late report on Autotask"
    assert all(any(k.startswith("host:") for k in keys[t] & keys[a]) for t, a in pairs)
