"""Property: no request makes a partnerpulse HTTP service answer 5xx, and each is still up
after a few hundred hostile ones (docs/security.md, "Fuzzing").

Through the real services: ingest under uvicorn (its journal, no broker), the classifier
as `partnerpulse classifier` on the embedded broker, the alerts API under uvicorn with a
Grafana secret. Requests with and without valid credentials (signed deliveries, API
tokens, Grafana signatures), hostile bodies (tests/fuzz/strategies.py), headers and
query strings. `make fuzz` does the same over the OpenAPI specs with schemathesis.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterator
from urllib.parse import quote, urlencode

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.events.models import Source
from services.events.tenant import Tenant
from services.ingest.adapters import ADAPTERS
from services.ingest.sender import Signer
from services.platform import local_http
from services.runtime.auth import bearer
from services.runtime.broker import free_port
from tests.fuzz.strategies import (
    bodies,
    hostile_headers,
    json_values,
    query_strings,
)

from .conftest import RunningIngest, start_ingest
from .test_api_auth import (
    ALICE,
    GRAFANA_SECRET,
    READER,
    start_alerts,
)
from .test_api_auth import classifier as classifier

pytestmark = pytest.mark.integration

HTTP_FUZZ = settings(
    max_examples=200,
    deadline=None,
    database=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,  # one server for every example, on purpose
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)

credentials = st.sampled_from(["none", "valid", "garbage"])


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    """One client (and its connections) for every request: the fuzz measures the server."""
    with httpx.Client(trust_env=False, timeout=30) as client:
        yield client


def wire(headers: dict[str, str]) -> dict[str, bytes]:
    """Header values as the bytes on the wire (latin-1, as servers decode them)."""
    # No surrounding whitespace: HTTP clients refuse to send it (servers would strip it).
    return {name: value.strip(" \t").encode("latin-1") for name, value in headers.items()}


def assert_no_server_error(response: httpx.Response) -> None:
    assert response.status_code < 500, (
        f"{response.request.method} {response.request.url}: {response.status_code} "
        f"{response.text[:300]}"
    )


# -- ingest -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ingest(tmp_path_factory: pytest.TempPathFactory, tenant: Tenant) -> Iterator[RunningIngest]:
    running, threads = start_ingest(tenant, tmp_path_factory.mktemp("ingest"), None)
    yield running
    running.server.should_exit = True
    for thread in threads:
        thread.join(20)


@pytest.fixture(scope="module")
def signer(tenant: Tenant) -> Iterator[Signer]:
    s = Signer(tenant)
    yield s
    s.close()


KEY_URL = f"http://127.0.0.1:{free_port()}/callback-key/fuzz"


def _is_utf8(body: bytes) -> bool:
    try:
        body.decode()
    except UnicodeDecodeError:
        return False
    return True


def _with_key_url(body: bytes) -> tuple[bytes, bool]:
    """A ConnectWise body whose Metadata.key_url is the signer's key server, when it is an
    object (else as it is: refused before any key is fetched)."""
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        return body, False
    if not isinstance(document, dict):
        return body, False
    document["Metadata"] = {"key_url": KEY_URL}
    return json.dumps(document).encode(), True


@HTTP_FUZZ
@given(data=st.data())
def test_no_delivery_makes_ingest_answer_5xx(
    ingest: RunningIngest, signer: Signer, http: httpx.Client, data: st.DataObject
) -> None:
    source = data.draw(st.sampled_from(list(Source)), label="source")
    body = data.draw(bodies(source), label="body")
    how = data.draw(credentials, label="credentials")
    headers = data.draw(hostile_headers, label="headers")
    if how == "valid":
        if source is Source.connectwise:
            body, served = _with_key_url(body)
            # The signer serves the key of a body it can read; another is signed as it is.
            headers.update(
                signer.headers(source, body)
                if served
                else ADAPTERS[source].sign(body, signer.tenant, signer.connectwise_key)
            )
        elif source is not Source.canonical or _is_utf8(body):  # Standard Webhooks signs text
            headers.update(signer.headers(source, body))
    query = urlencode(data.draw(query_strings, label="query"))
    path = "/v1/events" if source is Source.canonical and data.draw(st.booleans()) else None
    url = f"{ingest.url}{path or '/v1/webhooks/' + quote(source.value)}?{query}"
    response = http.post(url, content=body, headers=wire(headers))
    assert_no_server_error(response)


def test_ingest_is_still_up_after_the_fuzz(ingest: RunningIngest) -> None:
    """Runs after the fuzz (module order): the same server answers and is ready."""
    assert local_http.get(f"{ingest.url}/healthz").status_code == 200
    assert local_http.get(f"{ingest.url}/readyz").status_code == 200
    assert ingest.metric("partnerpulse_ingest_deliveries_received_total", source="autotask") > 0


# -- the classifier's query API ----------------------------------------------------------------


classifier_routes = st.sampled_from(
    [
        ("GET", "/v1/clients"),
        ("GET", "/v1/clients/acme"),
        ("GET", "/v1/clients/{id}"),
        ("GET", "/v1/clients/acme/daily"),
        ("GET", "/v1/status"),
        ("GET", "/openapi.json"),
        ("GET", "/metrics"),
        ("POST", "/v1/processed"),
        ("POST", "/v1/clients"),
        ("GET", "/v1/processed"),
        ("GET", "/{id}"),
    ]
)


def _token_header(how: str, token: str) -> dict[str, str]:
    if how == "valid":
        return bearer(token)
    if how == "garbage":
        return {"Authorization": "Basic " + base64.b64encode(b"x:pp_nope").decode()}
    return {}


def _processed_body(draw: st.DrawFn) -> bytes:
    ids = st.lists(st.text(max_size=30), max_size=20)
    return draw(
        st.one_of(
            ids.map(lambda i: json.dumps({"event_ids": i}).encode()),
            json_values.map(lambda v: json.dumps({"event_ids": v}).encode()),
            bodies(Source.canonical),
        )
    )


@HTTP_FUZZ
@given(data=st.data())
def test_no_request_makes_the_classifier_answer_5xx(
    classifier: str, http: httpx.Client, data: st.DataObject
) -> None:
    method, route = data.draw(classifier_routes, label="route")
    route = route.replace("{id}", quote(data.draw(st.text(min_size=1, max_size=20)), safe=""))
    query = urlencode(data.draw(query_strings, label="query"))
    headers = {
        **data.draw(hostile_headers, label="headers"),
        **_token_header(data.draw(credentials, label="credentials"), READER),
    }
    body = _processed_body(data.draw) if method == "POST" else None
    response = http.request(
        method,
        f"{classifier}{route}?{query}",
        content=body,
        headers=wire(headers),
    )
    assert_no_server_error(response)
    if route == "/v1/clients/acme" and not query and response.status_code == 200:
        assert response.json()["client_id"] == "acme"


def test_the_classifier_serves_its_openapi_document_to_a_reader_only(
    classifier: str,
) -> None:
    """What schemathesis reads in `make fuzz`: every query route, each of which answers."""
    assert local_http.get(f"{classifier}/openapi.json").status_code == 401
    spec = local_http.get(f"{classifier}/openapi.json", headers=bearer(READER))
    assert spec.status_code == 200
    paths = spec.json()["paths"]
    assert set(paths) == {
        "/healthz",
        "/v1/status",
        "/v1/clients",
        "/v1/clients/{client_id}",
        "/v1/clients/{client_id}/daily",
        "/v1/processed",
    }
    body = paths["/v1/processed"]["post"]["requestBody"]["content"]["application/json"]
    assert body["schema"]["required"] == ["event_ids"]
    detail = local_http.get(
        f"{classifier}/v1/clients/acme?days=30", headers=bearer(READER), trust_env=False
    )
    assert detail.status_code == 200 and detail.json()["client_id"] == "acme"


def test_the_classifier_is_still_up_after_the_fuzz(classifier: str) -> None:
    """Runs after the fuzz (module order): the same process answers, with its data."""
    assert local_http.get(f"{classifier}/healthz").status_code == 200
    clients = local_http.get(f"{classifier}/v1/clients", headers=bearer(READER))
    assert clients.status_code == 200
    assert {c["client_id"] for c in clients.json()} >= {"acme", "globex"}


# -- the alerts API and the Grafana webhook -------------------------------------------------


@pytest.fixture(scope="module")
def alerts(tmp_path_factory: pytest.TempPathFactory, tenant: Tenant) -> Iterator[str]:
    url, (server, thread) = start_alerts(
        tenant, tmp_path_factory.mktemp("alerts"), alerts_grafana_secrets=[GRAFANA_SECRET]
    )
    yield url
    server.should_exit = True
    thread.join(20)


alerts_routes = st.sampled_from(
    [
        ("GET", "/v1/alerts"),
        ("GET", "/v1/alerts/{id}"),
        ("POST", "/v1/alerts/{id}/ack"),
        ("POST", "/v1/grafana"),
        ("POST", "/v1/grafana"),
        ("GET", "/openapi.json"),
        ("GET", "/metrics"),
        ("GET", "/readyz"),
        ("DELETE", "/v1/alerts/{id}"),
    ]
)


@st.composite
def grafana_bodies(draw: st.DrawFn) -> bytes:
    alert = draw(
        st.fixed_dictionaries(
            {},
            optional={
                "status": st.sampled_from(["firing", "resolved"]) | json_values,
                "labels": st.dictionaries(st.text(max_size=10), json_values, max_size=3),
                "annotations": st.dictionaries(st.text(max_size=10), json_values, max_size=3),
                "startsAt": st.sampled_from(["2026-03-02T09:58:00Z", "x"]) | json_values,
                "fingerprint": st.text(max_size=12) | json_values,
            },
        )
    )
    return draw(
        st.one_of(
            st.just(json.dumps({"status": "firing", "alerts": [alert]}).encode()),
            json_values.map(lambda v: json.dumps({"alerts": v}).encode()),
            bodies(Source.canonical),
        )
    )


@HTTP_FUZZ
@given(data=st.data())
def test_no_request_makes_the_alerts_api_answer_5xx(
    alerts: str, http: httpx.Client, data: st.DataObject
) -> None:
    method, route = data.draw(alerts_routes, label="route")
    route = route.replace("{id}", quote(data.draw(st.text(min_size=1, max_size=20)), safe=""))
    query = urlencode(data.draw(query_strings, label="query"))
    how = data.draw(credentials, label="credentials")
    headers = {**data.draw(hostile_headers, label="headers"), **_token_header(how, ALICE)}
    body = None
    if route == "/v1/grafana":
        body = data.draw(grafana_bodies(), label="body")
        if how == "valid":
            headers["X-Grafana-Alerting-Signature"] = hmac.new(
                GRAFANA_SECRET.encode(), body, hashlib.sha256
            ).hexdigest()
    response = http.request(
        method,
        f"{alerts}{route}?{query}",
        content=body,
        headers=wire(headers),
    )
    assert_no_server_error(response)


def test_the_alerts_api_is_still_up_after_the_fuzz(alerts: str) -> None:
    assert local_http.get(f"{alerts}/healthz").status_code == 200
    listing = local_http.get(f"{alerts}/v1/alerts", headers=bearer(ALICE))
    assert listing.status_code == 200
