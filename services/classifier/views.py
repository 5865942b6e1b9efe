"""The classifier's HTTP views: health, metrics, status and the query API.

Apart from the agent (services/classifier/app.py), as faust's guide keeps views.py
apart: every view reads the classifier's latest client views and states and
changes nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from faust.web import Request, Response, View
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from services.classifier.engine import dt
from services.classifier.health import work_split
from services.classifier.state import DAY
from services.events.outputs import Signal

if TYPE_CHECKING:
    from services.classifier.app import Classifier


def register_views(classifier: Classifier) -> None:
    """Add the classifier's routes to its Faust web server."""
    app = classifier.app

    @app.page("/healthz")
    async def healthz(web: View, request: Request) -> Response:
        return web.json({"status": "ok"})

    @app.page("/metrics")
    async def metrics(web: View, request: Request) -> Response:
        return web.bytes(
            generate_latest(classifier.metrics.registry),
            headers={"Content-Type": CONTENT_TYPE_LATEST},
        )

    @app.page("/v1/status")
    async def status(web: View, request: Request) -> Response:
        return web.json(status_of(classifier))

    @app.page("/v1/clients")
    async def clients(web: View, request: Request) -> Response:
        return web.json(client_list(classifier))

    @app.page("/v1/clients/{client_id}")
    class ClientDetail(View):
        async def get(self, request: Request, client_id: str) -> Response:
            days = request.query.get("days", "90")
            try:
                period = float(days)
            except ValueError:
                return self.json({"error": f"days must be a number, not {days!r}"}, status=400)
            detail = client_detail(classifier, client_id, period)
            if detail is None:
                return self.json(
                    {"error": f"no client {client_id!r} in the tenant file"}, status=404
                )
            return self.json(detail)

    @app.page("/v1/processed")
    class Processed(View):
        async def post(self, request: Request) -> Response:
            try:
                body = await request.json()
                ids = body["event_ids"]
                if not isinstance(ids, list):
                    raise TypeError
            except (ValueError, KeyError, TypeError):
                return self.json(
                    {"error": 'send {"event_ids": ["...", ...]}'},
                    status=400,
                )
            done, missing = classifier.processed_ids(str(i) for i in ids)
            return self.json({"processed": done, "missing": missing})


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
