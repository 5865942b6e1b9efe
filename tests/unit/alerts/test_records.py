"""An alert carries its record typed (Signal, HealthSnapshot or Grafana alert); the store
keeps it as JSON and gives back the same typed record; a stored record that no longer
reads is reported (log, notice's last error, 409) instead of stopping the service."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
from fastapi import FastAPI
from pydantic import ValidationError

from services.alerts import grafana
from services.alerts.app import create_app
from services.alerts.consumer import RecordConsumer, decode
from services.alerts.engine import Alerting
from services.alerts.metrics import AlertsMetrics
from services.alerts.model import Alert, AlertKind, AlertState, Purpose, Role
from services.alerts.settings import AlertsSettings
from services.alerts.store import Store, UnreadableRecord
from services.events import topics
from services.events.outputs import (
    Band,
    Behaviour,
    HealthSnapshot,
    Severity,
    Signal,
    SignalStatus,
)
from services.events.tenant import Tenant
from services.runtime.auth import Scope, bearer, new_token

from .records import NOW, Harness, harness, health, incoming, signal
from .test_grafana_and_formats import grafana_body

TOKEN, TOKEN_ENTRY = new_token("alice", Scope.ack)


def stored(h: Harness, kind: AlertKind) -> Alert:
    with h.engine.store.transaction() as tx:
        (alert,) = tx.active_alerts(kind=kind)
    return alert


def corrupt(store: Store, alert_id: str, record: str) -> None:
    with store.transaction() as tx:
        tx.conn.execute("UPDATE alerts SET record = ? WHERE id = ?", (record, alert_id))


def test_each_kind_of_record_comes_back_from_the_store_as_the_same_typed_value(
    tmp_path: Path, tenant: Tenant
) -> None:
    h = harness(tmp_path, tenant)
    sig, snap = signal(evidence=3), health(components={"direct_to_tech": 35.5})
    (firing,) = grafana.parse(grafana_body(client="acme"))
    h.feed(sig, snap)
    h.engine.take_grafana([firing], h.now)

    # Read back by a second store on the same file: nothing is held in memory.
    again = Store(h.engine.store.path)
    with again.transaction() as tx:
        by_kind = {a.kind: a for a in tx.active_alerts()}
    assert set(by_kind) == {AlertKind.signal, AlertKind.band, AlertKind.grafana}
    assert isinstance(by_kind[AlertKind.signal].record, Signal)
    assert by_kind[AlertKind.signal].record == sig
    assert isinstance(by_kind[AlertKind.band].record, HealthSnapshot)
    assert by_kind[AlertKind.band].record == snap
    assert by_kind[AlertKind.grafana].record == firing
    # The whole alert round-trips, not just its record.
    for kind, alert in by_kind.items():
        assert alert == stored(h, kind)
    again.close()


def test_the_stored_and_served_json_is_the_classifiers_and_grafanas_own(
    tmp_path: Path, tenant: Tenant
) -> None:
    """The store and the API keep the JSON they always had: the contract's, and Grafana's."""
    h = harness(tmp_path, tenant)
    sig = signal()
    h.feed(sig)
    h.engine.take_grafana(grafana.parse(grafana_body()), h.now)
    with h.engine.store.transaction() as tx:
        rows = dict(tx.conn.execute("SELECT kind, record FROM alerts").fetchall())
    assert json.loads(rows["signal"]) == json.loads(sig.model_dump_json())
    assert json.loads(rows["grafana"])["startsAt"] == "2026-03-02T09:58:00Z"
    assert json.loads(rows["grafana"])["generatorURL"].startswith("http://grafana.example/")
    views = {v["kind"]: v for v in h.engine.listing()}
    assert views["signal"]["record"] == json.loads(rows["signal"])
    assert views["grafana"]["record"] == json.loads(rows["grafana"])


def test_an_alert_refuses_a_record_of_another_kind() -> None:
    with pytest.raises(TypeError, match="a band alert carries a HealthSnapshot, not a Signal"):
        Alert(
            id="al-1",
            key="band:acme",
            kind=AlertKind.band,
            client_id="acme",
            client_name=None,
            risk="red_band",
            severity=Severity.critical,
            state=AlertState.open,
            version=1,
            record=signal(),
            routed_to=Role.lead,
            opened_at=NOW,
            updated_at=NOW,
        )


def test_a_damaged_record_is_named_and_the_service_goes_on(
    tmp_path: Path, tenant: Tenant, caplog: pytest.LogCaptureFixture
) -> None:
    h = harness(tmp_path, tenant, settle=2.0)
    h.feed(signal())  # its opened notice waits for the settle time
    damaged = stored(h, AlertKind.signal)
    corrupt(h.engine.store, damaged.id, json.dumps({"tenant": "northwind-msp", "version": 0}))

    with h.engine.store.transaction() as tx, pytest.raises(UnreadableRecord) as caught:
        tx.alert(damaged.id)
    assert str(caught.value).startswith(f"alert {damaged.id}: its stored signal record cannot")
    assert "client_id: Field required" in str(caught.value)  # the first field that is wrong

    caplog.set_level(logging.ERROR)
    # Another client's risk in the same batch as an update of the damaged one.
    other = signal("globex", Behaviour.late_reporting)
    h.feed(signal(version=2), other)
    h.run(NOW + 600)  # ticks, renders and sends: nothing raises
    assert {(n.alert_id, m.subject) for n, m in h.delivered} == {
        (stored(h, AlertKind.signal).id, "[partnerpulse] Globex Logistics: problems reported late")
    }  # by email and Slack to Globex's lead
    with h.engine.store.transaction() as tx:
        (notice,) = tx.notices(damaged.id)
    assert notice.purpose is Purpose.opened and notice.state == "failed"
    assert notice.last_error is not None and damaged.id in notice.last_error
    assert [v["client_id"] for v in h.engine.listing()] == ["globex"]
    assert damaged.id in caplog.text and "cannot be read" in caplog.text
    # Logged once, not at every tick.
    h.run(NOW + 1200)
    assert caplog.text.count("left out of listings") == 1


def test_a_damaged_grafana_record_does_not_refuse_grafanas_notification(
    tmp_path: Path, tenant: Tenant
) -> None:
    h = harness(tmp_path, tenant)
    (firing,) = grafana.parse(grafana_body())
    (ident,) = h.engine.take_grafana([firing], h.now)
    corrupt(h.engine.store, ident, json.dumps({"fingerprint": "x", "status": "paused"}))
    assert h.engine.take_grafana(grafana.parse(grafana_body("resolved")), h.now) == []
    with h.engine.store.transaction() as tx, pytest.raises(UnreadableRecord, match="paused"):
        tx.alert(ident)


def test_a_damaged_red_band_is_not_opened_again_by_the_next_red_judgement(
    tmp_path: Path, tenant: Tenant
) -> None:
    h = harness(tmp_path, tenant)
    h.feed(health(seq=1))
    band = stored(h, AlertKind.band)
    corrupt(h.engine.store, band.id, json.dumps({"band": "red"}))
    h.feed(health(seq=2, day=1), health("globex", seq=1))  # still red; another client red
    with h.engine.store.transaction() as tx:
        keys = [k for (k,) in tx.conn.execute("SELECT key FROM alerts ORDER BY key")]
    assert keys == [band.key, "band:globex:2026-03-02T09:00:00+00:00"]


@pytest.fixture
def app(tmp_path: Path, tenant: Tenant, monkeypatch: pytest.MonkeyPatch) -> Iterator[FastAPI]:
    """The real app, in-process (its workers are not started: no broker, no SMTP)."""
    monkeypatch.setenv("PARTNERPULSE_SETTINGS_FILE", str(tmp_path / "none.yaml"))
    app = create_app(AlertsSettings(data_dir=tmp_path, api_tokens=[TOKEN_ENTRY]), tenant)
    yield app
    app.state.engine.store.close()


def test_the_api_serves_the_typed_record_as_before_and_names_a_damaged_one(app: FastAPI) -> None:
    engine: Alerting = app.state.engine
    sig, snap = signal(), health(band=Band.red)
    engine.take_records([incoming(sig), incoming(snap)], NOW)

    async def scenario() -> None:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://alerts", headers=bearer(TOKEN)
        ) as client:
            by_kind = {v["kind"]: v for v in (await client.get("/v1/alerts")).json()}
            assert by_kind["signal"]["record"] == sig.model_dump(mode="json")
            assert by_kind["band"]["record"] == snap.model_dump(mode="json")

            damaged = by_kind["signal"]["id"]
            corrupt(engine.store, damaged, "not json")
            answer = await client.get(f"/v1/alerts/{damaged}")
            assert answer.status_code == 409
            assert (
                f"alert {damaged}: its stored signal record cannot be read"
                in (answer.json()["detail"])
            )
            assert (await client.post(f"/v1/alerts/{damaged}/ack")).status_code == 409
            listing = await client.get("/v1/alerts")
            assert listing.status_code == 200
            assert [v["kind"] for v in listing.json()] == ["band"]

    asyncio.run(scenario())


def test_the_consumer_parses_each_record_once_and_skips_an_invalid_one(
    tmp_path: Path, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the consumer hands the engine is typed; a record that is not the topic's
    contract is counted, logged and skipped, and the valid ones of its batch go on."""
    monkeypatch.setenv("PARTNERPULSE_SETTINGS_FILE", str(tmp_path / "none.yaml"))
    h = harness(tmp_path, tenant)
    metrics = AlertsMetrics()
    consumer = RecordConsumer(h.engine, "127.0.0.1:9", AlertsSettings(), metrics)
    sig = signal()
    batch = {
        "partition 0": [
            SimpleNamespace(topic=topics.SIGNALS, value=b'{"tenant": 1}', timestamp=0),
            SimpleNamespace(
                topic=topics.SIGNALS, value=sig.model_dump_json().encode(), timestamp=NOW * 1000
            ),
            SimpleNamespace(topic=topics.HEALTH, value=sig.model_dump_json().encode(), timestamp=0),
        ]
    }
    consumer._apply(batch)

    assert stored(h, AlertKind.signal).record == sig
    sample = metrics.registry.get_sample_value
    assert sample("partnerpulse_alerts_records_consumed_total", {"topic": topics.SIGNALS}) == 2
    assert sample("partnerpulse_alerts_records_consumed_total", {"topic": topics.HEALTH}) == 1
    assert sample("partnerpulse_alerts_records_invalid_total", {"topic": topics.SIGNALS}) == 1
    assert sample("partnerpulse_alerts_records_invalid_total", {"topic": topics.HEALTH}) == 1
    assert isinstance(decode(topics.HEALTH, health().model_dump_json().encode()), HealthSnapshot)


def test_a_signal_status_is_open_resolved_or_withdrawn_and_nothing_else() -> None:
    """The three states of an episode are the contract; a record claiming another (a
    typo, a newer classifier's state) is refused rather than read as "not open"."""
    for status in SignalStatus:
        raw = signal(status=status).model_dump_json().encode()
        assert decode(topics.SIGNALS, raw).status is status
        assert json.loads(raw)["status"] == status.value  # plain strings on the topic
    closed = json.loads(signal().model_dump_json()) | {"status": "closed"}
    with pytest.raises(ValidationError, match="status"):
        decode(topics.SIGNALS, json.dumps(closed).encode())
