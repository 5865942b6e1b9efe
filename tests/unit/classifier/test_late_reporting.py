"""Late reporting: the alert and the ticket must plausibly concern the same problem.

Issue 12, causes 1-3: an alert on another device, an alert reset minutes after it fired,
and a service request are not a problem the client sat on; an alert still open when the
client reports it counts however old it is; a PSA's asset ids never equal an RMM's
device ids, so "the same device" is decided on hostname, serial or the integration link.
"""

from __future__ import annotations

from typing import Any

from services.classifier.domain.detectors import late_reporting
from services.events.policy import ClassifierPolicy, DeviceIdentityPolicy
from services.events.tenant import Tenant

from .conftest import Feed
from .factory import TECH, alert, at, ticket


def late(feed: Feed, policy: ClassifierPolicy) -> list[str]:
    return sorted(f.ref for f in late_reporting(feed.state, policy, feed.watermark))


def with_late(policy: ClassifierPolicy, **changes: Any) -> ClassifierPolicy:
    detectors = policy.detectors.model_copy(
        update={"late_reporting": policy.detectors.late_reporting.model_copy(update=changes)}
    )
    return policy.model_copy(update={"detectors": detectors})


def with_identity(policy: ClassifierPolicy, **changes: Any) -> ClassifierPolicy:
    identity = DeviceIdentityPolicy.model_validate(policy.device_identity.model_dump() | changes)
    return policy.model_copy(update={"device_identity": identity})


# -- the same problem: device beats site ---------------------------------------------


def test_an_alert_on_another_device_at_the_same_site_is_not_the_problem(
    feed: Feed, tenant: Tenant
) -> None:
    feed(
        alert("a1", at(0), device="pc-01", site="HQ"),
        ticket("1", at(1), devices=["pc-02"], site="hq", summary="disk failing on pc-02"),
    )
    assert late(feed, tenant.classifier) == []


def test_at_the_same_site_only_an_alert_about_the_same_topic_counts(
    feed: Feed, tenant: Tenant
) -> None:
    feed(
        alert("a1", at(0), device="fs-01", site="HQ", message="Disk C: 97% full", category="Disk"),
        ticket("1", at(1), site="hq", summary="The printer on floor 2 jams"),  # unrelated
        alert("a2", at(10), device="fw-01", site="HQ", message="WAN link unreachable"),
        ticket("2", at(11), site="hq", summary="Kein Internet seit gestern"),  # same topic
    )
    assert late(feed, tenant.classifier) == ["connectwise:ticket:2"]
    found = late_reporting(feed.state, tenant.classifier, feed.watermark)
    assert "at the same site, about network" in found[0].note


def test_site_level_matching_is_a_tenant_option(feed: Feed, tenant: Tenant) -> None:
    feed(
        alert("a1", at(0), site="HQ", message="Disk C: 97% full"),
        ticket("1", at(1), site="hq", summary="The printer jams"),
    )
    assert late(feed, with_late(tenant.classifier, site_match="any")) == ["connectwise:ticket:1"]
    feed(ticket("2", at(2), site="hq", summary="Disk full"))
    assert late(feed, with_late(tenant.classifier, site_match="off")) == []


def test_a_ticket_naming_a_device_never_falls_back_to_the_site(feed: Feed, tenant: Tenant) -> None:
    feed(
        alert("a1", at(0), device="pc-01", site="HQ", message="Network down"),
        ticket("1", at(1), devices=["pc-02"], site="hq", summary="Network down"),
    )
    assert late(feed, with_late(tenant.classifier, site_match="any")) == []


# -- a reset within minutes is no problem the client sat on -----------------------------


def test_an_alert_reset_within_30_minutes_does_not_count(feed: Feed, tenant: Tenant) -> None:
    feed(
        alert("a1", at(0), device="pc-01"),
        alert("a1", at(0, 0.25), device="pc-01", status="resolved"),  # 15 min: a blip
        ticket("1", at(1), devices=["pc-01"]),
        alert("a2", at(5), device="pc-02"),
        alert("a2", at(5, 3), device="pc-02", status="resolved"),  # 3 h: a real problem
        ticket("2", at(6), devices=["pc-02"]),
    )
    assert late(feed, tenant.classifier) == ["connectwise:ticket:2"]
    # The duration is the tenant's: with 10 minutes, the 15-minute alert counts too.
    assert late(feed, with_late(tenant.classifier, transient_alert_minutes=10)) == [
        "connectwise:ticket:1",
        "connectwise:ticket:2",
    ]


def test_a_reset_arriving_before_its_trigger_still_ends_the_alert(
    feed: Feed, tenant: Tenant
) -> None:
    feed(
        alert("a1", at(0, 0.1), device="pc-01", status="resolved"),
        alert("a1", at(0), device="pc-01"),
        ticket("1", at(1), devices=["pc-01"]),
    )
    assert feed.state.alerts["ninjaone:alert:a1"].resolved == at(0, 0.1).timestamp()
    assert late(feed, tenant.classifier) == []


# -- only a problem report can be late -------------------------------------------------


def test_a_service_request_or_change_is_never_late_reporting(feed: Feed, tenant: Tenant) -> None:
    feed(alert("a1", at(0), device="pc-01"))
    for n, nature in enumerate(("request", "change", "maintenance", "project")):
        feed(ticket(f"r{n}", at(1, n), devices=["pc-01"], nature=nature, summary="New laptop"))
    feed(ticket("u1", at(2), devices=["pc-01"], nature="unknown", summary="Install Office"))
    assert late(feed, tenant.classifier) == []


def test_an_unknown_nature_with_reactive_signs_can_be_late(feed: Feed, tenant: Tenant) -> None:
    feed(
        alert("a1", at(0), device="pc-01"),
        ticket(
            "1", at(1), devices=["pc-01"], nature="unknown", summary="Outlook funktioniert nicht"
        ),
        ticket("2", at(1, 1), devices=["pc-01"], nature="unknown", priority="high"),
        ticket("3", at(1, 2), devices=["pc-01"], nature="problem"),
    )
    assert late(feed, tenant.classifier) == [
        "connectwise:ticket:1",
        "connectwise:ticket:2",
        "connectwise:ticket:3",
    ]


def test_a_critical_service_request_after_quiet_is_not_late(feed: Feed, tenant: Tenant) -> None:
    feed(
        ticket("1", at(0)),
        ticket("2", at(30), priority="critical", nature="request", summary="New starter"),
    )
    assert late(feed, tenant.classifier) == []


# -- an alert still open counts however old ----------------------------------------


def test_an_alert_still_open_when_the_client_reports_counts_however_old(
    feed: Feed, tenant: Tenant
) -> None:
    feed(
        alert("a1", at(0), device="pc-01"),  # never reset
        ticket("1", at(20), devices=["pc-01"]),  # 20 days later
    )
    [found] = late_reporting(feed.state, tenant.classifier, feed.watermark)
    assert found.ref == "connectwise:ticket:1"
    assert "480 h earlier" in found.note and "still open" in found.note


def test_a_resolved_alert_counts_only_within_the_window(feed: Feed, tenant: Tenant) -> None:
    feed(
        alert("a1", at(0), device="pc-01"),
        alert("a1", at(3), device="pc-01", status="resolved"),  # resolved before the ticket
        ticket("1", at(20), devices=["pc-01"]),
        alert("a2", at(30), device="pc-02"),
        alert("a2", at(51), device="pc-02", status="resolved"),  # resolved after the ticket
        ticket("2", at(50), devices=["pc-02"]),
    )
    assert late(feed, tenant.classifier) == ["connectwise:ticket:2"]


# -- device identity across PSA and RMM ---------------------------------------------


def test_a_psa_asset_id_never_matches_an_rmm_device_id(feed: Feed, tenant: Tenant) -> None:
    feed(
        alert("a1", at(0), device="pc-07", device_id="42"),  # NinjaOne device 42
        ticket("1", at(1), device_ids=["42"]),  # Halo asset 42: another machine
    )
    assert late(feed, tenant.classifier) == []


def test_the_same_device_by_hostname_with_its_domain_suffix(feed: Feed, tenant: Tenant) -> None:
    feed(
        alert("a1", at(0), device="pc-07", device_id="1017"),
        ticket("1", at(1), device_ids=["42"], devices=["PC-07.acme.local"]),
    )
    assert late(feed, tenant.classifier) == ["connectwise:ticket:1"]


def test_the_same_device_by_serial_or_by_the_integration_link(feed: Feed, tenant: Tenant) -> None:
    feed(
        alert("a1", at(0), device="desktop-8xk2j", device_id="1017", serial="5CG1234XYZ"),
        alert("a2", at(0), device="desktop-99", device_id="2000", serial="To Be Filled By O.E.M."),
        ticket("s", at(1), devices=[{"id": "42", "serial": " 5cg1234xyz "}]),
        ticket("l", at(1, 1), devices=[{"id": "43", "rmm_device_id": "1017"}]),
        # A BIOS placeholder is no identity: it does not make ticket p about desktop-99.
        ticket("p", at(1, 2), devices=[{"id": "44", "serial": "To be filled by O.E.M."}]),
    )
    assert late(feed, tenant.classifier) == ["connectwise:ticket:l", "connectwise:ticket:s"]
    # A tenant whose serials are unreliable matches on hostname and the link only.
    assert late(feed, with_identity(tenant.classifier, match_on=["hostname", "rmm_link"])) == [
        "connectwise:ticket:l"
    ]


def test_a_tenant_can_say_a_sources_device_ids_are_the_rmms(feed: Feed, tenant: Tenant) -> None:
    feed(
        alert("a1", at(0), device="pc-07", device_id="1017"),
        ticket("1", at(1), device_ids=["1017"]),
    )
    assert late(feed, tenant.classifier) == []
    policy = with_identity(tenant.classifier, ticket_device_ids={"connectwise": "rmm_device_id"})
    assert late(feed, policy) == ["connectwise:ticket:1"]


def test_a_technician_entered_ticket_can_be_late_too(feed: Feed, tenant: Tenant) -> None:
    """Late reporting is about when, not who: a direct request may also be late."""
    feed(
        alert("a1", at(0), device="pc-01"),
        ticket("1", at(1), devices=["pc-01"], entered_by=TECH, channel="direct_phone"),
    )
    assert late(feed, tenant.classifier) == ["connectwise:ticket:1"]


def test_words_of_time_and_quantity_make_no_topic(feed: Feed, tenant: Tenant) -> None:
    """ "VPN drops every few minutes" is not the CPU alert "above 95% for 15 minutes"."""
    feed(
        alert("a1", at(0), site="HQ", message="ACME-WS032: CPU above 95% for 15 minutes"),
        ticket("1", at(2), site="hq", summary="VPN drops every few minutes"),
        alert("a2", at(10), site="HQ", message="QuickBooks database service stopped"),
        ticket("2", at(12), site="hq", summary="Cannot open QuickBooks"),  # a shared name
    )
    found = late_reporting(feed.state, tenant.classifier, feed.watermark)
    assert [(f.ref, "quickbooks" in f.note) for f in found] == [("connectwise:ticket:2", True)]


# -- only the client's own report: never a technician's follow-up ----------------------


def test_a_technicians_follow_up_after_an_alert_is_not_the_client_reporting(
    feed: Feed, tenant: Tenant
) -> None:
    """A follow-up is the MSP continuing earlier work, at whatever source the PSA left it:
    an alert on its device since the first ticket is no problem the client sat on."""
    feed(
        ticket("1", at(0), devices=["pc-01"], summary="Laptop will not boot"),
        alert("a1", at(1), device="pc-01"),
        ticket(
            "2",
            at(2),
            devices=["pc-01"],
            entered_by=TECH,
            channel="phone",
            priority="low",
            summary="Follow-up of #1: Laptop will not boot",
        ),
        ticket("3", at(2, 1), devices=["pc-01"], entered_by=TECH, channel="phone", follows="1"),
    )
    assert late(feed, tenant.classifier) == []
    # The client's own report of the same device at that time would be late.
    feed(ticket("4", at(2, 2), devices=["pc-01"], summary="Laptop still will not boot"))
    assert late(feed, tenant.classifier) == ["connectwise:ticket:4"]


def test_a_follow_up_is_no_contact_ending_a_quiet_period(feed: Feed, tenant: Tenant) -> None:
    feed(
        ticket("1", at(0)),
        ticket("2", at(10), entered_by=TECH, channel="phone", summary="Follow-up of #1"),
        ticket("3", at(20), priority="critical", summary="Server down"),
    )
    assert late(feed, tenant.classifier) == ["connectwise:ticket:3"]


# -- the ticket naming the device in its text -------------------------------------------


def test_a_ticket_naming_the_alerts_host_in_its_text_is_about_that_device(
    feed: Feed, tenant: Tenant
) -> None:
    feed(
        alert("a1", at(0), device="acme-ws032", site="HQ", message="Memory above 90%"),
        ticket("1", at(1), summary="ACME-WS032 keeps freezing"),  # no device field, no site
        ticket("2", at(1, 1), summary="ACME-WS033 keeps freezing"),  # another machine
    )
    found = late_reporting(feed.state, tenant.classifier, feed.watermark)
    assert [f.ref for f in found] == ["connectwise:ticket:1"]
    assert "on the device the ticket names" in found[0].note


# -- the site level: a problem the site was still living with, at a small site ----------


def test_at_the_site_an_alert_resolved_before_the_report_is_not_the_problem(
    feed: Feed, tenant: Tenant
) -> None:
    """Without a device, only a site-wide problem still going on when the client called
    can be the one it reports; the site had recovered from one resolved before."""
    feed(
        alert("a1", at(0), device="fw-01", site="HQ", message="WAN link unreachable"),
        alert("a1", at(0, 6), device="fw-01", site="HQ", status="resolved"),
        ticket("1", at(1), site="hq", summary="Kein Internet seit gestern"),
        alert("a2", at(10), device="fw-01", site="HQ", message="WAN link unreachable"),
        ticket("2", at(11), site="hq", summary="No internet since yesterday"),
    )
    assert late(feed, tenant.classifier) == ["connectwise:ticket:2"]


def many_devices_alerting(site: str, count: int, day: float) -> list[Any]:
    return [
        alert(
            f"{site}-{i}",
            at(day, i / count),
            device=f"{site}-{i:04}",
            site=site,
            message="Disk C: full",
        )
        for i in range(count)
    ]


def test_on_a_large_estate_an_alert_at_the_site_says_nothing_about_the_ticket(
    feed: Feed, tenant: Tenant
) -> None:
    """On a campus of thousands of endpoints some alert about the same topic is always
    open: the site singles out no problem, only the device (or its name) does."""
    p = tenant.classifier.detectors.late_reporting
    feed(*many_devices_alerting("Campus", p.site_max_devices + 1, 0))
    feed(ticket("1", at(2), site="campus", summary="Disk full on my laptop"))
    assert late(feed, tenant.classifier) == []
    # At a small office, the one open alert about the topic is the problem.
    feed(*many_devices_alerting("Branch", 3, 0))
    feed(ticket("2", at(2, 1), site="branch", summary="Disk full on my laptop"))
    assert late(feed, tenant.classifier) == ["connectwise:ticket:2"]
    # The size is the tenant's to set.
    assert late(feed, with_late(tenant.classifier, site_max_devices=1000)) == [
        "connectwise:ticket:1",
        "connectwise:ticket:2",
    ]


def test_the_device_still_counts_on_a_large_estate(feed: Feed, tenant: Tenant) -> None:
    p = tenant.classifier.detectors.late_reporting
    feed(*many_devices_alerting("Campus", p.site_max_devices + 1, 0))
    feed(ticket("1", at(2), devices=["campus-0007"], site="campus", summary="Disk full"))
    assert late(feed, tenant.classifier) == ["connectwise:ticket:1"]


def test_each_ticket_is_judged_on_the_alerts_of_its_window(feed: Feed, tenant: Tenant) -> None:
    """The alerts are looked up by device in time order: an alert after the ticket, or
    resolved and older than the look-back, is never its evidence; an earlier alert still
    open is, however many alerts came in between."""
    feed(
        alert("old", at(0), device="pc-01"),
        alert("old", at(0, 5), device="pc-01", status="resolved"),
        *[alert(f"x{i}", at(1 + i), device="pc-02") for i in range(20)],
        alert("open", at(2), device="pc-03"),
        ticket("1", at(10), devices=["pc-01"]),  # "old" resolved 10 days before: no
        ticket("2", at(30), devices=["pc-03"]),  # "open" still open after 28 days: yes
        alert("after", at(31), device="pc-01"),
        ticket("3", at(31, 1), devices=["pc-01"]),  # an hour after: not yet late
    )
    found = late_reporting(feed.state, tenant.classifier, feed.watermark)
    assert [(f.ref, "672 h" in f.note) for f in found] == [("connectwise:ticket:2", True)]


# -- the MSP's own upkeep is nothing the client notices ------------------------------


def test_an_upkeep_alert_on_the_device_is_not_the_clients_problem(
    feed: Feed, tenant: Tenant
) -> None:
    """Missing patches and old antivirus definitions left open on a laptop for days are
    the MSP's backlog: the client who then reports "Outlook very slow" on that laptop
    did not sit on them. A ticket about the same upkeep topic still counts."""
    feed(
        alert("a1", at(0), device="pc-01", category="Patch Monitor", message="12 patches missing"),
        alert(
            "a2",
            at(0, 1),
            device="pc-01",
            category="Antivirus Monitor",
            message="Definitions older than 7 days",
        ),
        ticket("1", at(9), devices=["pc-01"], summary="Outlook very slow"),
        alert("a3", at(10), device="pc-02", category="Backup", message="Backup job failed"),
        ticket("2", at(13), devices=["pc-02"], summary="Cannot restore my files from backup"),
        alert("a4", at(14), device="pc-03", message="Disk C: free space below 5%"),
        ticket("3", at(16), devices=["pc-03"], summary="Outlook very slow"),
    )
    assert late(feed, tenant.classifier) == ["connectwise:ticket:2", "connectwise:ticket:3"]


def test_an_outage_phoned_in_minutes_after_the_rmm_saw_it_is_not_late(
    feed: Feed, tenant: Tenant
) -> None:
    """A critical ticket after a quiet fortnight is late when nothing says the problem
    just began; when the RMM saw the agents go offline a quarter of an hour before, the
    client reported at once."""
    feed(
        ticket("1", at(0)),
        alert("a1", at(20, -0.25), device="pc-01", message="Device offline for 15 minutes"),
        ticket("2", at(20), priority="critical", summary="Power outage in the office"),
        ticket("3", at(40), priority="critical", summary="Server down"),
    )
    assert late(feed, tenant.classifier) == ["connectwise:ticket:3"]
