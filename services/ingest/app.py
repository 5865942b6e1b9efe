"""The ingest HTTP service: vendor webhooks in, canonical events durably journaled.

The handler is thin: read the body (bounded), authenticate with the vendor's
adapter, normalise, check event times and sizes, journal, answer. Bad input is a
4xx naming what is wrong; a journal with no room (full, or unable to write) is
429/503 with Retry-After (always 429 to ConnectWise, which retries nothing else);
never a 500. This process never talks to Kafka: the
relay (`partnerpulse relay`, its own process) sends the journal on, so a slow
or absent broker never blocks a webhook and the producer never takes this
process's GIL.
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime
from typing import Any

import httpx
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from starlette.requests import ClientDisconnect

from services.events.models import Source
from services.events.tenant import Tenant, load_tenant
from services.ingest import deactivation, freshness, openapi
from services.ingest.adapters import ADAPTERS
from services.ingest.adapters.base import (
    AuthenticationError,
    Delivery,
    PayloadError,
    VendorAdapter,
)
from services.ingest.journal import Journal, JournalFull, JournalUnwritable
from services.ingest.keys import KeyRefused, KeyUnavailable, SigningKeyCache, load_key_file
from services.ingest.metrics import IngestMetrics
from services.ingest.records import (
    EventTooLarge,
    cap_free_text,
    dead_letter_record,
    event_record,
)
from services.ingest.settings import IngestSettings
from services.platform.http import BodyTooLarge, add_health_routes, read_body

log = logging.getLogger("partnerpulse.ingest")


class Ingest:
    """The state one ingest app holds: tenant, journal, key cache, metrics."""

    def __init__(self, settings: IngestSettings, tenant: Tenant, metrics: IngestMetrics) -> None:
        self.settings = settings
        self.tenant = tenant
        self.metrics = metrics
        self.journal = Journal(
            settings.journal_path,
            max_pending=settings.ingest_journal_max_pending,
            max_pending_bytes=settings.ingest_journal_max_pending_bytes,
            max_bytes=settings.ingest_journal_max_bytes,
            synchronous=settings.ingest_journal_sync,
        )
        self.http = httpx.AsyncClient(
            timeout=settings.ingest_key_fetch_timeout,
            limits=httpx.Limits(max_connections=10),
            trust_env=False,
        )
        overrides: dict[str, bytes] = {}
        if settings.ingest_connectwise_key_file is not None:
            overrides = load_key_file(settings.ingest_connectwise_key_file)
            log.warning(
                "ConnectWise signing keys of %d key_url(s) come from %s, not from their hosts "
                "(PARTNERPULSE_INGEST_CONNECTWISE_KEY_FILE: evaluation only)",
                len(overrides),
                settings.ingest_connectwise_key_file,
            )
        self.keys = SigningKeyCache(
            self.http,
            failure_ttl=settings.ingest_key_failure_cache_seconds,
            overrides=overrides,
        )

    def start(self) -> None:
        self.journal.open()
        self.metrics.watch_journal(lambda: self.journal.pending, self.journal.max_pending)

    async def stop(self) -> None:
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
        m = self.metrics.by_source[source]
        m.received.inc()
        try:
            return await self._handle(source, request)
        finally:
            m.request_latency.observe(time.perf_counter() - started)

    async def _handle(self, source: Source, request: Request) -> Response:
        m = self.metrics.by_source[source]
        try:
            body = await read_body(request, self.settings.ingest_max_body_bytes)
        except BodyTooLarge as exc:
            m.rejected["too_large"].inc()
            return _error(413, str(exc))
        except ClientDisconnect:
            # Gone before its body was all here (or cut by the read timeout): nobody
            # hears this answer, and it is no error of ours worth a traceback.
            m.rejected["client_disconnected"].inc()
            return _error(400, "the client disconnected before its body was received")
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
            m.rejected["authentication"].inc()
            client = request.client.host if request.client else "?"
            log.warning("refused %s delivery from %s: %s", source, client, exc)
            return _error(401, f"authentication failed: {exc}")
        except KeyUnavailable as exc:
            # ConnectWise retries only 404/409/419/429: 429 makes it try again.
            m.rejected["key_unavailable"].inc()
            return _error(429, f"cannot verify the signature now: {exc}", retry=True, ingest=self)

        try:
            normalised = adapter.normalise(delivery, self.tenant)
        except PayloadError as exc:
            return await self._refuse(
                delivery, "invalid_payload", 422, f"invalid payload: {exc}", exc.field, exc.problem
            )

        events = normalised.events
        sent_at = freshness.sent_time(source, normalised.sent_at, events)
        refusal = freshness.check(
            self.tenant.webhooks.freshness, source, delivery.received_at, sent_at, events
        )
        if refusal is not None:
            dedupe = f"dlq:{refusal.reason}:{refusal.event_id}" if refusal.event_id else None
            return await self._refuse(
                delivery,
                refusal.reason,
                422,
                refusal.message,
                refusal.field,
                refusal.reason,
                dedupe_id=dedupe,
            )
        if not events:
            m.ignored.inc()
            return JSONResponse(
                {"status": "ignored", "detail": "authentic delivery with nothing to ingest"},
                status_code=200,
            )
        try:
            records = [
                event_record(
                    cap_free_text(e, self.settings.ingest_max_text_chars),
                    self.settings.ingest_max_event_bytes,
                )
                for e in events
            ]
        except EventTooLarge as exc:
            return await self._refuse(
                delivery, "event_too_large", 413, str(exc), "body", "event too large"
            )
        try:
            stored = await self.journal.append(records)
        except (JournalFull, JournalUnwritable) as exc:
            return self._no_room(source, exc)

        new = sum(stored)
        m.accepted.inc(new)
        m.duplicates.inc(len(events) - new)
        new_unknown = [
            e for e, fresh in zip(events, stored, strict=True) if fresh and not e.client_known
        ]
        unknown = sorted({e.client_id for e in new_unknown})
        if new_unknown:
            m.unknown_client.inc(len(new_unknown))
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

    async def _refuse(
        self,
        delivery: Delivery,
        reason: str,
        status: int,
        message: str,
        field: str,
        problem: str,
        *,
        dedupe_id: str | None = None,
    ) -> Response:
        """Answer `status` for an authentic delivery ingest will not take, its raw body
        (cut to size) journaled for the dead-letter topic first; counted by `reason`."""
        m = self.metrics.by_source[delivery.source]
        record = dead_letter_record(
            source=delivery.source.value,
            body=delivery.body,
            reason=reason,
            message=message,
            max_bytes=self.settings.ingest_dead_letter_max_bytes,
            received_at=delivery.received_at,
            content_type=delivery.headers.get("content-type", ""),
            dedupe_id=dedupe_id,
        )
        try:
            await self.journal.append([record])
        except (JournalFull, JournalUnwritable) as exc:
            return self._no_room(delivery.source, exc)
        m.rejected[reason].inc()
        m.dead_lettered.inc()
        return JSONResponse(
            {"error": message, "field": field, "problem": problem}, status_code=status
        )

    def _no_room(self, source: Source, exc: JournalFull | JournalUnwritable) -> Response:
        if isinstance(exc, JournalFull):
            self.metrics.by_source[source].rejected["journal_full"].inc()
            return _error(429, f"journal full: {exc}", retry=True, ingest=self)
        self.metrics.by_source[source].rejected["journal_unwritable"].inc()
        # ConnectWise retries only 429; everyone else hears the truth: unavailable.
        status = 429 if source is Source.connectwise else 503
        return _error(status, f"cannot store the delivery now: {exc}", retry=True, ingest=self)


def _error(
    status: int, message: str, *, retry: bool = False, ingest: Ingest | None = None
) -> Response:
    headers = {}
    if retry and ingest is not None:
        headers["Retry-After"] = str(ingest.settings.ingest_retry_after_seconds)
    return JSONResponse({"error": message}, status_code=status, headers=headers)


@contextmanager
def _collector_tuned_for_requests() -> Iterator[None]:
    """Python's cyclic garbage collector, set for a request handler (docs/benchmarks.md).

    What start-up built (modules, FastAPI, pydantic schemas, the tenant) lives as long
    as the app: frozen, it is no longer walked by every full collection, and those walks
    were the tail of the latency under load. A request leaves thousands of short-lived
    objects: collecting the youngest generation every 10,000 allocations rather than
    700 stops walking (and promoting) the requests in flight, about 5% less CPU each.
    """
    thresholds = gc.get_threshold()
    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, *thresholds[1:])
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()


def _handler(ingest: Ingest, source: Source) -> Callable[[Request], Awaitable[Response]]:
    async def receive(request: Request) -> Response:
        return await ingest.handle(source.value, request)

    return receive


def create_app(
    settings: IngestSettings | None = None,
    *,
    tenant: Tenant | None = None,
    metrics: IngestMetrics | None = None,
) -> FastAPI:
    """The ingest ASGI app: it journals; `partnerpulse relay` sends the journal to Kafka."""
    settings = settings or IngestSettings()
    tenant = tenant or load_tenant(settings.tenant_file)
    ingest = Ingest(settings, tenant, metrics or IngestMetrics())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        ingest.start()
        try:
            with _collector_tuned_for_requests():
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
    app.state.read_timeout = settings.ingest_read_timeout_seconds  # `partnerpulse ingest`

    responses: dict[int | str, dict[str, Any]] = {
        200: {"description": "Already received (a retry), or nothing to ingest"},
        202: {"description": "Accepted: durably journaled, on its way to Kafka"},
        401: {"description": "Signature or secret missing or wrong"},
        400: {"description": "The client went away before its body was received"},
        413: {"description": "Body, or an event it carries, over the size limit"},
        422: {
            "description": "Invalid payload, or an event time out of bounds (stale or "
            "from the future); the raw body went to the dead-letter topic"
        },
        429: {"description": "Journal full or signing key unavailable: retry after"},
        503: {"description": "The journal cannot write (disk full): retry after"},
    }

    # One route per source in the spec, each with its vendor's body and auth headers
    # (services/ingest/openapi.py); every one reads the raw bytes, as the generic route.
    for vendor in Source:
        if vendor is not Source.canonical:
            app.post(
                f"/v1/webhooks/{vendor.value}",
                summary=f"Receive one {vendor.value} webhook delivery",
                responses=responses,
                openapi_extra=openapi.delivery_operation(vendor, tenant),
                operation_id=f"webhook_{vendor.value}",
            )(_handler(ingest, vendor))

    deactivation.register(app, ingest.metrics.registry)  # before the generic route

    @app.post("/v1/webhooks/{source}", include_in_schema=False)
    async def webhook(source: str, request: Request) -> Response:
        return await ingest.handle(source, request)

    app.post(
        "/v1/events",
        summary="Receive canonical events (one JSON object or NDJSON), Standard Webhooks signed",
        responses=responses,
        openapi_extra=openapi.delivery_operation(Source.canonical, tenant),
        operation_id="canonical_events",
    )(_handler(ingest, Source.canonical))

    def readiness() -> tuple[bool, dict[str, object]]:
        journal = ingest.journal
        checks: dict[str, object] = {
            "journal_open": journal.is_open,
            "journal_writable": journal.writable,
            "journal_error": journal.write_error,
            "journal_pending": journal.pending,
            "journal_capacity": journal.max_pending,
            "journal_pending_bytes": journal.pending_bytes,
            "journal_capacity_bytes": journal.max_pending_bytes,
        }
        ready = (
            journal.is_open
            and journal.writable
            and journal.pending < journal.max_pending
            and journal.pending_bytes < journal.max_pending_bytes
        )
        return ready, checks

    add_health_routes(
        app,
        ingest.metrics.registry,
        readiness,
        ready_summary="Readiness: journal open, room in the journal",
    )

    return app
