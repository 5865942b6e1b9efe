"""The vendor API stand-ins keep the documented semantics the pollers rely on: versions
on a replay clock, each vendor's paging and authentication, rate limits, faults."""

from __future__ import annotations

import json
from datetime import timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
import pytest

from services.vendorapi.app import StandIn
from services.vendorapi.records import ApiRecords, ReplayClock
from services.vendorapi.server import BASE_PATHS, RunningStandIns, pointed_at, start_standins
from tests.support.polling import T0, autotask_time_entry, line, polling_config

pytestmark = pytest.mark.integration

AUTOTASK_HEADERS = {
    "UserName": "api@msp.example",
    "Secret": "at-secret",
    "ApiIntegrationCode": "AT-CODE",
}


def client(
    running: list[RunningStandIns], records: ApiRecords, clock: ReplayClock, **state: int
) -> tuple[httpx.Client, StandIn]:
    standins = start_standins(records, clock, None)
    running.append(standins)
    standins.state.polling = polling_config(standins.base_urls)
    for name, value in state.items():
        setattr(standins.state, name, value)
    return httpx.Client(base_url=standins.url, trust_env=False), standins.state


def query(test: httpx.Client, url: str) -> dict[str, object]:
    response = test.get(url, headers=AUTOTASK_HEADERS)
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


def test_a_query_sees_the_versions_visible_at_the_replay_clock(running: Any) -> None:
    clock = ReplayClock(T0, speed=0)
    records = ApiRecords(
        [
            autotask_time_entry(1, T0 - timedelta(hours=1)),
            autotask_time_entry(2, T0 + timedelta(hours=1)),  # not yet visible
            line(
                T0 - timedelta(hours=2), "autotask", "TimeEntries", 3, {"id": 3, "hoursWorked": 1}
            ),
            line(T0 - timedelta(minutes=30), "autotask", "TimeEntries", 3, None, deleted=True),
        ]
    )
    records.add(
        line(
            T0 - timedelta(minutes=10),
            "autotask",
            "TimeEntries",
            1,
            {"id": 1, "hoursWorked": 9, "lastModifiedDateTime": "2026-03-02T08:50:00Z"},
        )
    )
    test, _ = client(running, records, clock)
    answer = test.get(
        "/autotask/ATServicesRest/V1.0/TimeEntries/query",
        params={"search": json.dumps({"filter": []})},
        headers=AUTOTASK_HEADERS,
    )
    assert [(i["id"], i["hoursWorked"]) for i in answer.json()["items"]] == [(1, 9)]
    assert parsedate_to_datetime(answer.headers["date"]) == T0  # the vendor's clock
    clock.set(T0 + timedelta(hours=2))
    items = query(test, "/autotask/ATServicesRest/V1.0/TimeEntries/query?search=%7B%7D")["items"]
    assert [i["id"] for i in items] == [1, 2]  # type: ignore[union-attr, index]


def test_autotask_pages_by_next_page_url_and_refuses_a_wrong_secret(running: Any) -> None:
    records = ApiRecords([autotask_time_entry(i, T0 - timedelta(minutes=i)) for i in range(1, 8)])
    test, _ = client(running, records, ReplayClock(T0, speed=0))
    search = {
        "MaxRecords": 3,
        "filter": [{"op": "gte", "field": "lastModifiedDateTime", "value": "2026-03-02T08:55:00Z"}],
    }
    url: object = "/autotask/ATServicesRest/V1.0/TimeEntries/query?search=" + json.dumps(search)
    seen = []
    while url:
        page = query(test, str(url))
        seen += [i["id"] for i in page["items"]]  # type: ignore[attr-defined]
        url = page["pageDetails"]["nextPageUrl"]  # type: ignore[index]
    assert seen == [1, 2, 3, 4, 5]
    wrong = test.get(
        "/autotask/ATServicesRest/V1.0/TimeEntries/query",
        headers={**AUTOTASK_HEADERS, "Secret": "guess"},
    )
    assert wrong.status_code == 401


def test_datto_answers_429_with_retry_after_above_its_limit(running: Any) -> None:
    test, standin = client(running, ApiRecords(), ReplayClock(T0, speed=0), datto_limit=3)
    token = test.post(
        "/dattormm/auth/oauth/token",
        data={"grant_type": "password", "username": "datto-key", "password": "datto-secret"},
        auth=("public-client", "public"),
    ).json()["access_token"]
    answers = [
        test.get("/dattormm/api/v2/account/devices", headers={"Authorization": f"Bearer {token}"})
        for _ in range(3)
    ]
    assert [a.status_code for a in answers] == [200, 200, 429]  # the token call counted too
    assert answers[-1].headers["retry-after"] == "1"
    standin.fail(500, 1, vendor="tacticalrmm")
    assert test.get("/tacticalrmm/agents/", headers={"X-API-KEY": "trmm-key"}).status_code == 500
    assert test.get("/tacticalrmm/agents/", headers={"X-API-KEY": "trmm-key"}).status_code == 200


def test_a_scenario_tenant_is_pointed_at_the_stand_ins() -> None:
    real = polling_config({v: f"https://{v}.example" for v in BASE_PATHS})
    local = {v: "http://127.0.0.1:1" + p for v, p in BASE_PATHS.items()}
    moved = pointed_at(real, local)
    assert {n: s.base_url for n, s in moved.sources().items()} == local
    assert moved.autotask is not None and real.autotask is not None
    assert moved.autotask.secret == real.autotask.secret


def test_a_scenario_without_a_polling_section_gets_one_for_its_vendors() -> None:
    from services.vendorapi.server import standin_polling

    records = ApiRecords([autotask_time_entry(1, T0), line(T0, "tacticalrmm", "agents", "a", {})])
    local = {v: "http://127.0.0.1:1" + p for v, p in BASE_PATHS.items()}
    polling = standin_polling(local, records.sources())
    assert sorted(polling.sources()) == ["autotask", "tacticalrmm"]
    assert polling.autotask is not None and polling.autotask.base_url == local["autotask"]
