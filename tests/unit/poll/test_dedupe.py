"""A record seen by webhook and by poll, or by two overlapping polls, is one event:
the poller's deliveries go through ingest's own adapters to the same event ids."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from services.events.models import Source
from services.events.tenant import Tenant
from services.ingest.adapters import ADAPTERS
from services.ingest.adapters.base import Delivery
from services.poll.adapters.vendor import SlidingWindow, retry_after_seconds
from services.poll.domain import canonical, deliveries
from services.poll.domain.canonical import Links
from services.poll.domain.deliveries import Outgoing
from services.poll.domain.specs import spec_for

AT = "2026-03-02T10:00:00Z"


def event_ids(tenant: Tenant, out: Outgoing) -> list[str]:
    delivery = Delivery(source=out.route, body=out.body, headers={})
    return [e.event_id for e in ADAPTERS[out.route].normalise(delivery, tenant).events]


def test_a_connectwise_record_polled_is_the_event_its_callback_made(tenant: Tenant) -> None:
    record = {
        "id": 48211,
        "summary": "Printer down",
        "company": {"id": 250, "identifier": "AcmeDental"},
        "_info": {"lastUpdated": "2026-03-02T11:00:00Z", "dateEntered": AT},
    }
    spec = spec_for(Source.connectwise, "service/tickets")
    polled = deliveries.connectwise_callback(spec, record, company_id="msp", key_url="http://k")
    callback = {
        "MessageId": "cw-message-1",
        "Action": "updated",
        "Type": "ticket",
        "ID": 48211,
        "Entity": json.dumps(record),
        "Metadata": {"key_url": "https://api-na.myconnectwise.net/key"},
    }
    webhook = Outgoing(Source.connectwise, json.dumps(callback).encode(), "cw")
    assert event_ids(tenant, polled) == event_ids(tenant, webhook)
    assert json.loads(polled.body)["Action"] == "updated"  # modified after it was entered


def test_rmm_alerts_polled_are_the_events_their_webhooks_made(tenant: Tenant) -> None:
    datto = {
        "alertUid": "a-1",
        "priority": "High",
        "timestamp": 1772445600000,
        "alertSourceInfo": {"deviceUid": "d-1", "siteUid": "s"},
    }
    polled = deliveries.datto_alert(spec_for("dattormm", "alerts"), datto, resolved_at=None)
    hook = {"status": "raised", "alert_uid": "a-1", "timestamp": "2026-03-02T10:00:00Z"}
    webhook = Outgoing(Source.dattormm, json.dumps(hook).encode(), "d")
    assert event_ids(tenant, polled) == event_ids(tenant, webhook)

    trmm = {"id": 501, "alert_time": AT, "hostname": "WS1", "resolved": False}
    polled = deliveries.tactical_alert(spec_for("tacticalrmm", "alerts"), trmm, resolved=False)
    hook = {"event": "trigger", "alert_id": "501", "alert_time": AT, "hostname": "WS1"}
    webhook = Outgoing(Source.tacticalrmm, json.dumps(hook).encode(), "t")
    assert event_ids(tenant, polled) == event_ids(tenant, webhook)


def test_a_ninja_activity_polled_is_its_webhook_delivery(tenant: Tenant) -> None:
    activity = {
        "id": 101,
        "activityTime": 1772445600,
        "activityType": "CONDITION",
        "statusCode": "TRIGGERED",
        "seriesUid": "s-1",
        "deviceId": 7,
    }
    polled = deliveries.ninja_activity(spec_for("ninjaone", "activities"), activity)
    webhook = Outgoing(Source.ninjaone, json.dumps(activity, indent=2).encode(), "n")
    assert event_ids(tenant, polled) == event_ids(tenant, webhook)


def test_a_time_entry_polled_twice_is_one_event_and_a_new_version_is_another(
    tenant: Tenant,
) -> None:
    spec = spec_for(Source.autotask, "TimeEntries")
    entry = {
        "id": 5001,
        "ticketID": 7301,
        "resourceID": 29682844,
        "startDateTime": AT,
        "hoursWorked": 1.5,
        "createDateTime": AT,
        "lastModifiedDateTime": AT,
    }
    links = Links(client_ref="29683", ticket_id="7301")
    first = canonical.autotask_time_entry(tenant, spec, entry, links)
    again = canonical.autotask_time_entry(tenant, spec, dict(entry), links)
    later = {**entry, "hoursWorked": 2.0, "lastModifiedDateTime": "2026-03-02T12:00:00Z"}
    edited = canonical.autotask_time_entry(tenant, spec, later, links)
    ids = [event_ids(tenant, o) for o in (first, again, edited)]
    assert ids[0] == ids[1] and ids[0] != ids[2]
    assert ids[0] == [json.loads(first.body)["event_id"]]  # ingest keeps the poller's id
    event = json.loads(first.body)
    assert event["client_id"] == tenant.client_for(Source.autotask, "29683")
    assert event["refs"][0] == {"source": "autotask", "entity": "time_entry", "id": "5001"}
    assert (event["action"], json.loads(edited.body)["action"]) == ("created", "updated")


def test_a_halo_action_without_time_is_a_note_not_work(tenant: Tenant) -> None:
    spec = spec_for(Source.halopsa, "Actions")
    note = {"id": 42, "ticket_id": 3001, "timetaken": 0, "datetime": AT}
    assert canonical.halo_action(tenant, spec, note, Links()) is None


def test_a_device_change_keeps_its_id_whatever_the_device_reports_later(tenant: Tenant) -> None:
    spec = spec_for(Source.dattormm, "devices")
    now = datetime(2026, 3, 2, tzinfo=UTC)
    device = {"uid": "d-1", "hostname": "SRV1", "lastSeen": "a"}
    one = canonical.device_change(tenant, spec, device, removed=False, seen_at=now)
    two = canonical.device_change(
        tenant, spec, {**device, "lastSeen": "b"}, removed=False, seen_at=now + timedelta(hours=1)
    )
    assert json.loads(one.body)["event_id"] == json.loads(two.body)["event_id"]


def test_retry_after_is_read_as_seconds_or_an_http_date() -> None:
    now = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
    assert retry_after_seconds("7", now) == 7.0
    assert retry_after_seconds("Mon, 02 Mar 2026 10:00:30 GMT", now) == 30.0
    assert retry_after_seconds("soon", now) is None


def test_the_datto_window_holds_requests_to_the_limit() -> None:
    clock = [0.0]
    window = SlidingWindow(3, 60.0, lambda: clock[0])
    for _ in range(3):
        assert window.wait_time() == 0
        window.record()
    assert window.wait_time() == 60.0
    clock[0] = 30.0
    assert window.wait_time() == 30.0
    clock[0] = 60.0
    assert window.wait_time() == 0


def test_a_callout_autotask_failed_to_deliver_is_the_event_it_would_have_been(
    tenant: Tenant,
) -> None:
    from tests.support.polling import FAILED_CALLOUT

    spec = spec_for(Source.autotask, "WebhookEventErrorLogs")
    polled = deliveries.autotask_failed_callout(spec, {"id": 77, "payload": FAILED_CALLOUT})
    assert polled is not None
    original = Outgoing(Source.autotask, FAILED_CALLOUT.encode(), "callout")
    assert event_ids(tenant, polled) == event_ids(tenant, original)
    assert deliveries.autotask_failed_callout(spec, {"id": 78, "payload": None}) is None
