"""Each vendor's query building and paging, as the vendors document them."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from services.events.models import Source
from services.poll.domain.requests import Request, first_request, read_page
from services.poll.domain.specs import spec_for

SINCE = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_autotask_filters_on_the_modified_stamp_with_500_row_pages() -> None:
    spec = spec_for(Source.autotask, "TimeEntries")
    request = first_request(spec, since=SINCE, after_id=None, page_size=5000)
    assert request.path == "V1.0/TimeEntries/query"
    query = json.loads(request.params["search"])
    assert query["MaxRecords"] == 500  # the documented maximum, even when asked for more
    assert query["filter"] == [
        {"op": "gte", "field": "lastModifiedDateTime", "value": "2026-03-02T09:00:00.000Z"}
    ]


def test_autotask_tickets_filter_on_last_activity() -> None:
    request = first_request(
        spec_for("autotask", "Tickets"), since=SINCE, after_id=None, page_size=None
    )
    assert json.loads(request.params["search"])["filter"][0]["field"] == "lastActivityDate"


def test_autotask_follows_next_page_url_until_there_is_none() -> None:
    spec = spec_for(Source.autotask, "Tickets")
    request = first_request(spec, since=SINCE, after_id=None, page_size=None)
    url = "https://webservices2.autotask.net/ATServicesRest/V1.0/Tickets/query?search=x"
    page = read_page(spec, request, {"items": [{"id": 1}], "pageDetails": {"nextPageUrl": url}})
    assert page.records == [{"id": 1}]
    assert page.next == Request("GET", url)
    last = read_page(spec, page.next, {"items": [], "pageDetails": {"nextPageUrl": None}})
    assert last.next is None


def test_connectwise_conditions_order_and_page_numbers() -> None:
    spec = spec_for(Source.connectwise, "time/entries")
    request = first_request(spec, since=SINCE, after_id=None, page_size=2)
    assert request.path == "time/entries"
    assert request.params == {
        "conditions": "lastUpdated>=[2026-03-02T09:00:00.000Z]",
        "orderBy": "id asc",
        "pageSize": "2",
        "page": "1",
    }
    full = read_page(spec, request, [{"id": 1}, {"id": 2}])
    assert full.next is not None and full.next.params["page"] == "2"
    short = read_page(spec, full.next, [{"id": 3}])
    assert short.next is None  # a short page is the last


def test_halo_pages_until_record_count() -> None:
    spec = spec_for(Source.halopsa, "Actions")
    request = first_request(spec, since=SINCE, after_id=None, page_size=2)
    assert request.path == "api/Actions"
    assert request.params["lastupdatefromdate"] == "2026-03-02T09:00:00.000Z"
    assert (request.params["pageinate"], request.params["page_no"]) == ("true", "1")
    page = read_page(spec, request, {"record_count": 3, "actions": [{"id": 1}, {"id": 2}]})
    assert page.next is not None and page.next.params["page_no"] == "2"
    assert read_page(spec, page.next, {"record_count": 3, "actions": [{"id": 3}]}).next is None


def test_ninja_activities_page_backwards_to_the_watermark_and_keep_the_high_mark() -> None:
    spec = spec_for(Source.ninjaone, "activities")
    request = first_request(spec, since=None, after_id="100", page_size=2)
    assert request.params == {"pageSize": "2", "newerThan": "100"}
    newest = read_page(spec, request, {"activities": [{"id": 105}, {"id": 104}]})
    assert newest.next is not None
    assert newest.next.params == {"pageSize": "2", "newerThan": "100", "olderThan": "104"}
    rest = read_page(spec, newest.next, {"activities": [{"id": 103}]})
    assert rest.next is None
    assert rest.high == "105"  # the next run reads newer than the newest of this one


def test_datto_follows_next_page_url_and_tactical_reads_one_list() -> None:
    alerts = spec_for(Source.dattormm, "alerts")
    request = first_request(alerts, since=None, after_id=None, page_size=None)
    assert (request.path, request.params["max"]) == ("api/v2/account/alerts/open", "250")
    page = read_page(
        alerts, request, {"pageDetails": {"nextPageUrl": "https://x/p1"}, "alerts": []}
    )
    assert page.next == Request("GET", "https://x/p1")
    trmm = first_request(
        spec_for("tacticalrmm", "alerts"), since=None, after_id=None, page_size=None
    )
    assert (trmm.method, trmm.path) == ("PATCH", "alerts/")


def test_a_checkpointed_request_round_trips() -> None:
    request = Request("GET", "v2/activities", {"a": "1"}, None, {"high": "9"})
    assert Request.loads(request.dumps()) == request
