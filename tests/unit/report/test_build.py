"""What the report says, from a state the classifier's engine built on canonical events."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.classifier.domain.engine import Engine
from services.events.models import CanonicalEvent
from services.events.tenant import Tenant, load_tenant
from services.report.build import build_report
from services.report.model import Period, Report
from services.report.period import between, quarter
from tests.unit.classifier import factory as f
from tests.unit.classifier.conftest import FIXTURES
from tests.unit.report.support import OUTAGE, PATCH, state_of


@pytest.fixture(scope="module")
def tenant() -> Tenant:
    return load_tenant(FIXTURES / "tenant.yaml")


def period(text: str) -> Period:
    p = quarter(text) if "Q" in text else between(*text.split("/"))
    assert isinstance(p, Period)
    return p


def report(tenant: Tenant, p: str, *events: CanonicalEvent) -> Report:
    client = tenant.client("acme")
    assert client is not None
    return build_report(state_of(tenant, *events), tenant, client, period(p))


def test_every_visit_with_its_class_and_why_in_plain_words(tenant: Tenant) -> None:
    r = report(
        tenant,
        "2026Q1",
        PATCH,
        f.visit("v1", f.at(3), booked=f.at(-11), ticket_id="100"),
        OUTAGE,
        f.visit("v2", f.at(5, 2), booked=f.at(5), ticket_id="101", location="remote"),
        f.visit("v3", f.at(9), booked=f.at(-5)),  # no ticket: booked ahead
    )
    rows = [(v.at.date().isoformat(), v.location, v.work_class, v.why, v.ticket) for v in r.visits]
    assert rows == [
        ("2026-03-05", "onsite", "proactive", "planned maintenance, booked 14 days ahead",
         "#100 Patch cycle"),
        ("2026-03-07", "remote", "reactive", "a reported problem", "#101 Printer down"),
        ("2026-03-11", "onsite", "proactive", "a planned visit, booked 14 days ahead", None),
    ]  # fmt: skip
    assert (r.totals.visits_proactive, r.totals.visits_reactive) == (2, 1)
    assert (r.totals.visits_onsite, r.totals.visits_remote) == (2, 1)
    assert all(v.technician == "stech" for v in r.visits)


def test_hours_and_visits_per_month_and_rhem_against_the_target(tenant: Tenant) -> None:
    r = report(
        tenant,
        "2026-02-15/2026-04-15",
        PATCH,
        OUTAGE,
        f.time_entry("t1", f.at(1), 4.0, ticket_id="100"),
        f.time_entry("t2", f.at(5), 2.0, ticket_id="101"),
        f.time_entry("t3", f.at(31), 6.0, ticket_id="101"),  # 2026-04-01
    )
    months = {m.month: (m.hours_proactive, m.hours_reactive, m.tickets) for m in r.months}
    assert months == {"2026-02": (0, 0, 0), "2026-03": (4.0, 2.0, 2), "2026-04": (0, 6.0, 0)}
    endpoints = 40  # the tenant file's
    march = next(m for m in r.months if m.month == "2026-03")
    assert march.rhem == pytest.approx(2.0 / endpoints / (31 / 30), abs=1e-4)
    assert r.totals.rhem == pytest.approx(8.0 / endpoints / (60 / 30), abs=1e-4)
    assert r.totals.rhem_target == tenant.classifier.health.rhem_target
    assert r.totals.proactive_share == pytest.approx(4 / 12, abs=1e-4)


def test_work_done_without_being_asked(tenant: Tenant) -> None:
    found = f.ticket("102", f.at(2), nature="incident", channel="monitoring", summary="Disk full")
    r = report(
        tenant,
        "2026Q1",
        PATCH,
        found,
        OUTAGE,
        f.time_entry("t1", f.at(2), 1.5, ticket_id="102"),
        f.alert("a1", f.at(1)),
        f.alert("a1", f.at(1, 3), status="resolved"),
        f.alert("a2", f.at(4)),
    )
    assert [(u.kind, u.what, u.hours) for u in r.unasked] == [
        ("patching", "#100 Patch cycle", 0.0),
        ("monitoring", "#102 Disk full", 1.5),
    ]
    assert (r.alerts_seen, r.alerts_resolved) == (2, 1)


def test_recommendations_presented_answered_and_overdue_with_their_age(tenant: Tenant) -> None:
    r = report(
        tenant,
        "2026Q1",
        f.recommendation("r1", f.at(0), status="accepted", answered=f.at(6)),
        f.recommendation("r2", f.at(0), status="declined", answered=f.at(2)),
        f.recommendation("r3", f.at(1), due=f.at(10)),  # open, past due by the end
        f.recommendation("r4", f.at(20)),  # open, due 30 days after presentation
        f.ticket("103", f.at(25), nature="request"),  # event time moves on to 27 March
    )
    lines = {rec.title.split()[-1]: (rec.status, rec.age_days) for rec in r.recommendations}
    assert lines == {
        "r1": ("accepted", 6),
        "r2": ("declined", 2),
        "r3": ("overdue", 24),
        "r4": ("open", 5),
    }
    counts = r.recommendation_counts
    assert (counts["presented"], counts["accepted"], counts["declined"]) == (4, 1, 1)
    assert (counts["overdue"], counts["open"]) == (1, 1)
    assert [h.behaviour for h in r.habits] == ["ignored_recommendation"]
    assert len(r.habits[0].evidence) == 2  # the declined one and the overdue one


def test_a_habit_is_phrased_constructively_with_its_evidence(tenant: Tenant) -> None:
    tech = f.person("stech", f.IdentityRole.technician)
    direct = [
        f.ticket(str(200 + i), f.at(i), nature="request", channel="phone", entered_by=tech)
        for i in range(3)
    ]
    r = report(tenant, "2026Q1", *direct)
    (habit,) = r.habits
    assert habit.behaviour == "direct_to_tech"
    assert habit.title == "Requests through the service desk"
    assert habit.text.startswith("3 requests went straight to a technician")
    assert "service desk" in habit.text
    assert [e.ref for e in habit.evidence] == [f"connectwise:ticket:{200 + i}" for i in range(3)]


def test_only_the_period_counts_and_an_old_period_says_what_is_kept(tenant: Tenant) -> None:
    events = (PATCH, f.visit("v1", f.at(3), booked=f.at(-11), ticket_id="100"), OUTAGE)
    before = report(tenant, "2025Q4", *events)
    assert before.visits == [] and before.totals.tickets == 0
    assert before.notes[0] == "No activity was recorded for this period."
    year = report(tenant, "2026-01-01/2026-03-31", *events)
    assert year.totals.tickets == 2
    assert year.notes[0] == "The first records of this client are of 2026-02-19."  # the booking
    later = f.ticket("400", f.at(240), nature="incident")  # 2026-10-28: March is past retention
    half = report(tenant, "2026-01-01/2026-10-31", *events, later)
    days = round(Engine(tenant).retention / 86400)
    assert half.notes[0].startswith(f"partnerpulse keeps about {days} days of detailed records")
    assert half.totals.tickets == 1  # what is left


def test_the_same_report_whenever_it_is_made(tenant: Tenant) -> None:
    """Event time only: the build reads no clock, so a past period's report never moves."""
    events = (PATCH, OUTAGE, f.time_entry("t1", f.at(1), 4.0, ticket_id="100"))
    first = report(tenant, "2026Q1", *events)
    later = report(tenant, "2026Q1", *events, f.ticket("300", f.at(40), nature="incident"))
    assert first.totals == later.totals  # a ticket after the period changes nothing in it
    assert first.as_of == datetime(2026, 3, 7, 9, tzinfo=UTC)
    assert later.as_of == datetime(2026, 3, 7, 9, tzinfo=UTC)


def test_the_health_trend_is_the_daily_scores_of_the_period(tenant: Tenant) -> None:
    state = state_of(tenant, PATCH, OUTAGE)
    day = int(f.at(5).timestamp() // 86400)
    state.health.daily_scores.update({str(day - 1): 90.0, str(day): 55.0, str(day + 60): 20.0})
    client = tenant.client("acme")
    assert client is not None
    r = build_report(state, tenant, client, period("2026Q1"))
    assert [(d.isoformat(), s) for d, s in r.health] == [("2026-03-06", 90.0), ("2026-03-07", 55.0)]
    assert (r.health_now, r.band_now) == (55.0, "yellow")  # the period's last day, its band


def test_evidence_whose_context_is_pruned_is_no_habit(tenant: Tenant) -> None:
    """The classifier no longer judges evidence older than what its look-back still holds
    (`Engine.judged_from`): a device announced by a ticket whose day has been pruned is
    not an unannounced change in an old period's report either."""
    order = f.ticket("1", f.at(0), nature="request", summary="New laptop for Jamie: PC-0147")
    laptop = f.device_change(
        "c1", f.at(5), device_type="WINDOWS_WORKSTATION", device_name="PC-0147"
    )
    march = "2026-03-01/2026-03-31"
    assert report(tenant, march, order, laptop).habits == []  # announced
    days = round(Engine(tenant).retention / 86400)
    # Months later: the prune's horizon falls between the ticket's day and the laptop's.
    later = f.ticket("400", f.at(days + 3), nature="incident", summary="Printer jam")
    state = state_of(tenant, order, laptop, later)
    assert "connectwise:ticket:1" not in state.tickets
    assert "ninjaone:device:c1" in state.changes
    assert report(tenant, march, order, laptop, later).habits == []
