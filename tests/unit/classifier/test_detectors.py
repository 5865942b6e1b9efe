"""The five detectors, their thresholds from the tenant policy, and episodes."""

from __future__ import annotations

from services.classifier.domain.detectors import (
    direct_to_tech,
    ignored_recommendation,
    late_reporting,
    skipped_meeting,
    unannounced_change,
)
from services.classifier.domain.engine import Engine
from services.events.outputs import Behaviour
from services.events.tenant import Tenant

from .conftest import Feed
from .factory import (
    DESK,
    RMM,
    TECH,
    alert,
    at,
    device_change,
    meeting,
    person,
    recommendation,
    ticket,
    time_entry,
)


def refs(found: list) -> list[str]:  # type: ignore[type-arg]
    return sorted(f.ref for f in found)


def judge_signals(feed: Feed) -> dict[Behaviour, list[str]]:
    j = feed.engine.judge(feed.state, "t", feed.watermark, feed.watermark)
    out: dict[Behaviour, list[str]] = {}
    for s in j.view.open_signals:
        out.setdefault(s.behaviour, []).extend(e.ref for e in s.evidence)
    return out


# -- direct_to_tech --------------------------------------------------------------


def test_direct_to_tech_evidence(feed: Feed, tenant: Tenant) -> None:
    from services.events.models import IdentityRole

    feed(
        ticket("1", at(0), channel="phone", entered_by=TECH),
        ticket("2", at(1), channel="direct_email", entered_by=DESK),
        ticket("3", at(2), entered_by=DESK, addressed_to=person("stech", IdentityRole.technician)),
        time_entry("t1", at(3), 1.0),  # no ticket
        ticket("4", at(4), channel="email", entered_by=DESK),  # the intake path: fine
        time_entry("t2", at(4), 1.0, ticket_id="4"),
    )
    found = direct_to_tech(feed.state, tenant.classifier, feed.watermark)
    assert refs(found) == [
        "connectwise:ticket:1",
        "connectwise:ticket:2",
        "connectwise:ticket:3",
        "connectwise:time:t1",
    ]


def test_one_direct_request_is_not_a_habit(feed: Feed) -> None:
    feed(ticket("1", at(0), channel="phone", entered_by=TECH))
    assert judge_signals(feed) == {}
    feed(ticket("2", at(40), channel="phone", entered_by=TECH))  # 40 days later: still isolated
    assert judge_signals(feed) == {}
    feed(ticket("3", at(45), channel="phone", entered_by=TECH))
    # Ticket 1 lies beyond the 30-day episode gap: the habit started with ticket 2.
    assert judge_signals(feed) == {
        Behaviour.direct_to_tech: ["connectwise:ticket:2", "connectwise:ticket:3"]
    }


def test_time_logged_for_unknown_client_is_not_direct(engine: Engine, tenant: Tenant) -> None:
    feed = Feed(engine, "unknown:connectwise:none")
    feed(time_entry("t1", at(0), 1.0, client="unknown:connectwise:none", known=False))
    assert direct_to_tech(feed.state, tenant.classifier, feed.watermark) == []


# -- late_reporting --------------------------------------------------------------


def test_alert_on_same_device_hours_before_the_ticket(feed: Feed, tenant: Tenant) -> None:
    feed(
        alert("a1", at(0), device="dev-1"),
        ticket("1", at(0, 6), devices=["DEV-1"]),  # 6 h later: late
        alert("a2", at(2), device="dev-2"),
        ticket("2", at(2, 1), devices=["dev-2"]),  # 1 h: under the 4 h threshold
        alert("a3", at(4), device="dev-3"),
        ticket("3", at(4, 8), devices=["dev-9"]),  # another device
        alert("a4", at(10), device="dev-4"),
        alert("a4", at(11), device="dev-4", status="resolved"),
        ticket("4", at(20), devices=["dev-4"]),  # resolved, and beyond the 7-day look-back
    )
    assert refs(late_reporting(feed.state, tenant.classifier, feed.watermark)) == [
        "connectwise:ticket:1"
    ]


def test_alert_arriving_after_its_ticket_still_counts(feed: Feed, tenant: Tenant) -> None:
    feed(ticket("1", at(1), devices=["dev-1"]), alert("a1", at(0), device="dev-1"))
    assert refs(late_reporting(feed.state, tenant.classifier, feed.watermark)) == [
        "connectwise:ticket:1"
    ]


def test_rmm_raised_ticket_is_never_late(feed: Feed, tenant: Tenant) -> None:
    feed(
        alert("a1", at(0), device="dev-1"),
        ticket("1", at(1), devices=["dev-1"], channel="monitoring", entered_by=RMM),
    )
    assert late_reporting(feed.state, tenant.classifier, feed.watermark) == []


def test_issue_started_long_before_and_critical_after_quiet(feed: Feed, tenant: Tenant) -> None:
    feed(
        ticket("1", at(0), issue_started=at(-3)),  # started 3 days before
        ticket("2", at(1), issue_started=at(1, -2)),  # 2 h: fine
        ticket("3", at(30), priority="critical"),  # first contact after 29 quiet days
        ticket("4", at(31), priority="critical"),  # the day after: not after a quiet period
    )
    assert refs(late_reporting(feed.state, tenant.classifier, feed.watermark)) == [
        "connectwise:ticket:1",
        "connectwise:ticket:3",
    ]


def test_site_matches_when_the_ticket_names_no_device(feed: Feed, tenant: Tenant) -> None:
    feed(
        alert("a1", at(0), site="Main Office", message="Internet link down at Main Office"),
        ticket("1", at(1), site="main office", summary="No internet since yesterday"),
    )
    assert refs(late_reporting(feed.state, tenant.classifier, feed.watermark)) == [
        "connectwise:ticket:1"
    ]


# -- skipped_meeting -------------------------------------------------------------


def test_skipped_meetings(feed: Feed, tenant: Tenant) -> None:
    feed(
        meeting("m1", at(10), status="no_show"),
        meeting("m2", at(20), status="cancelled", changed=at(19, 20)),  # 4 h notice
        meeting("m3", at(30), status="cancelled", changed=at(25)),  # 5 days notice: fine
        meeting("m4", at(40), status="cancelled", changed=at(40, -1), cancelled_by="technician"),
        meeting("m5", at(50), status="held"),
    )
    assert refs(skipped_meeting(feed.state, tenant.classifier, feed.watermark)) == [
        "connectwise:schedule:m1",
        "connectwise:schedule:m2",
    ]


def test_repeated_client_reschedules(feed: Feed, tenant: Tenant) -> None:
    feed(meeting("m1", at(10), status="rescheduled", changed=at(5)))
    assert skipped_meeting(feed.state, tenant.classifier, feed.watermark) == []
    feed(meeting("m1", at(12), status="rescheduled", changed=at(9)))
    feed(meeting("m1", at(12), status="rescheduled", changed=at(9)))  # redelivered: same event
    assert feed.state.meetings["connectwise:schedule:m1"].client_reschedules == 2
    assert refs(skipped_meeting(feed.state, tenant.classifier, feed.watermark)) == [
        "connectwise:schedule:m1"
    ]


# -- ignored_recommendation ------------------------------------------------------


def test_declined_and_overdue_recommendations(feed: Feed, tenant: Tenant) -> None:
    feed(
        recommendation("r1", at(0), status="declined", answered=at(3)),
        recommendation("r2", at(0), due=at(10)),
        recommendation("r3", at(0), due=at(100)),  # not yet due
        recommendation("r4", at(0)),  # no due date: presented + 30 days
        recommendation("r5", at(0), due=at(5)),
        recommendation("r5", at(0), status="accepted", answered=at(4), due=at(5)),
    )
    feed.watermark = at(20).timestamp()
    assert refs(ignored_recommendation(feed.state, tenant.classifier, feed.watermark)) == [
        "canonical:recommendation:r1",
        "canonical:recommendation:r2",
    ]
    feed.watermark = at(31).timestamp()  # event time moves on: r4 is now overdue
    assert "canonical:recommendation:r4" in refs(
        ignored_recommendation(feed.state, tenant.classifier, feed.watermark)
    )


# -- unannounced_change ----------------------------------------------------------


def test_unannounced_devices_and_tools(feed: Feed, tenant: Tenant) -> None:
    feed(
        ticket("1", at(0), nature="request", summary="Quote for a new laptop"),
        device_change("c1", at(3)),  # announced
        device_change("c2", at(20)),  # nothing asked in the 7 days before
        device_change("c3", at(21), change="new_remote_tool", tool="AnyDesk"),
        device_change("c4", at(22), change="removed_agent"),
    )
    assert refs(unannounced_change(feed.state, tenant.classifier, feed.watermark)) == [
        "ninjaone:device:c2",
        "ninjaone:device:c3",
    ]


def test_late_change_ticket_withdraws_the_signal(feed: Feed) -> None:
    feed(device_change("c1", at(10)))
    first = feed.engine.judge(feed.state, "t", feed.watermark, 0)
    assert [s.status for s in first.signals] == ["open"]
    feed(ticket("1", at(8), nature="change"))  # arrives late, created 2 days before the device
    second = feed.engine.judge(feed.state, "t", feed.watermark, 0)
    assert [(s.signal_id, s.status) for s in second.signals] == [
        (first.signals[0].signal_id, "withdrawn")
    ]


# -- a partner raises nothing ----------------------------------------------------


def test_partner_like_client_raises_nothing(feed: Feed) -> None:
    for week in range(12):
        d = week * 7
        feed(
            ticket(f"m{week}", at(d), nature="maintenance", channel="scheduled", entered_by=RMM),
            time_entry(f"tm{week}", at(d, 1), 2.0, ticket_id=f"m{week}"),
            ticket(f"i{week}", at(d + 2), nature="incident", channel="portal", entered_by=DESK),
            time_entry(f"ti{week}", at(d + 2, 1), 0.5, ticket_id=f"i{week}"),
            alert(f"a{week}", at(d + 3), device=f"dev-{week}"),
            ticket(
                f"r{week}",
                at(d + 3, 1),
                devices=[f"dev-{week}"],
                channel="monitoring",
                entered_by=RMM,
            ),
        )
        if week % 4 == 0:
            feed(meeting(f"q{week}", at(d + 4), status="held"))
    feed(
        ticket("req", at(60), nature="request", summary="Please order a new PC for reception"),
        device_change("c1", at(62)),
    )
    feed(recommendation("rec", at(10), status="accepted", answered=at(12)))
    j = feed.engine.judge(feed.state, "t", feed.watermark, 0)
    assert j.signals == [] and j.view.open_signals == []
    assert j.view.band == "green"
