"""The hard cases of issue 12, each played on purpose, each with its truth from intent.

One scenario of the `hard` profile (15 clients made only of hard cases) is
read back: the records say what the case is, the vendor bodies carry it as the
vendors would, and the truth is what the persona meant.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest

from services.events.models import Channel, Nature, Source
from services.events.models import Ticket as TicketEvent
from services.events.outputs import Band, Behaviour, WorkClass
from services.events.tenant import parse_tenant
from services.scenario.files import load_scenario, write_scenario
from services.scenario.habits.catalogue import ANNOUNCE_BLOCK, NEXT_STEPS, concerns_devices
from services.scenario.habits.hard_cases import DEFAULT_CHANNEL
from services.scenario.model import EnteredBy, Ticket
from services.scenario.personas import HARD_CASES, HardCase
from services.scenario.simulate import Scenario, SimulationConfig, simulate
from services.scenario.vendors import autotask, connectwise, halopsa
from services.scenario.vendors.common import WriterSettings
from services.scenario.vendors.picklists import CW_CHANNELS, CW_TYPES, HALO_SOURCES
from services.scenario.world import tenant_accepts

from ..scenario_reference import normalise_all


@pytest.fixture(scope="module")
def hard() -> Scenario:
    return simulate(SimulationConfig(clients=15, days=45, seed=3, profile="hard"))


def clients_with(s: Scenario, case: HardCase) -> set[str]:
    return {c for c, p in s.personas.items() if case in p.hard}


def evidence_refs(s: Scenario, behaviour: Behaviour | None = None) -> set[str]:
    return {
        ref
        for e in s.records.evidence
        if behaviour is None or e.behaviour is behaviour
        for ref in e.refs
    }


def settings(s: Scenario) -> WriterSettings:
    return WriterSettings("sim-msp", "http://127.0.0.1:1/key", "guid", s.end)


def body(ticket: Ticket, s: Scenario) -> dict[str, object]:
    """The first body its PSA sends for a ticket, decoded to the record."""
    writer = {
        Source.connectwise: connectwise.tickets,
        Source.autotask: autotask.tickets,
        Source.halopsa: halopsa.tickets,
    }[ticket.source]
    sent = json.loads(writer(ticket, settings(s))[0].body)
    if ticket.source is Source.connectwise:
        record: dict[str, object] = json.loads(sent["Entity"])
        return record
    return sent["Fields"] if ticket.source is Source.autotask else sent["ticket"]


def test_the_hard_profile_is_fifteen_clients_made_only_of_hard_cases(hard: Scenario) -> None:
    assert [p.label for p in hard.personas.values()] == [p.label for p in HARD_CASES]
    assert set().union(*(p.hard for p in hard.personas.values())) == set(HardCase)
    assert {p.psa for p in HARD_CASES if p.psa} == {
        Source.connectwise,
        Source.autotask,
        Source.halopsa,
    }
    bands = Counter(hard.truth["health"].values())
    assert bands.keys() == {"green", "yellow", "red"}


def test_a_hard_scenario_is_well_formed_and_every_body_parses(
    hard: Scenario, tmp_path: Path
) -> None:
    write_scenario(tmp_path / "hard", hard.tenant, hard.deliveries, hard.truth)
    files = load_scenario(tmp_path / "hard")
    assert len(files.deliveries) == len(hard.deliveries)
    assert normalise_all(files.tenant, hard.deliveries)


def test_unrelated_alerts_at_the_site_are_no_late_report(hard: Scenario) -> None:
    """A ticket naming only its site, after an alert on another device there that cleared
    within minutes, or a new-laptop request after an alert at its site: not late."""
    site_tickets = [
        t
        for t in hard.records.tickets
        if t.client.id in clients_with(hard, HardCase.site_alerts) and t.site and not t.device
    ]
    late = evidence_refs(hard, Behaviour.late_reporting)
    paired = 0
    for ticket in site_tickets:
        before = [
            a
            for a in hard.records.alerts
            if a.client is ticket.client
            and a.device.site == ticket.site
            and timedelta(hours=4) <= ticket.created_at - a.triggered_at <= timedelta(days=3)
        ]
        quick = [
            a
            for a in before
            if a.resolved_at and a.resolved_at - a.triggered_at <= timedelta(minutes=15)
        ]
        if ticket.nature is Nature.incident and quick:
            paired += 1
        if ticket.nature is Nature.request and before:
            assert concerns_devices(ticket.summary)  # "New laptop for ..."
            paired += 1
        assert ticket.ref not in late
    assert paired >= 3


def test_long_open_alerts_finally_reported_are_late(hard: Scenario) -> None:
    alerts = {a.ref: a for a in hard.records.alerts}
    tickets = {t.ref: t for t in hard.records.tickets}
    signalled = {r for s in hard.truth["signals"] for r in s["evidence"]}
    found = 0
    for item in hard.records.evidence:
        if item.behaviour is not Behaviour.late_reporting or len(item.refs) < 2:
            continue
        ticket, alert = tickets[item.refs[0]], alerts[item.refs[1]]
        if ticket.created_at - alert.triggered_at > timedelta(days=7):
            assert alert.resolved_at is None or alert.resolved_at > ticket.created_at
            assert ticket.ref in signalled
            found += 1
    assert found >= 2


def test_psa_asset_ids_differ_from_rmm_device_ids_and_the_host_name_is_shared(
    hard: Scenario,
) -> None:
    named = [t for t in hard.records.tickets if t.device is not None and t.client_initiated]
    assert {t.source for t in named} == {Source.connectwise, Source.autotask, Source.halopsa}
    for ticket in named:
        device = ticket.device
        assert device is not None
        assert str(device.psa_asset_id) != device.rmm_id
        record = json.dumps(body(ticket, hard))
        assert str(device.psa_asset_id) in record
        assert device.rmm_id not in record
        assert device.hostname in record


def test_unrelated_requests_before_a_silent_device_leave_it_unannounced(hard: Scenario) -> None:
    (client,) = clients_with(hard, HardCase.unrelated_requests)
    changes = [e for e in hard.records.evidence if e.client == client]
    assert changes and all(e.behaviour is Behaviour.unannounced_change for e in changes)
    tickets = [t for t in hard.records.tickets if t.client.id == client]
    unrelated = 0
    for change in changes:
        before = [t for t in tickets if change.at - ANNOUNCE_BLOCK <= t.created_at <= change.at]
        asks = (Nature.request, Nature.change, Nature.project)
        assert not any(t.nature in asks and concerns_devices(t.summary) for t in before)
        unrelated += sum(1 for t in before if t.nature is Nature.request)
    assert unrelated >= 1
    assert any(s["client"] == client for s in hard.truth["signals"])


def test_co_managed_staff_tickets_are_not_direct_to_tech(hard: Scenario) -> None:
    co_managed = [t for t in hard.records.tickets if t.entered_by is EnteredBy.co_managed]
    assert {t.client.id for t in co_managed} == clients_with(hard, HardCase.co_managed)
    direct = evidence_refs(hard, Behaviour.direct_to_tech)
    for ticket in co_managed:
        assert ticket.ref not in direct
        assert ticket.co_managed_by is not None
        login = ticket.co_managed_by.psa_id
        entered = {
            Source.connectwise: lambda r: r["_info"]["enteredBy"],
            Source.autotask: lambda r: str(r["creatorResourceID"]),
            Source.halopsa: lambda r: str(r["takenby"]),
        }[ticket.source](body(ticket, hard))
        assert entered == login
    listed = {c["id"]: c.get("co_managed_staff") for c in hard.tenant["clients"]}
    for client in clients_with(hard, HardCase.co_managed):
        assert bool(listed[client]) is tenant_accepts("co_managed_staff")


def test_technicians_follow_ups_at_the_default_source_are_not_direct_to_tech(
    hard: Scenario,
) -> None:
    follow_ups = [t for t in hard.records.tickets if t.summary.startswith("Follow-up of #")]
    assert {t.client.id for t in follow_ups} == clients_with(hard, HardCase.followups)
    direct = evidence_refs(hard, Behaviour.direct_to_tech)
    for ticket in follow_ups:
        assert ticket.entered_by is EnteredBy.technician
        assert ticket.channel is DEFAULT_CHANNEL
        assert ticket.ref not in direct
        assert hard.truth["work"][ticket.ref] == WorkClass.reactive


def test_halo_sends_integer_picklist_ids_the_tenant_file_maps(hard: Scenario) -> None:
    mappings = hard.tenant["mappings"]["halopsa"]
    tickets = [t for t in hard.records.tickets if t.source is Source.halopsa]
    assert tickets
    for ticket in tickets:
        record = body(ticket, hard)
        assert isinstance(record["source"], int) and isinstance(record["tickettype_id"], int)
        if ticket.channel is not Channel.unknown:
            assert str(record["source"]) in mappings["channel"]["values"]
    assert set(mappings["channel"]["values"]) == {
        str(i) for c, i in HALO_SOURCES.items() if c is not Channel.unknown
    }


def test_german_and_french_picklists_read_back_as_what_was_meant(hard: Scenario) -> None:
    local = {c.id: c.locale for c in hard.clients if c.locale != "en"}
    assert local and set(local.values()) <= {"de", "fr"}
    meant = {t.id: t for t in hard.records.tickets if t.client.id in local}
    tenant = parse_tenant(hard.tenant)
    cw = [d for d in hard.deliveries if d["source"] == "connectwise"]
    read = 0
    for event in normalise_all(tenant, cw):
        payload = event.payload
        if not isinstance(payload, TicketEvent) or int(payload.ticket_id) not in meant:
            continue
        ticket = meant[int(payload.ticket_id)]
        locale = ticket.client.locale
        assert payload.channel is ticket.channel, CW_CHANNELS[locale][ticket.channel]
        assert payload.nature is ticket.nature, CW_TYPES[locale][ticket.nature]
        read += 1
    assert read >= 10


def test_the_tenant_file_says_who_cancelled_when_it_can(hard: Scenario) -> None:
    statuses = hard.tenant["mappings"]["connectwise"]["meeting_status"]["values"]
    sides = tenant_accepts("meeting_sides")
    assert statuses["Cancelled by MSP"] == ("cancelled_by_msp" if sides else "cancelled")
    assert statuses["Von uns abgesagt"] == statuses["Cancelled by MSP"]
    assert statuses["Annulé par le client"] == statuses["Cancelled by Client"]
    parse_tenant(hard.tenant)  # and the file is valid as it is


def test_the_ambiguous_clients_keep_the_truth_their_persona_meant(hard: Scenario) -> None:
    health = hard.truth["health"]
    signalled = {(s["client"], s["behaviour"]) for s in hard.truth["signals"]}
    for client, persona in hard.personas.items():
        if persona.slip is not None:
            assert health[client] == Band.green
            assert not any(c == client for c, _ in signalled)
            assert any(e.client == client and not e.habit for e in hard.records.evidence)
        if persona.at_threshold:
            assert health[client] == Band.yellow
            assert (client, "direct_to_tech") in signalled
        if persona.silent:
            assert health[client] == Band.green
            assert not any(t.client.id == client for t in hard.records.tickets)
        if persona.severe:
            assert health[client] == Band.red


def test_once_the_tenant_file_accepts_them_the_issue_12_settings_are_written(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Co-managed staff per client, and meeting statuses that say who cancelled, under the
    names agreed with the tenant file's owners."""
    from services.scenario import simulate as simulate_module
    from services.scenario import world

    monkeypatch.setattr(world, "tenant_accepts", lambda setting: True)
    monkeypatch.setattr(simulate_module, "tenant_accepts", lambda setting: True)
    s = simulate(SimulationConfig(clients=6, days=20, seed=2, profile="hard"))
    (entry,) = [c for c in s.tenant["clients"] if c.get("co_managed_staff")]
    client = next(c for c in s.clients if c.id == entry["id"])
    (staff,) = client.co_managed_staff
    assert entry["co_managed_staff"] == [
        {"email": staff.email, "psa_ids": {str(client.psa): [staff.psa_id]}}
    ]
    statuses = s.tenant["mappings"]["connectwise"]["meeting_status"]
    assert statuses["values"]["Cancelled by MSP"] == "cancelled_by_msp"
    assert statuses["values"]["Vom Kunden abgesagt"] == "cancelled_by_client"
    assert statuses["default"] == "scheduled"


def test_technicians_next_steps_of_desk_tickets_are_not_direct_to_tech(hard: Scenario) -> None:
    """A technician opening the next step of a client's desk ticket himself (no follow-up
    word, no link) continues work that came in through the desk; its truth says so."""
    next_steps = {t.ref: t for t in hard.records.tickets if t.summary in NEXT_STEPS.values()}
    assert next_steps, "the hard profile plays technicians' next steps"
    assert {t.client.id for t in next_steps.values()} <= clients_with(hard, HardCase.followups)
    direct = evidence_refs(hard, Behaviour.direct_to_tech)
    desk = {
        t.summary: t
        for t in hard.records.tickets
        if t.entered_by is EnteredBy.intake and t.summary in NEXT_STEPS
    }
    for ticket in next_steps.values():
        assert ticket.entered_by is EnteredBy.technician
        assert ticket.channel is DEFAULT_CHANNEL
        assert "follow" not in ticket.summary.lower()
        assert ticket.ref not in direct
        assert hard.truth["work"][ticket.ref] == WorkClass.reactive  # the client's request
    parents = [
        s for s, step in NEXT_STEPS.items() if any(t.summary == step for t in next_steps.values())
    ]
    assert all(p in desk for p in parents)
