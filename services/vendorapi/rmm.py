"""NinjaOne, Datto RMM and Tactical RMM stand-ins: auth, cursors, paging."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from services.vendorapi.app import StandIn, basic_credentials, client_credentials_token


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
        return {"lastActivityId": last, "activities": [r.body for r in page]}

    @app.get("/ninjaone/v2/devices")
    async def ninja_devices(request: Request) -> Any:
        if not state.bearer_ok(request, "ninjaone"):
            return _denied()
        params = request.query_params
        after = int(params.get("after", "0") or 0)
        size = min(int(params.get("pageSize", "200")), 1000)
        rows = [r for r in state.records.visible("ninjaone", "devices", now()) if int(r.id) > after]
        return [r.body for r in rows[:size]]

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

    def datto_page(request: Request, entity: str, key: str, keep: Any) -> Any:
        if not state.bearer_ok(request, "dattormm"):
            return _denied()
        params = request.query_params
        size = min(int(params.get("max", "250")), 250)
        page_no = int(params.get("page", "0"))
        rows = [r for r in state.records.visible("dattormm", entity, now()) if keep(r.body)]
        chunk = rows[page_no * size : (page_no + 1) * size]
        next_url = None
        if (page_no + 1) * size < len(rows):
            next_url = str(request.url.include_query_params(page=page_no + 1, max=size))
        details = {"count": len(chunk), "totalCount": len(rows), "prevPageUrl": None}
        return {"pageDetails": details | {"nextPageUrl": next_url}, key: [r.body for r in chunk]}

    @app.get("/dattormm/api/v2/account/alerts/open")
    async def datto_open_alerts(request: Request) -> Any:
        return datto_page(request, "alerts", "alerts", lambda b: not b.get("resolved"))

    @app.get("/dattormm/api/v2/account/devices")
    async def datto_devices(request: Request) -> Any:
        return datto_page(request, "devices", "devices", lambda b: True)

    # -- Tactical RMM -----------------------------------------------------------------
    def tactical_ok(request: Request) -> bool:
        config = state.polling.tacticalrmm if state.polling else None
        key = request.headers.get("x-api-key")
        return config is not None and key == config.api_key.get_secret_value()

    @app.api_route("/tacticalrmm/alerts/", methods=["GET", "PATCH"])
    async def tactical_alerts(request: Request) -> Any:
        if not tactical_ok(request):
            return _denied()
        return [r.body for r in state.records.visible("tacticalrmm", "alerts", now())]

    @app.get("/tacticalrmm/agents/")
    async def tactical_agents(request: Request) -> Any:
        if not tactical_ok(request):
            return _denied()
        return [r.body for r in state.records.visible("tacticalrmm", "agents", now())]
