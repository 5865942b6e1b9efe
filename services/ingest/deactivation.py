"""Autotask's webhook deactivation URL: `POST /v1/webhooks/autotask/deactivated`.

Autotask requires a Deactivation URL when a webhook is created, "a separate URL that the
API calls when the webhook (not the entity) is deleted or inactivated", for example when
the resource who created it is deactivated. From then on Autotask sends no callout: the
poller still reads tickets, but the pipeline has lost its push path. Ingest answers the
call with 200, logs a warning naming the webhook (its id, name and GUID only: the body may
hold the webhook's SecretKey), and counts it
(`partnerpulse_ingest_webhook_deactivations_total`, and the time of the last one), which
the `PartnerPulseWebhookDeactivated` alert rule turns into an alert. The call changes no
data, so it is accepted unauthenticated (Autotask documents no signature for it); its body
is bounded and never stored.
"""

from __future__ import annotations

import json
import logging
import re
import time
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from prometheus_client import CollectorRegistry, Counter, Gauge

log = logging.getLogger("partnerpulse.ingest")
MAX_BYTES = 65_536
_NAMED = ("id", "name", "webhookguid", "guid")  # what may be logged of the body
_PRINTABLE = re.compile(r"[^\w .:@/-]")


class DeactivationMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.calls = Counter(
            "partnerpulse_ingest_webhook_deactivations_total",
            "Calls of a vendor's webhook deactivation URL: the vendor stopped sending "
            "callouts (Autotask: the webhook was deleted or deactivated).",
            ["source"],
            registry=registry,
        )
        self.last = Gauge(
            "partnerpulse_ingest_webhook_deactivated_timestamp_seconds",
            "When the vendor last called its webhook deactivation URL (Unix time).",
            ["source"],
            registry=registry,
        )
        self.calls.labels("autotask")  # 0 from the start, so the alert rule has a series


def register(app: FastAPI, registry: CollectorRegistry) -> None:
    metrics = DeactivationMetrics(registry)
    calls, last = metrics.calls, metrics.last

    @app.post(
        "/v1/webhooks/autotask/deactivated",
        summary="Autotask's webhook Deactivation URL: Autotask stopped sending callouts",
        operation_id="webhook_autotask_deactivated",
    )
    async def autotask_deactivated(request: Request) -> JSONResponse:
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BYTES:
                return JSONResponse(
                    {"error": f"body over {MAX_BYTES} bytes: a deactivation notice is small"},
                    status_code=413,
                )
        calls.labels("autotask").inc()
        last.labels("autotask").set(time.time())
        log.warning(
            "autotask called the webhook deactivation URL (%s): Autotask sends no more "
            "callouts for it until it is re-activated; the poller still reads tickets",
            describe(body),
        )
        return JSONResponse({"status": "noted", "source": "autotask"})


def describe(body: bytes) -> str:
    """The webhook's id, name and GUID from the body, when it is JSON; never anything else."""
    try:
        document: Any = json.loads(body or b"{}")
    except ValueError:
        return "body not JSON"
    if isinstance(document, list) and document:
        document = document[0]
    if not isinstance(document, dict):
        return "no webhook named"
    fields = {str(k).lower(): v for k, v in document.items()}
    named = [
        f"{key}={_PRINTABLE.sub('', str(fields[key]))[:100]}"
        for key in _NAMED
        if fields.get(key) not in (None, "")
    ]
    return ", ".join(named) or "no webhook named"
