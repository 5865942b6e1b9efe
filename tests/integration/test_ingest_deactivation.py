"""Autotask's webhook deactivation URL on the real ingest (uvicorn, real HTTP): the call is
answered, counted and logged by name, never with the webhook's secret."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from services.ingest.deactivation import MAX_BYTES
from services.platform import local_http

pytestmark = pytest.mark.integration

URL = "/v1/webhooks/autotask/deactivated"


def test_autotask_deactivating_its_webhook_is_counted_and_logged_without_the_secret(
    ingest_factory: Any, caplog: pytest.LogCaptureFixture
) -> None:
    ingest = ingest_factory(None)
    name = "partnerpulse_ingest_webhook_deactivations_total"
    assert ingest.metric(name, source="autotask") == 0
    notice = {"id": 12, "Name": "partnerpulse tickets", "SecretKey": "s3cr3t-never-logged"}
    with caplog.at_level(logging.WARNING, logger="partnerpulse.ingest"):
        answer = local_http.post(ingest.url + URL, content=json.dumps(notice))
    assert answer.status_code == 200, answer.text
    assert ingest.metric(name, source="autotask") == 1
    assert (
        ingest.metric(
            "partnerpulse_ingest_webhook_deactivated_timestamp_seconds", source="autotask"
        )
        > 0
    )
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "name=partnerpulse tickets" in logged and "id=12" in logged
    assert "s3cr3t" not in logged
    metrics = local_http.get(ingest.url + "/metrics").text
    assert 'partnerpulse_ingest_webhook_deactivations_total{source="autotask"} 1.0' in metrics


def test_a_body_too_large_for_a_notice_is_refused(ingest_factory: Any) -> None:
    ingest = ingest_factory(None)
    answer = local_http.post(ingest.url + URL, content=b"x" * (MAX_BYTES + 1))
    assert answer.status_code == 413
    assert "bytes" in answer.json()["error"]
    assert ingest.metric("partnerpulse_ingest_webhook_deactivations_total", source="autotask") == 0
