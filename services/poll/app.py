"""The thin entrypoint: `/metrics` and `/healthz` on the poller's own port, and the
polling threads started and stopped with the app."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from services.events.tenant import Tenant
from services.poll.adapters.vendor import RetryPolicy
from services.poll.bootstrap import Poller, build_poller
from services.poll.settings import PollSettings


def create_app(settings: PollSettings, *, tenant: Tenant) -> FastAPI:
    retry = RetryPolicy(
        attempts=settings.poll_retry_attempts,
        backoff_seconds=settings.poll_backoff_seconds,
        max_wait_seconds=settings.poll_max_wait_seconds,
    )
    poller: Poller = build_poller(
        tenant,
        data_dir=settings.data_dir,
        ingest_url=settings.poll_ingest_url,
        retry=retry,
        receipts=settings.poll_receipts_file,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        poller.start()
        try:
            yield
        finally:
            poller.stop()

    app = FastAPI(title="partnerpulse poll", lifespan=lifespan)
    app.state.poller = poller

    @app.get("/healthz", summary="Liveness")
    async def healthz() -> dict[str, object]:
        return {"status": "ok", "sources": [str(loop.source) for loop in poller.loops]}

    @app.get("/metrics", summary="Prometheus metrics")
    async def metrics() -> Response:
        for loop in poller.loops:
            loop.refresh_lag()
        return Response(generate_latest(poller.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return app
