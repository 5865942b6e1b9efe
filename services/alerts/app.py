"""The alerts service (`partnerpulse alerts`): risks in, notifications out, an API.

Thin handlers over `Alerting`: the Kafka consumer and the outbox sender run
in threads beside the HTTP server. Every route but /healthz and /readyz asks for
an API token (services/runtime/auth.py): scope `read` for the alert list, `ack`
to acknowledge; /metrics only when `metrics_require_token`. /v1/grafana is
authenticated by Grafana's HMAC signature instead, and refuses everything until
a secret is configured.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, HTTPException, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from services.alerts import grafana
from services.alerts.channels import Channels
from services.alerts.consumer import RecordConsumer
from services.alerts.engine import Alerting, UnknownAlert
from services.alerts.metrics import AlertsMetrics
from services.alerts.model import AlertState
from services.alerts.reviews import Reviews, ReviewWorker, classifier_fetcher
from services.alerts.rows import UnreadableRecord
from services.alerts.sender import Sender
from services.alerts.settings import AlertsSettings
from services.alerts.store import Store
from services.events.tenant import Tenant, TenantConfigError, load_tenant
from services.runtime.auth import Principal, Scope, TokenGuard, Verifier

log = logging.getLogger("partnerpulse.alerts")


OPEN_ROUTES = frozenset({"/healthz", "/readyz", "/v1/grafana"})


def needed_scope(metrics_open: bool) -> Callable[[str, str], Scope | None]:
    """Which scope each request needs (None: open; /v1/grafana checks its own signature)."""

    def needs(method: str, path: str) -> Scope | None:
        if path in OPEN_ROUTES or (metrics_open and path == "/metrics"):
            return None
        if method == "POST" and path.startswith("/v1/alerts/") and path.endswith("/ack"):
            return Scope.ack
        return Scope.read

    return needs


class _TooLarge(Exception):
    pass


async def _bounded_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _TooLarge
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise _TooLarge
    return bytes(body)


def create_app(
    settings: AlertsSettings | None = None,
    tenant: Tenant | None = None,
    *,
    metrics: AlertsMetrics | None = None,
) -> FastAPI:
    settings = settings or AlertsSettings()
    tenant = tenant or load_tenant(settings.tenant_file)
    bad = tenant.alerts.bad_chat_urls()
    if bad:
        raise TenantConfigError(
            f"{settings.tenant_file}: {', '.join(bad)}: not an http(s) URL; write the "
            "channel's incoming-webhook URL (https://...), e.g. as ${SLACK_WEBHOOK_URL}"
        )
    metrics = metrics or AlertsMetrics()
    store = Store(settings.outbox_path)
    engine = Alerting(
        store,
        tenant,
        public_url=settings.public_url,
        mail_domain=settings.alerts_smtp_from.rpartition("@")[2] or "partnerpulse.invalid",
        settle=settings.alerts_settle_seconds,
    )
    metrics.watch(lambda: float(engine.depth(time.time())), engine.counts)
    channels = Channels(settings, tenant)
    sender = Sender(engine, channels, metrics, settings)
    reviews = Reviews(
        store,
        tenant,
        classifier_fetcher(settings),
        mail_domain=engine.mail_domain,
        retry_initial=settings.alerts_retry_initial_seconds,
        retry_max=settings.alerts_retry_max_seconds,
    )
    review_worker = ReviewWorker(reviews, tick=settings.alerts_tick_seconds)
    consumer = (
        RecordConsumer(engine, settings.kafka_bootstrap, settings, metrics)
        if settings.kafka_bootstrap
        else None
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        sender.start()
        review_worker.start()
        if consumer is not None:
            consumer.start()
        try:
            yield
        finally:
            if consumer is not None:
                consumer.stop()
            review_worker.stop()
            sender.stop()
            channels.close()
            store.close()

    app = FastAPI(
        title="partnerpulse alerts",
        version="1",
        summary="Relationship risks and Grafana alerts to account leads and ops, once each.",
        lifespan=lifespan,
    )
    app.state.engine = engine
    app.state.metrics = metrics
    app.add_middleware(
        TokenGuard,
        verifier=Verifier(settings.api_tokens),
        needs=needed_scope(not settings.metrics_require_token),
    )

    @app.get("/healthz", summary="Liveness")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", summary="Readiness: sending, and consuming from Kafka")
    def readyz() -> Response:
        checks: dict[str, Any] = {"sender_running": sender.alive()}
        if consumer is not None:
            checks["consumer_running"] = consumer.alive()
            checks["partitions_assigned"] = consumer.assigned
        ready = all(bool(v) for v in checks.values())
        return JSONResponse(
            {"status": "ready" if ready else "not ready", **checks},
            status_code=200 if ready else 503,
        )

    @app.get("/metrics", summary="Prometheus metrics", include_in_schema=False)
    def metrics_endpoint() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/v1/alerts", summary="Alerts with their state and notifications, newest first")
    def list_alerts(state: AlertState | None = None) -> list[dict[str, Any]]:
        return engine.listing(state)

    @app.get("/v1/reports", summary="Partnership reviews mailed to account leads, newest first")
    def list_reports() -> list[dict[str, Any]]:
        return reviews.listing()

    @app.get("/v1/alerts/{alert_id}", summary="One alert")
    def get_alert(alert_id: str) -> dict[str, Any]:
        try:
            return engine.view(alert_id)
        except UnknownAlert:
            raise HTTPException(404, f"no alert {alert_id!r}") from None
        except UnreadableRecord as exc:
            raise HTTPException(409, str(exc)) from None

    @app.post(
        "/v1/alerts/{alert_id}/ack",
        summary="Acknowledge an alert: no more reminders, no escalation",
    )
    def ack(alert_id: str, request: Request) -> dict[str, Any]:
        """Who acknowledges is the name of the API token (scope ack) the request carries."""
        principal: Principal = request.state.principal
        try:
            alert = engine.acknowledge(alert_id, principal.name, time.time())
        except UnknownAlert:
            raise HTTPException(404, f"no alert {alert_id!r}") from None
        except UnreadableRecord as exc:  # its stored record is damaged: say so, do not 500
            raise HTTPException(409, str(exc)) from None
        if alert.state is AlertState.resolved:
            raise HTTPException(409, f"alert {alert_id} is already resolved; nothing to stop")
        return engine.view(alert_id)

    @app.post("/v1/grafana", summary="Grafana webhook contact point")
    async def grafana_webhook(request: Request) -> Response:
        if not settings.alerts_grafana_secrets:
            metrics.grafana.labels(outcome="rejected").inc()
            return JSONResponse(
                {
                    "error": "the Grafana webhook is off: no HMAC secret is configured; set "
                    "PARTNERPULSE_ALERTS_GRAFANA_SECRETS and the same secret in the contact "
                    "point's HMAC settings"
                },
                status_code=403,
            )
        try:
            body = await _bounded_body(request, settings.alerts_max_body_bytes)
        except _TooLarge:
            metrics.grafana.labels(outcome="rejected").inc()
            return JSONResponse(
                {"error": f"body over {settings.alerts_max_body_bytes} bytes"}, status_code=413
            )
        try:
            grafana.verify(
                body,
                request.headers,
                settings.alerts_grafana_secrets,
                signature_header=settings.alerts_grafana_signature_header,
                timestamp_header=settings.alerts_grafana_timestamp_header,
                now=time.time(),
                max_skew=settings.alerts_grafana_max_skew_seconds,
            )
            alerts = grafana.parse(body)
        except grafana.GrafanaRejected as exc:
            metrics.grafana.labels(outcome="rejected").inc()
            log.warning("grafana notification refused (%d): %s", exc.status, exc)
            return JSONResponse({"error": str(exc)}, status_code=exc.status)
        ids = engine.take_grafana(alerts, time.time())
        metrics.grafana.labels(outcome="accepted").inc()
        return JSONResponse({"status": "accepted", "alerts": ids})

    return app
