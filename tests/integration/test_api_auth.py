"""Who may read and act, through real HTTP: API tokens on the classifier's query API and
the alerts API, the Grafana webhook, hostile query and body input, and the example
tenant's public secrets (docs/security.md, "Authentication and exposure").

- the classifier runs as `partnerpulse classifier` on the embedded broker;
- the alerts API is its app under uvicorn (no broker: no consumer needed here);
- `partnerpulse up` with the example tenant is what `make run` starts.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.alerts.app import create_app as create_alerts_app
from services.alerts.settings import AlertsSettings
from services.events.tenant import Tenant
from services.platform import local_http
from services.runtime.auth import ApiToken, Scope, bearer, new_token
from services.runtime.broker import EmbeddedBroker, free_port

from .conftest import REPO, serve

pytestmark = pytest.mark.integration

FIXTURE_TENANT = REPO / "tests" / "fixtures" / "tenant.yaml"
EXAMPLE_TENANT = REPO / "deploy" / "tenant.example.yaml"
OLD_READER, OLD_READER_ENTRY = new_token("dashboards")  # being rotated out
READER, READER_ENTRY = new_token("dashboards")
ALICE, ALICE_ENTRY = new_token("alice", Scope.ack)
TOKENS = [OLD_READER_ENTRY, READER_ENTRY, ALICE_ENTRY]
GRAFANA_SECRET = "grafana-auth-test-secret"


def env_of(data_dir: Path, tokens: list[ApiToken], **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARTNERPULSE_")}
    env.update(
        PARTNERPULSE_DATA_DIR=str(data_dir),
        PARTNERPULSE_TENANT_FILE=str(FIXTURE_TENANT),
        PARTNERPULSE_SETTINGS_FILE=str(data_dir / "no-settings.yaml"),
        PARTNERPULSE_API_TOKENS=json.dumps([t.line() for t in tokens]),
    )
    env.update(extra)
    return env


def wait_healthy(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        assert proc.poll() is None, log.read_text(errors="replace")
        assert time.monotonic() < deadline, log.read_text(errors="replace")
        try:
            if local_http.get(f"{url}/healthz").status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)


def assert_unauthorized(response: httpx.Response, error: str | None = None) -> None:
    assert response.status_code == 401, response.text
    challenge = response.headers["WWW-Authenticate"]
    assert challenge.startswith('Bearer realm="partnerpulse"')
    if error:
        assert f'error="{error}"' in challenge


# -- the classifier's query and report API --------------------------------------------------


@pytest.fixture(scope="module")
def classifier(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`partnerpulse classifier` with three tokens and /metrics behind a token."""
    data_dir = tmp_path_factory.mktemp("classifier")
    port = free_port()
    log = data_dir / "classifier.log"
    with EmbeddedBroker() as broker:
        env = env_of(
            data_dir,
            TOKENS,
            PARTNERPULSE_KAFKA_BOOTSTRAP=broker.bootstrap,
            PARTNERPULSE_CLASSIFIER_PORT=str(port),
            PARTNERPULSE_METRICS_REQUIRE_TOKEN="1",
        )
        with log.open("ab") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "services.cli", "classifier"],
                env=env,
                cwd=data_dir,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        url = f"http://127.0.0.1:{port}"
        try:
            wait_healthy(url, proc, log)
            yield url
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def test_the_query_api_answers_only_a_configured_token(classifier: str) -> None:
    routes = [
        "/v1/clients",
        "/v1/clients/acme?days=90",
        "/v1/clients/acme/daily",
        "/v1/status",
        "/metrics",
    ]
    for route in routes:
        assert_unauthorized(local_http.get(f"{classifier}{route}"))
        forged = local_http.get(
            f"{classifier}{route}", headers=bearer(READER + "x"), trust_env=False
        )
        assert_unauthorized(forged, "invalid_token")
        for token in (OLD_READER, READER, ALICE):  # rotation: old and new at once; ack reads
            answer = local_http.get(f"{classifier}{route}", headers=bearer(token))
            assert answer.status_code == 200, (route, answer.text)
    assert_unauthorized(local_http.post(f"{classifier}/v1/processed", json={"event_ids": ["e1"]}))
    listed = local_http.get(f"{classifier}/v1/clients", headers=bearer(READER))
    assert {c["client_id"] for c in listed.json()} >= {"acme"}
    assert local_http.get(f"{classifier}/healthz").status_code == 200


@pytest.mark.parametrize("days", ["nan", "inf", "1e309", "-5", "0", "3661", "ninety"])
def test_a_report_period_out_of_range_is_a_400_naming_days(classifier: str, days: str) -> None:
    answer = local_http.get(
        f"{classifier}/v1/clients/acme", params={"days": days}, headers=bearer(READER)
    )
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"].startswith("days must")


@pytest.mark.parametrize(
    ("query", "error"),
    [
        ({"from": "yesterday"}, "from and to are dates"),
        ({"from": "2026-05-02", "to": "2026-05-01"}, "from is after to"),
        ({"from": "2025-01-01", "to": "2026-05-01"}, "at most 400 days"),
    ],
)
def test_a_daily_range_out_of_bounds_is_a_400_saying_why(
    classifier: str, query: dict[str, str], error: str
) -> None:
    answer = local_http.get(
        f"{classifier}/v1/clients/acme/daily", params=query, headers=bearer(READER)
    )
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"].startswith(error)


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"[" * 100_000 + b"]" * 100_000, 400),
        (b'{"event_ids": [' + b"9" * 5000 + b"]}", 400),
        (b'{"event_ids": "e1"}', 400),
        (b'{"event_ids": ["' + b"e" * (1024 * 1024) + b'"]}', 413),
    ],
    ids=["deep-json", "huge-integer", "not-a-list", "over-1-MiB"],
)
def test_hostile_processed_bodies_are_refused_not_500(
    classifier: str, body: bytes, status: int
) -> None:
    answer = local_http.post(
        f"{classifier}/v1/processed",
        content=body,
        headers={"content-type": "application/json", **bearer(READER)},
        trust_env=False,
    )
    assert answer.status_code == status, answer.text[:300]
    chunked = local_http.post(  # no Content-Length: the limit holds on what is read
        f"{classifier}/v1/processed",
        content=iter([body]),
        headers=bearer(READER),
        trust_env=False,
    )
    assert chunked.status_code == status, chunked.text[:300]
    good = local_http.post(
        f"{classifier}/v1/processed", json={"event_ids": ["e1"]}, headers=bearer(READER)
    )
    assert good.json() == {"processed": 0, "missing": ["e1"]}


# -- the alerts API and the Grafana webhook -------------------------------------------------


def start_alerts(tenant: Tenant, data_dir: Path, **settings: Any) -> tuple[str, Any]:
    port = free_port()
    config = AlertsSettings(
        **{
            "data_dir": data_dir,
            "alerts_port": port,
            "api_tokens": TOKENS,
            "alerts_smtp_port": free_port(),  # nobody listens: mail waits in the outbox
            **settings,
        }
    )
    server, thread = serve(create_alerts_app(config, tenant), port)
    return f"http://127.0.0.1:{port}", (server, thread)


@pytest.fixture
def alerts_factory(tmp_path: Path, tenant: Tenant) -> Iterator[Any]:
    started: list[Any] = []

    def make(**settings: Any) -> str:
        url, running = start_alerts(tenant, tmp_path / f"var{len(started)}", **settings)
        started.append(running)
        return url

    yield make
    for server, thread in started:
        server.should_exit = True
        thread.join(20)


def grafana_post(url: str, body: bytes, secret: str | None = GRAFANA_SECRET) -> httpx.Response:
    headers = {"content-type": "application/json"}
    if secret is not None:
        headers["X-Grafana-Alerting-Signature"] = hmac.new(
            secret.encode(), body, hashlib.sha256
        ).hexdigest()
    return local_http.post(f"{url}/v1/grafana", content=body, headers=headers)


def notification() -> bytes:
    alert = {
        "status": "firing",
        "labels": {"alertname": "PartnerpulseIngestRejecting", "severity": "warning"},
        "annotations": {"summary": "Ingest is refusing deliveries"},
        "startsAt": "2026-03-02T09:58:00Z",
        "fingerprint": "0a1b2c3d4e5f",
    }
    return json.dumps({"receiver": "partnerpulse", "status": "firing", "alerts": [alert]}).encode()


def test_the_acknowledger_is_the_token_holder_and_reading_cannot_acknowledge(
    alerts_factory: Any,
) -> None:
    url = alerts_factory(alerts_grafana_secrets=[GRAFANA_SECRET])
    for route in ("/v1/alerts", "/openapi.json", "/docs", "/v1/alerts/al-nope"):
        assert_unauthorized(local_http.get(f"{url}{route}"))
    assert local_http.get(f"{url}/healthz").status_code == 200
    assert local_http.get(f"{url}/metrics").status_code == 200  # default: open
    assert grafana_post(url, notification()).status_code == 200
    [alert] = local_http.get(f"{url}/v1/alerts", headers=bearer(READER)).json()
    ack = f"{url}/v1/alerts/{alert['id']}/ack"

    assert_unauthorized(local_http.post(ack, json={"by": "alice"}))
    weak = local_http.post(ack, json={"by": "alice"}, headers=bearer(READER))
    assert weak.status_code == 403, weak.text
    assert 'error="insufficient_scope", scope="ack"' in weak.headers["WWW-Authenticate"]
    assert (
        local_http.get(ack.removesuffix("/ack"), headers=bearer(READER)).json()["state"] == "open"
    )

    done = local_http.post(ack, json={"by": "mallory"}, headers=bearer(ALICE))
    assert done.status_code == 200, done.text
    assert done.json()["state"] == "acknowledged"
    assert done.json()["acknowledged_by"] == "alice"  # the token's name, never the body's
    unknown = local_http.post(
        f"{url}/v1/alerts/al-nope/ack", headers=bearer(ALICE), trust_env=False
    )
    assert unknown.status_code == 404, unknown.text


def test_metrics_behind_a_token_when_configured(alerts_factory: Any) -> None:
    url = alerts_factory(metrics_require_token=True)
    assert_unauthorized(local_http.get(f"{url}/metrics"))
    assert local_http.get(f"{url}/metrics", headers=bearer(READER)).status_code == 200
    assert local_http.get(f"{url}/readyz").status_code in (200, 503)  # no token


def test_without_a_grafana_secret_the_webhook_accepts_nothing(alerts_factory: Any) -> None:
    url = alerts_factory()
    refused = grafana_post(url, notification(), secret=None)
    assert refused.status_code == 403, refused.text
    assert "PARTNERPULSE_ALERTS_GRAFANA_SECRETS" in refused.json()["error"]
    assert grafana_post(url, notification(), secret="anything").status_code == 403
    assert local_http.get(f"{url}/v1/alerts", headers=bearer(READER)).json() == []


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b'{"alerts": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", 400),
        (b'{"alerts": [], "n": ' + b"9" * 5000 + b"}", 400),
        (
            b'{"alerts": [{"status": "firing", "fingerprint": "f", "startsAt": '
            b'"2026-03-02T09:58:00Z", "labels": {"a": ' + b"[" * 1000 + b"]" * 1000 + b"}}]}",
            422,
        ),
        (b"{" + b" " * (1024 * 1024) + b"}", 413),
    ],
    ids=["deep-json", "huge-integer", "deep-label", "over-the-limit"],
)
def test_hostile_grafana_bodies_are_refused_not_500(
    alerts_factory: Any, body: bytes, status: int
) -> None:
    url = alerts_factory(alerts_grafana_secrets=[GRAFANA_SECRET])
    answer = grafana_post(url, body)
    assert answer.status_code == status, answer.text[:300]


# -- the example tenant and `partnerpulse up` ---------------------------------------------


@pytest.mark.parametrize("service", ["ingest", "classifier", "alerts"])
def test_services_refuse_the_example_tenant_without_the_dev_switch(
    tmp_path: Path, service: str
) -> None:
    env = env_of(
        tmp_path,
        TOKENS,
        PARTNERPULSE_TENANT_FILE=str(EXAMPLE_TENANT),
        PARTNERPULSE_KAFKA_BOOTSTRAP=f"127.0.0.1:{free_port()}",  # never reached
    )
    run = subprocess.run(
        [sys.executable, "-m", "services.cli", service],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 2, run.stdout + run.stderr
    assert "this is the example tenant" in run.stderr
    assert "PARTNERPULSE_ALLOW_EXAMPLE_TENANT" in run.stderr


def test_up_runs_the_example_tenant_on_loopback_only(tmp_path: Path) -> None:
    env = env_of(
        tmp_path,
        [],
        PARTNERPULSE_TENANT_FILE=str(EXAMPLE_TENANT),
        PARTNERPULSE_INGEST_HOST="0.0.0.0",
    )
    del env["PARTNERPULSE_API_TOKENS"]
    run = subprocess.run(
        [sys.executable, "-m", "services.cli", "up", "--broker-port", str(free_port())],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 2, run.stdout + run.stderr
    assert "loopback only, not with PARTNERPULSE_INGEST_HOST=0.0.0.0" in run.stderr


@pytest.mark.acceptance
def test_make_run_with_the_example_tenant_gives_its_tools_a_private_token(tmp_path: Path) -> None:
    """What `make run` starts: the example tenant on loopback, a local API token (0600)
    for the README's tools, the README's ConnectWise `send --curl`, and no Grafana webhook."""
    data_dir = tmp_path / "var"
    ports = {name: free_port() for name in ("INGEST", "RELAY", "CLASSIFIER", "ALERTS")}
    env = env_of(
        data_dir,
        [],
        PARTNERPULSE_TENANT_FILE=str(EXAMPLE_TENANT),
        **{f"PARTNERPULSE_{name}_PORT": str(port) for name, port in ports.items()},
    )
    del env["PARTNERPULSE_API_TOKENS"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "services.cli", "up", "--broker-port", str(free_port())],
        env=env,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    assert proc.stdout is not None
    output: list[str] = []
    try:
        for line in proc.stdout:
            output.append(line)
            if "running; Ctrl+C stops everything" in line:
                break
        else:
            raise AssertionError("up exited early:\n" + "".join(output))
        printed = "".join(output)
        token_file = data_dir / "api-token"
        assert f"API token (scope ack) for the query and alerts APIs in {token_file}" in printed
        assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
        token = token_file.read_text().strip()
        assert token not in printed, "the token itself is never printed"
        assert "development mode on loopback" in printed

        classifier = f"http://127.0.0.1:{ports['CLASSIFIER']}"
        alerts = f"http://127.0.0.1:{ports['ALERTS']}"
        assert_unauthorized(local_http.get(f"{classifier}/v1/clients"))
        assert local_http.get(f"{classifier}/v1/clients", headers=bearer(token)).status_code == 200
        assert_unauthorized(local_http.get(f"{alerts}/v1/alerts"))
        assert local_http.get(f"{alerts}/v1/alerts", headers=bearer(token)).status_code == 200
        assert grafana_post(alerts, notification(), secret=None).status_code == 403

        send = subprocess.run(
            [
                *(sys.executable, "-m", "services.cli", "send", "connectwise"),
                *("examples/connectwise-ticket-added.json", "--curl"),
                *("--url", f"http://127.0.0.1:{ports['INGEST']}"),
            ],
            env={k: v for k, v in env.items() if k != "PARTNERPULSE_TENANT_FILE"},
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert send.stdout.strip().endswith("202"), send.stdout + send.stderr
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        proc.communicate(timeout=60)


def test_the_token_command_prints_a_token_and_the_entry_that_admits_it(
    tmp_path: Path, tenant: Tenant
) -> None:
    made = subprocess.run(
        [sys.executable, "-m", "services.cli", "token", "ops-bot", "--scope", "ack"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    token, entry = made.stdout.split()
    assert entry.startswith("ops-bot:ack:sha256:") and token not in entry
    url, (server, thread) = start_alerts(
        tenant, tmp_path / "var", api_tokens=[ApiToken.model_validate(entry)]
    )
    try:
        assert local_http.get(f"{url}/v1/alerts", headers=bearer(token)).status_code == 200
        assert_unauthorized(local_http.get(f"{url}/v1/alerts", headers=bearer(READER)))
    finally:
        server.should_exit = True
        thread.join(20)
