"""The simulator's api.jsonl and evaluate's accounting of polled records (no pipeline)."""

from __future__ import annotations

import json
import random
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from services.events.models import Source
from services.events.tenant import parse_tenant
from services.poll.domain import canonical
from services.poll.domain.canonical import Links
from services.poll.domain.specs import spec_for
from services.scenario import scoring
from services.scenario.files import API, load_scenario, write_scenario
from services.scenario.polled import last_successes
from services.scenario.replay import Outcome
from services.scenario.simulate import Scenario, SimulationConfig, simulate
from services.scenario.vendors import apis
from services.scenario.vendors.common import Emission
from services.vendorapi.records import ApiRecords

CONFIG = SimulationConfig(clients=8, days=20, seed=4, max_endpoints=40, api=True)


@pytest.fixture(scope="module")
def scenario() -> Scenario:
    return simulate(CONFIG)


def delivered_refs(s: Scenario) -> str:
    return "\n".join(d["body"] for d in s.deliveries)


def test_autotask_and_halo_work_is_only_in_the_vendors_apis(scenario: Scenario) -> None:
    """No pretend poller: their time entries and visits reach the pipeline only by polling,
    and the truth still labels each of them."""
    entities = Counter((a["source"], a["entity"]) for a in scenario.api)
    assert entities[("autotask", "TimeEntries")] and entities[("halopsa", "Actions")]
    assert entities[("autotask", "ServiceCalls")] or entities[("halopsa", "Appointment")]
    canonical_bodies = [d["body"] for d in scenario.deliveries if d["source"] == "canonical"]
    assert not any(
        '"source":"autotask"' in b or '"source":"halopsa"' in b for b in canonical_bodies
    )
    truth = scenario.truth["work"]
    for entry in scenario.records.time_entries:
        if entry.source in (Source.autotask, Source.halopsa):
            assert entry.ref in truth
            held = [a for a in scenario.api if a["id"] == str(entry.id)]
            assert held, entry.ref


def test_a_fifth_of_the_vendor_webhooks_are_lost_and_the_apis_still_hold_them() -> None:
    with_loss = simulate(CONFIG)
    without = simulate(SimulationConfig(**{**CONFIG.__dict__, "lost_share": 0.0}))
    vendor = [d for d in without.deliveries if d["source"] != "canonical"]
    kept = [d for d in with_loss.deliveries if d["source"] != "canonical"]
    share = 1 - len(kept) / len(vendor)
    assert 0.15 < share < 0.25, share
    own = {d["body"] for d in without.deliveries if d["source"] == "canonical"}
    assert {d["body"] for d in with_loss.deliveries if d["source"] == "canonical"} == own
    assert with_loss.truth == without.truth  # the truth is the personas' intent
    # Every lost Autotask callout is in the failed-callout log, byte for byte.
    logged = {a["body"]["payload"] for a in with_loss.api if a["entity"] == "WebhookEventErrorLogs"}
    sent = {d["body"] for d in with_loss.deliveries if d["source"] == "autotask"}
    lost = {d["body"] for d in without.deliveries if d["source"] == "autotask"} - sent
    assert lost and lost == logged


def test_the_same_configuration_writes_the_same_api_jsonl(tmp_path: Path) -> None:
    first, second = simulate(CONFIG), simulate(CONFIG)
    write_scenario(tmp_path / "a", first.tenant, first.deliveries, first.truth, first.api)
    write_scenario(tmp_path / "b", second.tenant, second.deliveries, second.truth, second.api)
    assert (tmp_path / "a" / API).read_bytes() == (tmp_path / "b" / API).read_bytes()
    files = load_scenario(tmp_path / "a")
    assert files.api_file == tmp_path / "a" / API
    assert ApiRecords.load(files.api_file).span() is not None
    write_scenario(tmp_path / "a", first.tenant, first.deliveries, first.truth)  # --no-api
    assert load_scenario(tmp_path / "a").api_file is None


def test_no_api_keeps_the_old_form() -> None:
    old = simulate(SimulationConfig(clients=8, days=20, seed=4, max_endpoints=40))
    assert old.api == []
    assert any(
        '"source":"autotask"' in d["body"] for d in old.deliveries if d["source"] == "canonical"
    )


def test_ninja_activity_ids_rise_with_time(scenario: Scenario) -> None:
    """NinjaOne's pollers read the activity log by id (`newerThan`)."""
    activities = sorted(
        (a for a in scenario.api if a["entity"] == "activities"), key=lambda a: a["at"]
    )
    ids = [int(a["id"]) for a in activities]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)


def test_a_polled_time_entry_keeps_the_nature_of_its_work_type(scenario: Scenario) -> None:
    """A time entry charged to no ticket is labelled by its work type: the tenant maps the
    billing code (Autotask) and the outcome (HaloPSA) the poller reads."""
    tenant = parse_tenant(scenario.tenant)
    for entry in scenario.records.time_entries:
        if entry.source not in (Source.autotask, Source.halopsa):
            continue
        (held,) = apis.time_entry(entry)
        spec = spec_for(entry.source, held["entity"])
        build = (
            canonical.autotask_time_entry
            if entry.source is Source.autotask
            else canonical.halo_action
        )
        out = build(tenant, spec, held["body"], Links(str(entry.client.psa_company_id)))
        assert out is not None
        assert json.loads(out.body)["payload"]["nature"] == str(entry.nature), entry.ref
        assert out.ref == entry.ref


def test_datto_lists_open_alerts_and_tactical_keeps_resolved_ones() -> None:
    at = datetime(2026, 1, 6, 9, tzinfo=UTC)
    raised = {"status": "raised", "alert_uid": "u-1", "alert_priority": "High"}
    datto_raised = apis.api_from_emission(Emission(at, Source.dattormm, json.dumps(raised)))
    datto_gone = apis.api_from_emission(
        Emission(at, Source.dattormm, json.dumps(raised | {"status": "resolved"}))
    )
    assert datto_raised[0]["body"]["alertUid"] == "u-1"
    assert datto_gone[0]["deleted"] is True and datto_gone[0]["body"] is None
    resolved = {"event": "resolved", "alert_id": 7, "resolved_on": "2026-01-06 10:00:00"}
    (tactical,) = apis.api_from_emission(Emission(at, Source.tacticalrmm, json.dumps(resolved)))
    assert tactical["body"]["resolved"] is True and tactical["id"] == "7"


def test_the_own_tools_posts_are_never_lost() -> None:
    at = datetime(2026, 1, 6, tzinfo=UTC)
    own = [Emission(at, Source.canonical, f'{{"n":{n}}}') for n in range(200)]
    kept, logged = apis.lose(own, random.Random(1), 0.5)
    assert sorted(kept, key=lambda e: e.body) == sorted(own, key=lambda e: e.body)
    assert logged == []


# -- evaluate's accounting of polled records ------------------------------------------------


def outcome(seq: int, source: str, ids: tuple[str, ...], accepted: int) -> Outcome:
    return Outcome(seq, source, 202, ids, accepted, f"body-{seq}")


def test_work_of_the_truth_no_path_brought_is_lost() -> None:
    accounting = scoring.account(
        [outcome(1, "connectwise", ("e1",), 1), outcome(2, "poll:canonical", ("e2",), 1)],
        published=["e1", "e2"],
        unprocessed=[],
        dead_lettered=[],
        work_refs_published=["autotask:time_entry:1"],
        labelled_refs=["autotask:time_entry:1"],
        expected_work=["autotask:time_entry:1", "autotask:time_entry:2"],
    )
    assert accounting.lost == 1
    assert accounting.lost_examples[0]["ref"] == "autotask:time_entry:2"
    assert (accounting.deliveries, accounting.polled, accounting.polled_new) == (1, 1, 1)


def test_a_record_by_webhook_and_by_poll_counts_once() -> None:
    """The poll's post of a record the webhook brought is the same event: not new again."""
    accounting = scoring.account(
        [outcome(1, "connectwise", ("e1",), 1), outcome(2, "poll:connectwise", ("e1",), 0)],
        published=["e1"],
        unprocessed=[],
        dead_lettered=[],
        work_refs_published=[],
        labelled_refs=[],
    )
    assert (accounting.lost, accounting.duplicated, accounting.accepted_events) == (0, 0, 1)
    twice = scoring.account(
        [outcome(1, "connectwise", ("e1",), 1), outcome(2, "poll:connectwise", ("e1",), 1)],
        published=["e1"],
        unprocessed=[],
        dead_lettered=[],
        work_refs_published=[],
        labelled_refs=[],
    )
    assert twice.duplicated == 1


def test_the_pollers_progress_is_read_from_its_metrics() -> None:
    text = (
        "# HELP partnerpulse_poll_last_success_timestamp_seconds Start of the last run\n"
        "# TYPE partnerpulse_poll_last_success_timestamp_seconds gauge\n"
        "partnerpulse_poll_last_success_timestamp_seconds"
        '{entity="Tickets",source="autotask"} 1.7e9\n'
        'partnerpulse_poll_lag_seconds{entity="Tickets",source="autotask"} 3.0\n'
    )
    assert last_successes(text) == {("autotask", "Tickets"): 1.7e9}
