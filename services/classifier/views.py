"""The classifier's HTTP views: health, metrics, status and the query API.

Apart from the agent (services/classifier/app.py), as faust's guide keeps views.py
apart: every view reads the classifier's latest client views and states and
changes nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from faust.web import Request, Response, View
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from services.classifier import peers
from services.classifier.engine import dt
from services.classifier.health import work_split
from services.classifier.state import DAY
from services.events.outputs import Signal

if TYPE_CHECKING:
    from services.classifier.app import Classifier

STATE_TABLE = "client-state"  # services.classifier.app.STATE_TABLE: the routing key's table


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
        answers = await peers.ask_peers(classifier, request, "/v1/status")
        return web.json(merge_status([status_of(classifier), *answers]))

    @app.page("/v1/clients")
    async def clients(web: View, request: Request) -> Response:
        rows = client_list(classifier, owned_only=peers.is_local(request))
        for answer in await peers.ask_peers(classifier, request, "/v1/clients"):
            rows = merge_rows(rows, answer)
        return web.json(rows)

    @app.page("/v1/clients/{client_id}")
    class ClientDetail(View):
        async def get(self, request: Request, client_id: str) -> Response:
            days = request.query.get("days", "90")
            try:
                period = float(days)
            except ValueError:
                return self.json({"error": f"days must be a number, not {days!r}"}, status=400)
            routed = await peers.route(classifier, STATE_TABLE, client_id.encode(), self, request)
            if routed is not None:
                return routed
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
            ids = [str(i) for i in ids]
            _, missing = classifier.processed_ids(ids)
            if missing:  # another worker's clients?
                answers = await peers.ask_peers(
                    classifier, request, "/v1/processed", json={"event_ids": missing}
                )
                for answer in answers:
                    missing = [i for i in missing if i in set(answer["missing"])]
            return self.json({"processed": len(ids) - len(missing), "missing": missing})


def merge_status(answers: list[dict[str, Any]]) -> dict[str, Any]:
    """One status of the group from each worker's."""
    merged = dict(answers[0])
    for key in ("events_processed", "events_failed", "events_too_late", "clients_judged"):
        merged[key] = sum(a[key] for a in answers)
    marks = [a["watermark"] for a in answers if a["watermark"]]
    merged["watermark"] = max(marks) if marks else None
    merged["workers"] = len(answers)
    merged["partitions"] = sorted({p for a in answers for p in a["partitions"]})
    return merged


def merge_rows(rows: list[dict[str, Any]], others: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The client list with another worker's rows for the clients it owns."""
    theirs = {row["client_id"]: row for row in others}
    return [theirs.get(row["client_id"], row) if row["score"] is None else row for row in rows]


def status_of(classifier: Classifier) -> dict[str, Any]:
    return {
        "events_processed": classifier.processed,
        "events_failed": classifier.failed,
        "events_too_late": len(classifier.too_late),
        "watermark": _iso(classifier.watermark),
        "clients_judged": len(classifier.views),
        "partitions": sorted(classifier.assigned),
    }


def client_list(classifier: Classifier, *, owned_only: bool = False) -> list[dict[str, Any]]:
    """Every tenant client with its health; a client this worker holds no events of is a
    quiet one (green, no activity) when its partition is this worker's, and unjudged
    (None) when it is another worker's. A peer asking (`owned_only`) gets this worker's
    clients only."""
    rows = []
    for client in classifier.tenant.clients:
        view = classifier.views.get(client.id)
        if view is None and classifier.metrics.owns(client.id):
            view = classifier.quiet_view(client.id)
        if view is None and owned_only:
            continue
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
    view = classifier.views.get(client_id) or classifier.quiet_view(client_id)
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
