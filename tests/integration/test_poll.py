"""Real pollers against the vendor API stand-ins (real HTTP), through real ingest and the
embedded broker: nothing lost, nothing twice; vendor faults and a SIGKILL survived."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from services.events import topics
from services.events.models import Source
from services.events.tenant import Tenant
from services.ingest.sender import signer
from services.platform import local_http
from services.poll.adapters.vendor import RetryPolicy
from services.poll.bootstrap import Poller, build_poller
from services.runtime.broker import free_port
from services.vendorapi.records import ApiRecords, ReplayClock
from services.vendorapi.server import RunningStandIns, start_standins
from tests.conftest import FIXTURES
from tests.support.polling import (
    T0,
    autotask_time_entry,
    line,
    polling_config,
    records,
    with_polling,
)

from .conftest import REPO, RunningIngest, event_values, read_topic

pytestmark = pytest.mark.integration
# The pollers' sleep is a list in these tests: waits are recorded, not slept.
FAST = RetryPolicy(attempts=6, backoff_seconds=0.01, max_wait_seconds=300)


def make_poller(
    tenant: Tenant,
    standins: RunningStandIns,
    ingest: RunningIngest,
    data: Path,
    waits: list[float],
    **overrides: Any,
) -> tuple[Poller, Tenant]:
    polling = polling_config(standins.base_urls, **overrides)
    standins.state.polling = polling  # the stand-ins accept these credentials
    polled = with_polling(tenant, polling)
    poller = build_poller(
        polled, data_dir=data, ingest_url=ingest.url, retry=FAST, sleep=waits.append
    )
    return poller, polled


def topic_events(bootstrap: str, expect: int) -> list[dict[str, Any]]:
    return event_values(read_topic(bootstrap, topics.EVENTS, expect=expect, settle=0.5))


def new_records(poller: Poller) -> float:
    registry = poller.metrics.registry
    return sum(
        s.value
        for m in registry.collect()
        for s in m.samples
        if s.name == "partnerpulse_poll_records_total" and s.labels["result"] == "new"
    )


EXPECTED_REFS = {
    "autotask:ticket:7301": 1,
    "autotask:ticket:7302": 1,  # a callout Autotask failed to deliver, from its error log
    "autotask:time_entry:5001": 1,
    "autotask:service_call:900": 1,
    "connectwise:ticket:48211": 1,
    "connectwise:time:7001": 1,
    "halopsa:ticket:3001": 1,
    "halopsa:time_entry:41": 1,
    "halopsa:appointment:61": 1,
    "ninjaone:alert:s-1": 2,  # triggered, then reset
    "dattormm:alert:a-1": 1,
    "tacticalrmm:alert:501": 1,
}


def test_every_vendor_polled_once_then_only_what_changed(
    broker: Any,
    ingest_factory: Any,
    tenant: Tenant,
    standins: RunningStandIns,
    clock: ReplayClock,
    tmp_path: Path,
) -> None:
    ingest: RunningIngest = ingest_factory(broker.bootstrap)
    poller, polled = make_poller(tenant, standins, ingest, tmp_path / "poll", [])
    try:
        poller.run_cycle()
        total = sum(EXPECTED_REFS.values())
        events = topic_events(broker.bootstrap, total)
        refs = Counter(
            ":".join(e["refs"][0][k] for k in ("source", "entity", "id")) for e in events
        )
        assert refs == EXPECTED_REFS  # nothing lost, nothing twice
        visit = next(e for e in events if e["refs"][0]["entity"] == "service_call")
        assert visit["payload"]["ticket_id"] == "7301"  # through ServiceCallTickets
        assert visit["client_id"] == tenant.client_for(Source.autotask, "29683")
        assert new_records(poller) == total

        # A second cycle over the same records posts again, and ingest stores nothing new.
        clock.set(T0 + timedelta(hours=2))
        poller.run_cycle()
        assert new_records(poller) == total

        # A webhook delivered first, then polled: one event.
        activity = {
            "id": 103,
            "activityTime": (T0 + timedelta(hours=2)).timestamp(),
            "deviceId": 77,
            "activityType": "CONDITION",
            "statusCode": "TRIGGERED",
            "seriesUid": "s-2",
            "severity": "MINOR",
            "organizationId": 3,
        }
        body = json.dumps(activity).encode()
        with signer(polled) as sign:
            response = ingest.post(
                "ninjaone",
                body,
                {"content-type": "application/json", **sign.headers(Source.ninjaone, body)},
            )
        assert response.status_code == 202
        # ... and changes the poller sees: a new device, a Datto alert resolved.
        standins.state.records.add(
            line(T0 + timedelta(hours=2), "ninjaone", "activities", 103, activity)
        )
        standins.state.records.add(
            line(
                T0 + timedelta(hours=2),
                "dattormm",
                "devices",
                "d-2",
                {
                    "uid": "d-2",
                    "siteUid": "3f9c1a2e-5d4b-4c6a-9e8f-1a2b3c4d5e6f",
                    "hostname": "NEW-LAPTOP",
                },
            )
        )
        alert = {"alertUid": "a-1", "resolved": True, "alertSourceInfo": {"siteUid": "x"}}
        standins.state.records.add(
            line(T0 + timedelta(hours=2, minutes=30), "dattormm", "alerts", "a-1", alert)
        )
        clock.set(T0 + timedelta(hours=3))
        poller.run_cycle()
        events = topic_events(broker.bootstrap, total + 3)
        assert len(events) == total + 3
        assert len({e["event_id"] for e in events}) == len(events)
        kinds = Counter((e["source"], e["payload"]["kind"], e["action"]) for e in events[total:])
        assert kinds == Counter(
            {
                ("ninjaone", "rmm_alert", "triggered"): 1,  # the webhook's, not again by the poller
                ("dattormm", "device_change", "detected"): 1,
                ("dattormm", "rmm_alert", "resolved"): 1,
            }
        )
        assert new_records(poller) == total + 2  # the activity was a duplicate for the poller
    finally:
        poller.stop()


def test_a_vendor_answering_429_then_500_for_a_while_loses_nothing(
    broker: Any, ingest_factory: Any, tenant: Tenant, standins: RunningStandIns, tmp_path: Path
) -> None:
    ingest: RunningIngest = ingest_factory(broker.bootstrap)
    waits: list[float] = []
    only = {s: None for s in ("autotask", "connectwise", "halopsa", "ninjaone", "tacticalrmm")}
    poller, _ = make_poller(tenant, standins, ingest, tmp_path / "poll", waits, **only)
    standins.state.fail(429, 2, retry_after="3", vendor="dattormm")
    standins.state.fail(500, 3, vendor="dattormm")
    try:
        poller.run_cycle()
        events = topic_events(broker.bootstrap, 1)
        assert [e["refs"][0]["id"] for e in events] == ["a-1"]
        # Retry-After honoured twice, then the back-off doubles on each 500.
        assert waits[:5] == [3.0, 3.0, 0.04, 0.08, 0.16]
        errors = poller.metrics.registry.get_sample_value(
            "partnerpulse_poll_api_errors_total", {"source": "dattormm", "reason": "http_429"}
        )
        assert errors == 2
        # Faults beyond the retries fail the run; the next cycle catches up.
        standins.state.fail(500, 50, vendor="dattormm")
        standins.state.records.add(
            line(
                T0,
                "dattormm",
                "alerts",
                "a-9",
                {"alertUid": "a-9", "timestamp": 1772445600000, "alertSourceInfo": {}},
            )
        )
        poller.run_cycle()
        failed = poller.metrics.registry.get_sample_value(
            "partnerpulse_poll_runs_total",
            {"source": "dattormm", "entity": "alerts", "outcome": "failed"},
        )
        assert failed == 1
        standins.state.faults.clear()
        poller.start()  # threads on the cadence, as `partnerpulse poll` runs them
        poller.finish()  # stop them, one last cycle, close: what the evaluator ends with
        events = topic_events(broker.bootstrap, 2)
        assert sorted(e["refs"][0]["id"] for e in events) == ["a-1", "a-9"]
    finally:
        poller.stop()  # again after finish(): harmless


def _checkpoint_pages(state: Path) -> int:
    if not state.exists():
        return 0
    with sqlite3.connect(state) as db:
        try:
            row = db.execute("SELECT pages FROM checkpoints WHERE entity='TimeEntries'").fetchone()
        except sqlite3.OperationalError:
            return 0
    return int(row[0]) if row else 0


def _finished(state: Path) -> bool:
    with sqlite3.connect(state) as db:
        row = db.execute(
            "SELECT succeeded_at FROM watermarks WHERE entity='TimeEntries'"
        ).fetchone()
    return bool(row and row[0])


def _wait(condition: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_poller_killed_mid_page_resumes_at_its_checkpoint(
    broker: Any, ingest_factory: Any, tenant: Tenant, clock: ReplayClock, tmp_path: Path
) -> None:
    """`partnerpulse poll` as its own process, killed with SIGKILL while posting the second
    100-row page of Autotask time entries, then started again: every entry once."""
    count = 300
    entries = ApiRecords(
        [autotask_time_entry(10_000 + i, T0 + timedelta(seconds=i)) for i in range(count)]
    )
    entries.add(records()[0])  # their ticket, which names the client
    clock.set(T0 + timedelta(days=1))
    standins = start_standins(entries, clock, None)
    ingest: RunningIngest = ingest_factory(broker.bootstrap)
    polling = polling_config(
        standins.base_urls,
        autotask={"entities": ["TimeEntries"]},
        **{s: None for s in ("connectwise", "halopsa", "ninjaone", "dattormm", "tacticalrmm")},
    )
    standins.state.polling = polling
    document = yaml.safe_load((FIXTURES / "tenant.yaml").read_text())
    document["polling"] = {
        "backfill_days": 30,
        "autotask": {
            "base_url": standins.base_urls["autotask"],
            "username": "api@msp.example",
            "secret": "${AT_SECRET}",  # credentials as environment references
            "integration_code": "AT-CODE",
            "entities": ["TimeEntries"],
            "every_seconds": 0.2,
            "page_size": 100,
        },
    }
    tenant_file = tmp_path / "tenant.yaml"
    tenant_file.write_text(yaml.safe_dump(document))
    data_dir = tmp_path / "poll-data"
    port = free_port()
    env = {
        **os.environ,
        "AT_SECRET": "at-secret",
        "PARTNERPULSE_TENANT_FILE": str(tenant_file),
        "PARTNERPULSE_DATA_DIR": str(data_dir),
        "PARTNERPULSE_POLL_INGEST_URL": ingest.url,
        "PARTNERPULSE_POLL_PORT": str(port),
        "PARTNERPULSE_ALLOW_EXAMPLE_TENANT": "1",
    }
    command = [sys.executable, "-m", "services.cli", "poll"]
    state = data_dir / "poll" / "state.sqlite3"
    log = (tmp_path / "poll.log").open("w")
    first = subprocess.Popen(command, env=env, cwd=REPO, stderr=log)
    try:
        accepted = lambda: ingest.metric(  # noqa: E731
            "partnerpulse_ingest_events_accepted_total", source="canonical"
        )
        _wait(
            lambda: _checkpoint_pages(state) == 1 and accepted() > 120,
            60,
            "the poller well into its second page",
        )
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        assert not _finished(state)
        assert _checkpoint_pages(state) >= 1  # the checkpoint survived the kill
    finally:
        if first.poll() is None:
            first.kill()
    second = subprocess.Popen(command, env=env, cwd=REPO, stderr=log)
    try:
        _wait(lambda: _finished(state), 60, "the resumed run to finish")
        metrics = local_http.get(
            f"http://127.0.0.1:{port}/metrics", timeout=5, trust_env=False
        ).text
        assert 'partnerpulse_poll_lag_seconds{entity="TimeEntries",source="autotask"}' in metrics
        assert "at-secret" not in metrics
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(20)
        log.close()
    assert "at-secret" not in (tmp_path / "poll.log").read_text()  # credentials never logged
    assert accepted() == count  # stored once each
    # The resumed run re-posted the interrupted page; ingest recognised what it had.
    assert ingest.metric("partnerpulse_ingest_duplicate_events_total", source="canonical") > 0
    events = topic_events(broker.bootstrap, count)
    ids = Counter(e["refs"][0]["id"] for e in events)
    assert len(ids) == count  # nothing lost
    assert set(ids.values()) == {1}  # nothing twice
    assert {e["client_id"] for e in events} == {tenant.client_for(Source.autotask, "29683")}
    standins.stop()


def test_autotask_backs_off_above_half_of_the_shared_hourly_threshold(
    ingest_factory: Any, tenant: Tenant, standins: RunningStandIns, tmp_path: Path
) -> None:
    ingest: RunningIngest = ingest_factory(None)  # journal only: no broker needed here
    others = {s: None for s in ("connectwise", "halopsa", "ninjaone", "dattormm", "tacticalrmm")}
    poller, _ = make_poller(tenant, standins, ingest, tmp_path / "poll", [], **others)
    standins.state.autotask_threshold = 10
    headers = {
        "UserName": "api@msp.example",
        "Secret": "at-secret",
        "ApiIntegrationCode": "AT-CODE",
    }
    for _ in range(5):  # other integrations of the same database use the budget
        url = standins.base_urls["autotask"] + "/V1.0/ThresholdInformation"
        assert local_http.get(url, headers=headers).status_code == 200
    try:
        poller.run_cycle()
        registry = poller.metrics.registry
        assert registry.get_sample_value(
            "partnerpulse_poll_budget_used_ratio", {"source": "autotask"}
        ) == pytest.approx(0.6)
        backed_off = registry.get_sample_value(
            "partnerpulse_poll_runs_total",
            {"source": "autotask", "entity": "TimeEntries", "outcome": "backed_off"},
        )
        assert backed_off == 1
        assert new_records(poller) == 0  # nothing read while above half
        standins.state.autotask_threshold = 10_000
        poller.run_cycle()
        assert new_records(poller) == 4  # ticket, failed callout, time entry, service call
    finally:
        poller.stop()
