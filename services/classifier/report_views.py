"""The partnership review on the classifier's query API (issue 15).

`GET /v1/clients/{id}/report` (HTML) and `GET /v1/clients/{id}/report.pdf`, with
`?quarter=2026Q1` or `?from=YYYY-MM-DD&to=YYYY-MM-DD` (both days included); without
either, the 90 days up to the watermark. The same API token (scope read) as every
other route. The report is built from the client's state on the event loop (the
agent changes that state between batches, never during one), then rendered to HTML
and PDF in a worker thread from the immutable model. At most `RENDERS_AT_ONCE`
renders run at a time; a request beyond that gets 503 with Retry-After.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from faust.web import Request, Response, View

from services.classifier import peers
from services.classifier.domain.state import ClientState
from services.classifier.tables import STATE_TABLE
from services.report import period as periods
from services.report.build import build_report
from services.report.pdf import PdfUnavailable, html_to_pdf
from services.report.render import render_html
from services.runtime.auth import Principal, Scope, Verifier

if TYPE_CHECKING:
    from services.classifier.service import Classifier

log = logging.getLogger(__name__)

RENDERS_AT_ONCE = 2
RETRY_AFTER_SECONDS = "5"


def register_report_views(classifier: Classifier) -> None:
    """Add the report routes to the classifier's Faust web server."""
    app = classifier.app
    verifier = Verifier(classifier.settings.api_tokens)
    renders = asyncio.Semaphore(RENDERS_AT_ONCE)

    def refused(web: View, request: Request) -> Response | None:
        outcome = verifier.authorize(request.headers.get("Authorization"), Scope.read)
        if isinstance(outcome, Principal):
            return None
        return web.json({"error": outcome.message}, status=outcome.status, headers=outcome.headers)

    async def answer(web: View, request: Request, client_id: str, *, pdf: bool) -> Response:
        if (refusal := refused(web, request)) is not None:
            return refusal
        period = periods.of_query(dict(request.query), classifier.processor.watermark)
        if isinstance(period, str):
            return web.json({"error": period}, status=400)
        try:
            routed = await peers.route(classifier, STATE_TABLE, client_id.encode(), web, request)
        except TypeError:
            # aiokafka knows no partitions of the table's topic yet (a worker that has just
            # started): no owner is known, so this worker answers, as peers.route does then.
            routed = None
        if routed is not None:
            return routed
        client = classifier.tenant.client(client_id)
        if client is None:
            return web.json({"error": f"no client {client_id!r} in the tenant file"}, status=404)
        if renders.locked():
            return web.json(
                {"error": "busy making other reports; try again shortly"},
                status=503,
                headers={"Retry-After": RETRY_AFTER_SECONDS},
            )
        state = classifier.processor.state_of(client_id, keep=False) or ClientState(client_id)
        report = build_report(state, classifier.tenant, client, period)
        async with renders:
            html = await asyncio.to_thread(render_html, report)
            if not pdf:
                return web.html(html)
            try:
                document = await asyncio.to_thread(html_to_pdf, html)
            except PdfUnavailable as exc:
                log.error("report PDF: %s", exc)
                return web.json({"error": str(exc)}, status=503)
        name = f"{client_id}-{period.label.replace(' ', '_')}.pdf"
        return web.bytes(
            document,
            content_type="application/pdf",
            headers={"Content-Disposition": f'inline; filename="{name}"'},
        )

    @app.page("/v1/clients/{client_id}/report")
    class ClientReport(View):
        async def get(self, request: Request, client_id: str) -> Response:
            return await answer(self, request, client_id, pdf=False)

    @app.page("/v1/clients/{client_id}/report.pdf")
    class ClientReportPdf(View):
        async def get(self, request: Request, client_id: str) -> Response:
            return await answer(self, request, client_id, pdf=True)
