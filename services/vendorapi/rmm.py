"""NinjaOne, Datto RMM and Tactical RMM stand-ins: auth, cursors, paging."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from services.vendorapi.app import StandIn, answer, basic_credentials, client_credentials_token


def _denied() -> JSONResponse:
    return JSONResponse({"error": "unauthorized"}, 401)


async def _form(request: Request) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}


def register(app: FastAPI, state: StandIn) -> None:
    def now() -> Any:
        return state.clock()

    # -- NinjaOne ---------------------------------------------------------------------
    @app.post("/ninjaone/ws/oauth/token")
    async def ninja_token(request: Request) -> Any:
        config = state.polling.ninjaone if state.polling else None
        return await client_credentials_token(state, request, "ninjaone", config)

    @app.get("/ninjaone/v2/activities")
    async def ninja_activities(request: Request) -> Any:
        """Newest first; `newerThan` / `olderThan` bound the ids, `pageSize` the count."""
        if not state.bearer_ok(request, "ninjaone"):
            return _denied()
        params = request.query_params
        newer = int(params.get("newerThan", "0") or 0)
        older = int(params["olderThan"]) if params.get("olderThan") else None
        size = min(int(params.get("pageSize", "200")), 1000)
        rows = [
            r
            for r in state.records.visible("ninjaone", "activities", now())
            if r.id.isdigit() and int(r.id) > newer and (older is None or int(r.id) < older)
        ]
        rows.sort(key=lambda r: int(r.id), reverse=True)
        page = rows[:size]
        last = int(page[0].id) if page else newer
        return answer({"lastActivityId": last, "activities": [r.body for r in page]})

    @app.get("/ninjaone/v2/devices")
    async def ninja_devices(request: Request) -> Any:
        if not state.bearer_ok(request, "ninjaone"):
            return _denied()
        params = request.query_params
        after = int(params.get("after", "0") or 0)
        size = min(int(params.get("pageSize", "200")), 1000)
        rows = [r for r in state.records.visible("ninjaone", "devices", now()) if int(r.id) > after]
        return answer([r.body for r in rows[:size]])

    # -- Datto RMM --------------------------------------------------------------------
    @app.post("/dattormm/auth/oauth/token")
    async def datto_token(request: Request) -> Any:
        config = state.polling.dattormm if state.polling else None
        form = await _form(request)
        if (
            config is None
            or basic_credentials(request) != ("public-client", "public")
            or form.get("grant_type") != "password"
            or form.get("username") != config.api_key
            or form.get("password") != config.api_secret.get_secret_value()
        ):
            return JSONResponse({"error": "invalid_grant"}, 401)
        token = state.issue_token("dattormm")
        return {"access_token": token, "token_type": "bearer", "expires_in": 359999}

    def datto_page(request: Request, key: str, rows: list[dict[str, Any]]) -> Any:
        """One page of a Datto list: `max` (at most 250) rows from page `page` (from 0),
        `pageDetails.nextPageUrl` naming the next page while rows remain."""
        params = request.query_params
        size = min(int(params.get("max", "250")), 250)
        page_no = int(params.get("page", "0"))
        chunk = rows[page_no * size : (page_no + 1) * size]
        next_url = None
        if (page_no + 1) * size < len(rows):
            next_url = str(request.url.include_query_params(page=page_no + 1, max=size))
        details = {"count": len(chunk), "totalCount": len(rows), "prevPageUrl": None}
        return answer({"pageDetails": details | {"nextPageUrl": next_url}, key: chunk})

    def datto_alerts(
        status: str, where: Callable[[dict[str, Any]], bool], muted: bool | None
    ) -> list[dict[str, Any]]:
        """Open alerts, or resolved ones: an alert resolved in api.jsonl (a version with
        `resolved: true`, or its open version removed) leaves the open list and is in
        the resolved list, with `resolvedOn` (epoch ms) the time it was resolved."""
        visible = state.records.visible("dattormm", "alerts", now())
        if status == "open":
            rows = [r.body for r in visible if not r.body.get("resolved")]
        else:
            rows = [r.body for r in visible if r.body.get("resolved")]
            for gone in state.records.removed("dattormm", "alerts", now()):
                stamp = int(gone.at.timestamp() * 1000)
                rows.append(gone.body | {"resolved": True, "resolvedOn": stamp})
            rows.sort(key=lambda b: (b.get("resolvedOn") or 0, str(b.get("alertUid"))))
        return [b for b in rows if where(b) and (muted is None or bool(b.get("muted")) == muted)]

    def source_info(body: dict[str, Any]) -> dict[str, Any]:
        info = body.get("alertSourceInfo")
        return info if isinstance(info, dict) else {}

    @app.get("/dattormm/api/v2/account/alerts/{status}")
    async def datto_account_alerts(request: Request, status: str) -> Any:
        return datto_alert_list(request, status, lambda b: True)

    @app.get("/dattormm/api/v2/site/{site_uid}/alerts/{status}")
    async def datto_site_alerts(request: Request, site_uid: str, status: str) -> Any:
        return datto_alert_list(
            request, status, lambda b: source_info(b).get("siteUid") == site_uid
        )

    @app.get("/dattormm/api/v2/device/{device_uid}/alerts/{status}")
    async def datto_device_alerts(request: Request, device_uid: str, status: str) -> Any:
        return datto_alert_list(
            request, status, lambda b: source_info(b).get("deviceUid") == device_uid
        )

    def datto_alert_list(
        request: Request, status: str, where: Callable[[dict[str, Any]], bool]
    ) -> Any:
        if not state.bearer_ok(request, "dattormm"):
            return _denied()
        if status not in ("open", "resolved"):
            return JSONResponse({"error": f"no alert list {status!r}: open or resolved"}, 404)
        muted = request.query_params.get("muted")
        if muted not in (None, "", "true", "false"):
            return JSONResponse({"error": "muted must be true or false"}, 400)
        rows = datto_alerts(status, where, None if not muted else muted == "true")
        return datto_page(request, "alerts", rows)

    @app.get("/dattormm/api/v2/account/devices")
    async def datto_devices(request: Request) -> Any:
        if not state.bearer_ok(request, "dattormm"):
            return _denied()
        rows = [r.body for r in state.records.visible("dattormm", "devices", now())]
        return datto_page(request, "devices", rows)

    # -- Tactical RMM -----------------------------------------------------------------
    def tactical_ok(request: Request) -> bool:
        config = state.polling.tacticalrmm if state.polling else None
        key = request.headers.get("x-api-key")
        return config is not None and key == config.api_key.get_secret_value()

    @app.api_route("/tacticalrmm/alerts/", methods=["GET", "PATCH"])
    async def tactical_alerts(request: Request) -> Any:
        if not tactical_ok(request):
            return _denied()
        return answer([r.body for r in state.records.visible("tacticalrmm", "alerts", now())])

    @app.get("/tacticalrmm/agents/")
    async def tactical_agents(request: Request) -> Any:
        if not tactical_ok(request):
            return _denied()
        return answer([r.body for r in state.records.visible("tacticalrmm", "agents", now())])
