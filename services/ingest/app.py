"""The ingest HTTP service: vendor webhooks in, canonical events durably journaled.

The handler is thin: read the body (bounded), authenticate with the vendor's
adapter, normalise, journal, answer. Kafka is reached only by the relay
thread, so a slow or absent broker never blocks a webhook.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import httpx
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from services.events import topics
from services.events.models import CanonicalEvent, Source
from services.events.tenant import Tenant, load_tenant
from services.ingest.adapters import ADAPTERS
from services.ingest.adapters.base import (
    AuthenticationError,
    Delivery,
    PayloadError,
    VendorAdapter,
)
from services.ingest.journal import Journal, JournalFull, Record
from services.ingest.keys import KeyRefused, KeyUnavailable, SigningKeyCache
from services.ingest.metrics import IngestMetrics
from services.ingest.relay import ProducerFactory, Relay, kafka_producer_factory
from services.ingest.settings import IngestSettings

log = logging.getLogger("partnerpulse.ingest")


class BodyTooLarge(Exception):
    pass


async def read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def event_record(event: CanonicalEvent) -> Record:
    return Record(
        topic=topics.EVENTS,
        key=event.client_id.encode(),
        value=event.model_dump_json().encode(),
        headers=[
            (topics.H_EVENT_ID, event.event_id.encode()),
            (topics.H_SOURCE, event.source.value.encode()),
            (topics.H_KIND, event.payload.kind.encode()),
        ],
        event_id=event.event_id,
        source=event.source.value,
    )


def dead_letter_record(delivery: Delivery, error: PayloadError) -> Record:
    return Record(
        topic=topics.DLQ,
        key=delivery.source.value.encode(),
        value=delivery.body,
        headers=[
            (topics.H_SOURCE, delivery.source.value.encode()),
            (topics.H_ERROR_STAGE, b"ingest"),
            (topics.H_ERROR_REASON, error.reason.encode()),
            (topics.H_ERROR_MESSAGE, str(error).encode()),
            (topics.H_RECEIVED_AT, delivery.received_at.isoformat().encode()),
            ("content-type", delivery.headers.get("content-type", "").encode()),
        ],
        source=delivery.source.value,
    )


class Ingest:
    """The state one ingest app holds: tenant, journal, relay, key cache, metrics."""

    def __init__(
        self,
        settings: IngestSettings,
        tenant: Tenant,
        producer_factory: ProducerFactory | None,
        metrics: IngestMetrics,
    ) -> None:
        self.settings = settings
        self.tenant = tenant
        self.metrics = metrics
        self.journal = Journal(
            settings.journal_path,
            max_pending=settings.ingest_journal_max_pending,
            synchronous=settings.ingest_journal_sync,
        )
        self.producer_factory = producer_factory
        self.relay: Relay | None = None
        self.http = httpx.AsyncClient(
            timeout=settings.ingest_key_fetch_timeout,
            limits=httpx.Limits(max_connections=10),
            trust_env=False,
        )
        self.keys = SigningKeyCache(self.http)

    def start(self) -> None:
        self.journal.open()
        if self.settings.ingest_replay_journal:
            replayed = self.journal.requeue_all()
            log.info("replaying %d journaled record(s) into the broker", replayed)
        self.metrics.watch_journal(lambda: self.journal.pending, self.journal.max_pending)
        if self.producer_factory is not None:
            self.relay = Relay(self.journal, self.producer_factory, self.metrics).start()

    async def stop(self) -> None:
        if self.relay is not None:
            self.relay.stop()
        self.journal.close()
        await self.http.aclose()

    # -- one delivery -------------------------------------------------------

    async def authenticate(self, adapter: VendorAdapter, delivery: Delivery) -> None:
        if adapter.key_url_fn is None:
            adapter.authenticate(delivery, self.tenant)
            return
        url = adapter.key_url_fn(delivery, self.tenant)  # refuses hosts off the allow-list
        try:
            key = await self.keys.get(url)
            try:
                adapter.authenticate(delivery, self.tenant, [key])
            except AuthenticationError:
                # The key may have rotated since we cached it: fetch it once more.
                fresh = await self.keys.get(url, refresh=True)
                if fresh == key:
                    raise
                adapter.authenticate(delivery, self.tenant, [fresh])
        except KeyRefused as exc:
            raise AuthenticationError(f"no signing key at key_url: {exc}") from None

    async def handle(self, source_name: str, request: Request) -> Response:
        started = time.perf_counter()
        try:
            source = Source(source_name)
        except ValueError:
            return _error(
                404,
                f"unknown source {source_name!r}; use one of {[s.value for s in Source]}",
            )
        m = self.metrics
        m.received.labels(source=source).inc()
        try:
            return await self._handle(source, request)
        finally:
            m.request_latency.labels(source=source).observe(time.perf_counter() - started)

    async def _handle(self, source: Source, request: Request) -> Response:
        m = self.metrics
        try:
            body = await read_body(request, self.settings.ingest_max_body_bytes)
        except BodyTooLarge:
            m.rejected.labels(source=source, reason="too_large").inc()
            return _error(
                413, f"body exceeds the limit of {self.settings.ingest_max_body_bytes} bytes"
            )
        delivery = Delivery(
            source=source,
            body=body,
            headers={k.lower(): v for k, v in request.headers.items()},
            received_at=datetime.now(UTC),
        )
        adapter = ADAPTERS[source]
        try:
            await self.authenticate(adapter, delivery)
        except AuthenticationError as exc:
            m.rejected.labels(source=source, reason="authentication").inc()
            client = request.client.host if request.client else "?"
            log.warning("refused %s delivery from %s: %s", source, client, exc)
            return _error(401, f"authentication failed: {exc}")
        except KeyUnavailable as exc:
            # ConnectWise retries only 404/409/419/429: 429 makes it try again.
            m.rejected.labels(source=source, reason="key_unavailable").inc()
            return _error(429, f"cannot verify the signature now: {exc}", retry=True, ingest=self)

        try:
            normalised = adapter.normalise(delivery, self.tenant)
        except PayloadError as exc:
            m.rejected.labels(source=source, reason="invalid_payload").inc()
            try:
                await self.journal.append([dead_letter_record(delivery, exc)], check_capacity=False)
            except Exception:
                log.exception("could not journal a dead letter")
                return _error(503, "could not store the rejected payload; retry later")
            m.dead_lettered.labels(source=source).inc()
            return JSONResponse(
                {"error": f"invalid payload: {exc}", "field": exc.field, "problem": exc.problem},
                status_code=422,
            )

        events = normalised.events
        if not events:
            m.ignored.labels(source=source).inc()
            return JSONResponse(
                {"status": "ignored", "detail": "authentic delivery with nothing to ingest"},
                status_code=200,
            )
        try:
            stored = await self.journal.append([event_record(e) for e in events])
        except JournalFull as exc:
            m.rejected.labels(source=source, reason="journal_full").inc()
            return _error(429, f"journal full: {exc}", retry=True, ingest=self)

        new = sum(stored)
        m.accepted.labels(source=source).inc(new)
        m.duplicates.labels(source=source).inc(len(events) - new)
        new_unknown = [
            e for e, fresh in zip(events, stored, strict=True) if fresh and not e.client_known
        ]
        unknown = sorted({e.client_id for e in new_unknown})
        if new_unknown:
            m.unknown_client.labels(source=source).inc(len(new_unknown))
            log.warning(
                "accepted %s event(s) for client(s) not in the tenant file: %s", source, unknown
            )

        result: dict[str, Any] = {
            "status": "accepted" if new else "duplicate",
            "accepted": new,
            "duplicates": len(events) - new,
            "event_ids": [e.event_id for e in events],
        }
        if unknown:
            result["unknown_clients"] = unknown
        return JSONResponse(result, status_code=202 if new else 200)


def _error(
    status: int, message: str, *, retry: bool = False, ingest: Ingest | None = None
) -> Response:
    headers = {}
    if retry and ingest is not None:
        headers["Retry-After"] = str(ingest.settings.ingest_retry_after_seconds)
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def create_app(
    settings: IngestSettings | None = None,
    *,
    tenant: Tenant | None = None,
    producer_factory: ProducerFactory | None = None,
    metrics: IngestMetrics | None = None,
) -> FastAPI:
    """The ingest ASGI app. Without `producer_factory`, one for the configured broker."""
    settings = settings or IngestSettings()
    tenant = tenant or load_tenant(settings.tenant_file)
    if producer_factory is None and settings.kafka_bootstrap:
        producer_factory = kafka_producer_factory(settings.kafka_bootstrap)
    ingest = Ingest(settings, tenant, producer_factory, metrics or IngestMetrics())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        ingest.start()
        try:
            yield
        finally:
            await ingest.stop()

    app = FastAPI(
        title="partnerpulse ingest",
        version="1",
        summary="PSA and RMM webhooks in, canonical events durably on Kafka.",
        lifespan=lifespan,
    )
    app.state.ingest = ingest

    @app.post(
        "/v1/webhooks/{source}",
        summary="Receive one vendor webhook delivery",
        responses={
            200: {"description": "Already received (a retry), or nothing to ingest"},
            202: {"description": "Accepted: durably journaled, on its way to Kafka"},
            401: {"description": "Signature or secret missing or wrong"},
            404: {"description": "Unknown source"},
            413: {"description": "Body over the size limit"},
            422: {"description": "Invalid payload; the raw body went to the dead-letter topic"},
            429: {"description": "Journal full or signing key unavailable: retry after"},
        },
    )
    async def webhook(source: str, request: Request) -> Response:
        return await ingest.handle(source, request)

    @app.post(
        "/v1/events",
        summary="Receive canonical events (one JSON object or NDJSON), Standard Webhooks signed",
    )
    async def canonical_events(request: Request) -> Response:
        return await ingest.handle(Source.canonical.value, request)

    @app.get("/healthz", summary="Liveness")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", summary="Readiness: journal open, relay running, room in the journal")
    async def readyz() -> Response:
        relay = ingest.relay
        checks = {
            "journal_pending": ingest.journal.pending,
            "journal_capacity": ingest.journal.max_pending,
            "relay_running": relay is not None and relay.alive(),
            "broker_connected": relay is not None and relay.connected,
        }
        ready = checks["relay_running"] and ingest.journal.pending < ingest.journal.max_pending
        return JSONResponse(
            {"status": "ready" if ready else "not ready", **checks},
            status_code=200 if ready else 503,
        )

    @app.get("/metrics", summary="Prometheus metrics", include_in_schema=False)
    async def metrics_endpoint() -> Response:
        return Response(generate_latest(ingest.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return app
