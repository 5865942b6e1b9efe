"""The classifier's HTTP views: health, metrics, status and the query API.

Apart from the agent (services/classifier/agent.py) and the processor
(services/classifier/processor.py), as faust's guide keeps views.py apart: every
view reads the processor's latest client views and states and changes nothing.
Every route but /healthz asks for an API token with scope `read`
(services/runtime/auth.py); /metrics only when `metrics_require_token`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp.web import HTTPRequestEntityTooLarge
from faust.web import Request, Response, View
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from services.classifier import openapi, peers
from services.classifier.queries import (
    MAX_PROCESSED_BODY_BYTES,
    client_daily,
    client_detail,
    client_list,
    day_range,
    merge_rows,
    merge_status,
    processed_ids,
    report_days,
    status_of,
)
from services.classifier.report_views import register_report_views
from services.classifier.tables import STATE_TABLE
from services.runtime.auth import Principal, Scope, Verifier

if TYPE_CHECKING:
    from services.classifier.service import Classifier


def register_views(classifier: Classifier) -> None:
    """Add the classifier's routes to its Faust web server."""
    app = classifier.app
    register_report_views(classifier)  # the partnership review: services/classifier/report_views.py
    verifier = Verifier(classifier.settings.api_tokens)
    metrics_open = not classifier.settings.metrics_require_token

    def refused(web: View, request: Request) -> Response | None:
        """The 401/403 answer when the request's token does not allow reading, else None."""
        outcome = verifier.authorize(request.headers.get("Authorization"), Scope.read)
        if isinstance(outcome, Principal):
            return None
        return web.json({"error": outcome.message}, status=outcome.status, headers=outcome.headers)

    @app.page("/healthz")
    async def healthz(web: View, request: Request) -> Response:
        return web.json({"status": "ok"})

    @app.page("/metrics")
    async def metrics(web: View, request: Request) -> Response:
        if not metrics_open and (refusal := refused(web, request)) is not None:
            return refusal
        return web.bytes(
            generate_latest(classifier.metrics.registry),
            headers={"Content-Type": CONTENT_TYPE_LATEST},
        )

    @app.page("/openapi.json")
    async def openapi_document(web: View, request: Request) -> Response:
        if (refusal := refused(web, request)) is not None:
            return refusal
        return web.json(openapi.document())

    @app.page("/v1/status")
    async def status(web: View, request: Request) -> Response:
        if (refusal := refused(web, request)) is not None:
            return refusal
        answers = await peers.ask_peers(classifier, request, "/v1/status")
        return web.json(merge_status([status_of(classifier), *answers]))

    @app.page("/v1/clients")
    async def clients(web: View, request: Request) -> Response:
        if (refusal := refused(web, request)) is not None:
            return refusal
        rows = client_list(classifier, owned_only=peers.is_local(request))
        for answer in await peers.ask_peers(classifier, request, "/v1/clients"):
            rows = merge_rows(rows, answer)
        return web.json(rows)

    @app.page("/v1/clients/{client_id}")
    class ClientDetail(View):
        async def get(self, request: Request, client_id: str) -> Response:
            if (refusal := refused(self, request)) is not None:
                return refusal
            period = report_days(request.query.get("days", "90"))
            if isinstance(period, str):
                return self.json({"error": period}, status=400)
            routed = await peers.route(classifier, STATE_TABLE, client_id.encode(), self, request)
            if routed is not None:
                return routed
            detail = client_detail(classifier, client_id, period)
            if detail is None:
                return self.json(
                    {"error": f"no client {client_id!r} in the tenant file"}, status=404
                )
            return self.json(detail)

    @app.page("/v1/clients/{client_id}/daily")
    class ClientDaily(View):
        async def get(self, request: Request, client_id: str) -> Response:
            if (refusal := refused(self, request)) is not None:
                return refusal
            days = day_range(
                request.query.get("from"), request.query.get("to"), classifier.processor.watermark
            )
            if isinstance(days, str):
                return self.json({"error": days}, status=400)
            routed = await peers.route(classifier, STATE_TABLE, client_id.encode(), self, request)
            if routed is not None:
                return routed
            answer = client_daily(classifier, client_id, *days)
            if answer is None:
                return self.json(
                    {"error": f"no client {client_id!r} in the tenant file"}, status=404
                )
            return self.json(answer)

    @app.page("/v1/processed")
    class Processed(View):
        async def post(self, request: Request) -> Response:
            if (refusal := refused(self, request)) is not None:
                return refusal
            declared = request.headers.get("Content-Length", "")
            too_large = {"error": f"body over {MAX_PROCESSED_BODY_BYTES} bytes"}
            if declared.isdigit() and int(declared) > MAX_PROCESSED_BODY_BYTES:
                return self.json(too_large, status=413)
            try:
                body = await request.read()  # aiohttp stops at client_max_size (1 MiB)
            except HTTPRequestEntityTooLarge:
                return self.json(too_large, status=413)
            ids = processed_ids(body)
            if isinstance(ids, str):
                return self.json({"error": ids}, status=400)
            _, missing = classifier.processor.processed_ids(ids)
            if missing:  # another worker's clients?
                answers = await peers.ask_peers(
                    classifier, request, "/v1/processed", json={"event_ids": missing}
                )
                for answer in answers:
                    theirs = set(answer["missing"])
                    missing = [i for i in missing if i in theirs]
            return self.json({"processed": len(ids) - len(missing), "missing": missing})
