"""Unannounced change: the announcing ticket must concern the change (issue 12, cause 4).

A change or project ticket, or a procurement / onboarding request, that names the device,
its type, its user or the tool; when the RMM reports nothing a ticket could have named
(no type, user or tool), such a ticket in the window is enough. Any unrelated request in
the 7 days before hides nothing.
"""

from __future__ import annotations

from typing import Any

from services.classifier.domain.detectors import unannounced_change
from services.classifier.domain.engine import Engine
from services.events.policy import ClassifierPolicy
from services.events.tenant import Tenant

from .conftest import Feed
from .factory import alert, at, device_change, ticket


def flagged(feed: Feed, policy: ClassifierPolicy) -> list[str]:
    return sorted(f.ref for f in unannounced_change(feed.state, policy, feed.watermark))


def with_change(policy: ClassifierPolicy, **changes: Any) -> ClassifierPolicy:
    p = policy.detectors.unannounced_change.model_copy(update=changes)
    detectors = policy.detectors.model_copy(update={"unannounced_change": p})
    return policy.model_copy(update={"detectors": detectors})


def test_an_unrelated_request_does_not_announce_a_new_device(feed: Feed, tenant: Tenant) -> None:
    feed(
        ticket("1", at(0), nature="request", summary="Reset my password"),
        device_change("c1", at(2)),  # nothing the RMM reports could be named: still not this
        device_change("c2", at(3), device_type="Laptop", last_user="ACME\\jane.doe"),
    )
    assert flagged(feed, tenant.classifier) == ["ninjaone:device:c1", "ninjaone:device:c2"]


def test_a_procurement_request_naming_the_type_announces_it(feed: Feed, tenant: Tenant) -> None:
    feed(
        ticket("1", at(0), nature="request", summary="Please order a new laptop for reception"),
        device_change("c1", at(4), device_type="WINDOWS_WORKSTATION"),
        device_change("c2", at(5), device_type="Printer"),  # the ticket named a laptop
    )
    assert flagged(feed, tenant.classifier) == ["ninjaone:device:c2"]


def test_onboarding_naming_the_user_announces_their_device(feed: Feed, tenant: Tenant) -> None:
    feed(
        ticket("1", at(0), nature="request", summary="Neuer Mitarbeiter: Jane Doe ab Montag"),
        device_change("c1", at(3), device_type="Server", last_user="jane.doe@acme.example"),
    )
    assert flagged(feed, tenant.classifier) == []


def test_a_change_ticket_about_something_else_does_not_announce(feed: Feed, tenant: Tenant) -> None:
    feed(
        ticket("1", at(0), nature="change", summary="Open port 443 on the firewall for the ERP"),
        device_change("c1", at(2), device_type="Laptop"),
        device_change("c2", at(2), change="new_remote_tool", tool="AnyDesk"),
    )
    assert flagged(feed, tenant.classifier) == ["ninjaone:device:c1", "ninjaone:device:c2"]


def test_a_change_ticket_naming_the_tool_or_the_host_announces(feed: Feed, tenant: Tenant) -> None:
    feed(
        ticket("1", at(0), nature="change", summary="Install AnyDesk for the ERP vendor"),
        device_change("c1", at(2), change="new_remote_tool", tool="AnyDesk 8.0"),
        ticket("2", at(10), nature="project", summary="Stage PC-SALES-04 for Bob"),
        device_change("c2", at(12), device_name="pc-sales-04.acme.local", device_type="Desktop"),
    )
    assert flagged(feed, tenant.classifier) == []


def test_a_device_that_cannot_be_named_is_announced_by_a_change_in_the_window(
    feed: Feed, tenant: Tenant
) -> None:
    feed(
        ticket("1", at(0), nature="change", summary="Replace the reception PC"),
        device_change("c1", at(5)),  # no type, no user: a change ticket in the window is enough
        device_change("c2", at(9)),  # 9 days later: beyond the window
    )
    assert flagged(feed, tenant.classifier) == ["ninjaone:device:c2"]


def test_the_tenant_says_which_words_make_a_request_a_procurement(
    feed: Feed, tenant: Tenant
) -> None:
    feed(
        ticket("1", at(0), nature="request", summary="Materialanforderung Arbeitsplatz Empfang"),
        device_change("c1", at(2), device_type="Desktop"),
    )
    assert flagged(feed, tenant.classifier) == ["ninjaone:device:c1"]
    words = [*tenant.classifier.detectors.unannounced_change.procurement_terms, "anforderung"]
    assert flagged(feed, with_change(tenant.classifier, procurement_terms=words)) == [
        "ninjaone:device:c1"  # whole words: "materialanforderung" is not "anforderung"
    ]
    words.append("materialanforderung")
    assert flagged(feed, with_change(tenant.classifier, procurement_terms=words)) == []


def test_devices_added_silently_every_few_weeks_are_one_habit(engine: Engine) -> None:
    """New devices come every few weeks to months: five weeks without one says nothing of
    whether the next will be announced. One episode (one signal), not one per device; it
    ends after a quarter with no unannounced change."""
    feed = Feed(engine)(*(device_change(f"c{i}", at(i * 35)) for i in range(3)))
    judged = engine.judge(feed.state, "t", feed.watermark, 0).view
    assert [(s.evidence_count, s.status) for s in judged.signals] == [(3, "open")]
    feed(ticket("later", at(70 + 91), nature="request", summary="Printer jam"))
    later = engine.judge(feed.state, "t", feed.watermark, 0).view
    assert [s.status for s in later.signals] == ["resolved"]


def test_a_device_the_msp_already_knew_by_name_is_no_new_device(feed: Feed, tenant: Tenant) -> None:
    """An agent reinstalled on a workstation that had alerted before, or a workstation
    replaced under the name of the one an incident ticket named: a new RMM device id,
    not a device the client added without telling anyone. A remote-access tool appearing
    on a known device is still a change."""
    feed(
        alert("a1", at(0), device="ws-20"),
        ticket("1", at(1), devices=["ws-07"], summary="WS-07 will not boot"),
        device_change("c1", at(5), device_name="WS-20"),
        device_change("c2", at(6), device_name="WS-07"),
        device_change("c3", at(7), device_name="WS-99"),
        device_change("c4", at(8), change="new_remote_tool", tool="AnyDesk", device_name="WS-20"),
    )
    assert flagged(feed, tenant.classifier) == ["ninjaone:device:c3", "ninjaone:device:c4"]


def test_an_order_naming_the_user_announces_a_device_arriving_weeks_later(
    feed: Feed, tenant: Tenant
) -> None:
    """Hardware ordered for a named user arrives weeks after the order: a ticket that
    names the user (or the device, or the tool) announces it for `named_announce_days`;
    one that only names the type ("a new PC") only for `announce_days`."""
    feed(
        ticket("1", at(0), nature="request", summary="Bestellung: Laptop für Jane Doe"),
        device_change("c1", at(21), device_type="Laptop", last_user="ACME\\jane.doe"),
        ticket("2", at(30), nature="request", summary="Please order a new PC"),
        device_change("c2", at(51), device_type="Desktop", last_user="ACME\\max.roe"),
    )
    assert flagged(feed, tenant.classifier) == ["ninjaone:device:c2"]


def test_a_verdict_does_not_turn_when_the_records_that_decided_it_are_pruned(
    engine: Engine, tenant: Tenant
) -> None:
    """Found on a year-long scenario: a laptop ordered on a ticket naming it arrived four
    days later, announced; months on, the weekly prune dropped the ticket's day and kept
    the device's, the change was judged again, now unannounced, and a signal was raised
    about April in August. The state keeps what a detector reads before its evidence
    (`Engine.context`) as long as that evidence is judged, so the verdict stands until
    the change itself ages out of judging, and no signal is ever raised for it. (The
    prune is weekly: over a week of start days, one puts its boundary between the two.)"""
    for shift in range(7):
        feed = Feed(engine)
        feed(
            ticket("1", at(shift), nature="request", summary="New laptop for Jamie: PC-0147"),
            device_change(
                "c1", at(shift + 5), device_type="WINDOWS_WORKSTATION", device_name="PC-0147"
            ),
        )
        raised = []
        # Event time moves on, a ticket a day, judged as the agent does, until the change
        # is far past every window.
        for day in range(12, round(engine.retention / 86400) + 60):
            feed(ticket(f"q{day}", at(day), nature="incident", summary="Printer jam"))
            judgement = engine.judge(feed.state, "t", feed.watermark, feed.watermark)
            raised += [s for s in judgement.signals if s.behaviour == "unannounced_change"]
        assert "ninjaone:device:c1" not in {c.ref for c in feed.state.changes.values()}
        assert raised == [], f"start day {shift}"
