"""HTTP plumbing for the FastAPI services: health, readiness and metrics routes, and
request bodies read with a bound."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

# What a readiness check reports: ready or not, and the figures that say why.
Readiness = Callable[[], tuple[bool, Mapping[str, Any]]]


class BodyTooLarge(Exception):
    """The body (declared or as sent) is larger than the limit."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"body exceeds the limit of {limit} bytes")
        self.limit = limit


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused (BodyTooLarge) as soon as it is known to pass `limit`:
    from Content-Length before reading, else while it streams in."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(limit)
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def readiness_response(ready: bool, checks: Mapping[str, Any]) -> Response:
    """`{"status": "ready"|"not ready", **checks}`, 200 or 503."""
    return JSONResponse(
        {"status": "ready" if ready else "not ready", **checks},
        status_code=200 if ready else 503,
    )


def add_health_routes(
    app: FastAPI,
    registry: CollectorRegistry,
    readiness: Readiness | None = None,
    *,
    ready_summary: str = "Readiness",
) -> None:
    """`GET /healthz` (alive), `GET /readyz` (when `readiness` is given) and
    `GET /metrics` (the Prometheus text of `registry`, left out of the API schema)."""

    @app.get("/healthz", summary="Liveness")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    if readiness is not None:
        check = readiness

        @app.get("/readyz", summary=ready_summary)
        async def readyz() -> Response:
            return readiness_response(*check())

    @app.get("/metrics", summary="Prometheus metrics", include_in_schema=False)
    async def metrics_endpoint() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
