"""The classifier's HTTP views: health, metrics, status and the query API.

Apart from the agent (services/classifier/app.py), as faust's guide keeps views.py
apart: every view reads the classifier's latest client views and states and
changes nothing. Every route but /healthz asks for an API token with scope
`read` (services/runtime/auth.py); /metrics only when `metrics_require_token`.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp.web import HTTPRequestEntityTooLarge
from faust.web import Request, Response, View
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from services.classifier.engine import dt
from services.classifier.health import work_split
from services.classifier.state import DAY
from services.events.outputs import Signal
from services.runtime.auth import Principal, Scope, Verifier

if TYPE_CHECKING:
    from services.classifier.app import Classifier

MAX_DAYS = 3660  # ten years: the longest report period asked for
MAX_PROCESSED_BODY_BYTES = 1024 * 1024  # 2,000 event ids (what `evaluate` sends) is ~150 KB
MAX_PROCESSED_IDS = 10_000


def register_views(classifier: Classifier) -> None:
    """Add the classifier's routes to its Faust web server."""
    app = classifier.app
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

    @app.page("/v1/status")
    async def status(web: View, request: Request) -> Response:
        if (refusal := refused(web, request)) is not None:
            return refusal
        return web.json(status_of(classifier))

    @app.page("/v1/clients")
    async def clients(web: View, request: Request) -> Response:
        if (refusal := refused(web, request)) is not None:
            return refusal
        return web.json(client_list(classifier))

    @app.page("/v1/clients/{client_id}")
    class ClientDetail(View):
        async def get(self, request: Request, client_id: str) -> Response:
            if (refusal := refused(self, request)) is not None:
                return refusal
            period = report_days(request.query.get("days", "90"))
            if isinstance(period, str):
                return self.json({"error": period}, status=400)
            detail = client_detail(classifier, client_id, period)
            if detail is None:
                return self.json(
                    {"error": f"no client {client_id!r} in the tenant file"}, status=404
                )
            return self.json(detail)

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
            done, missing = classifier.processed_ids(ids)
            return self.json({"processed": done, "missing": missing})


def report_days(raw: str) -> float | str:
    """The report period in days, or what is wrong with `raw` (a finite 1..3660)."""
    try:
        days = float(raw)
    except ValueError:
        return f"days must be a number of days from 1 to {MAX_DAYS}, not {raw[:40]!r}"
    if not math.isfinite(days) or not 1 <= days <= MAX_DAYS:
        return f"days must be from 1 to {MAX_DAYS}, not {raw[:40]!r}"
    return days


def processed_ids(body: bytes) -> list[str] | str:
    """The event ids of a /v1/processed body, or what is wrong with it.

    orjson refuses nesting deeper than 1024 and integers beyond 64 bits as errors
    (the standard library would recurse until RecursionError)."""
    usage = 'send {"event_ids": ["...", ...]}'
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        return f"the body is not JSON ({exc}); {usage}"
    ids = document.get("event_ids") if isinstance(document, dict) else None
    if not isinstance(ids, list):
        return f"event_ids: missing or not a list; {usage}"
    if len(ids) > MAX_PROCESSED_IDS:
        return f"event_ids: {len(ids)} ids; ask for at most {MAX_PROCESSED_IDS} at once"
    for i, event_id in enumerate(ids):
        if not isinstance(event_id, str):
            return f"event_ids[{i}]: must be a string, not {type(event_id).__name__}"
    return ids


def status_of(classifier: Classifier) -> dict[str, Any]:
    return {
        "events_processed": classifier.processed,
        "events_failed": classifier.failed,
        "events_too_late": len(classifier.too_late),
        "watermark": _iso(classifier.watermark),
        "clients_judged": len(classifier.views),
    }


def client_list(classifier: Classifier) -> list[dict[str, Any]]:
    rows = []
    for client in classifier.tenant.clients:
        view = classifier.views.get(client.id)
        window = view.windows.get("90d") if view else None
        rows.append(
            {
                "client_id": client.id,
                "name": client.name,
                "account_lead": client.account_lead.model_dump(),
                "score": view.score if view else None,
                "band": view.band if view else None,
                "change": view.snapshot.change if view else None,
                "proactive_share": window.proactive_share if window else None,
                "rhem": window.rhem if window else None,
                "open_signals": [_signal_line(s) for s in view.open_signals] if view else [],
            }
        )
    return rows


def client_detail(classifier: Classifier, client_id: str, days: float) -> dict[str, Any] | None:
    client = classifier.tenant.client(client_id)
    if client is None:
        return None
    view = classifier.views.get(client_id)
    state = classifier.state_of(client_id, keep=False)
    end = classifier.watermark
    split = (
        work_split(state, end - days * DAY, end, classifier.tenant.classifier)
        if state is not None
        else None
    )
    return {
        "client_id": client_id,
        "name": client.name,
        "account_lead": client.account_lead.model_dump(),
        "health": view.snapshot.model_dump(mode="json") if view else None,
        "signals": [s.model_dump(mode="json") for s in view.signals] if view else [],
        "work": split,
    }


def _iso(stamp: float) -> str | None:
    return dt(stamp).isoformat() if stamp else None


def _signal_line(signal: Signal) -> dict[str, Any]:
    return {
        "signal_id": signal.signal_id,
        "behaviour": signal.behaviour.value,
        "severity": signal.severity.value,
        "explanation": signal.explanation,
        "evidence_count": signal.evidence_count,
    }
