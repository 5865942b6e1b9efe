"""Autotask REST, ConnectWise PSA and HaloPSA stand-ins: query, filter, paging, auth."""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from services.vendorapi.app import StandIn, answer, basic_credentials, client_credentials_token
from services.vendorapi.query import compare, field_value, stamp
from services.vendorapi.records import Visible, parse_time

# The modified stamp each collection filters on (the first the body carries).
AUTOTASK_STAMPS = {
    "Tickets": ("lastActivityDate", "createDate"),
    "TimeEntries": ("lastModifiedDateTime", "createDateTime"),
    "ServiceCalls": ("lastModifiedDateTime", "createDateTime"),
    "Appointments": ("lastModifiedDateTime", "updateDateTime", "createDateTime"),
    "WebhookEventErrorLogs": ("createDateTime",),
}
HALO_LISTS = {"Tickets": "tickets", "Actions": "actions", "Appointment": "appointments"}
HALO_STAMPS = ("last_update", "lastactiondate")
_CW_CONDITION = re.compile(r"(\w+)\s*(>=|<=|=|>|<)\s*\[([^\]]+)\]")
_CW_OPS = {">=": "gte", "<=": "lte", "=": "eq", ">": "gt", "<": "lt"}


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"errors": [message]}, status)


def register(app: FastAPI, state: StandIn) -> None:
    # -- Autotask ---------------------------------------------------------------------
    def autotask_denied(request: Request) -> JSONResponse | None:
        config = state.polling.autotask if state.polling else None
        h = request.headers
        if config is None or not (
            h.get("username") == config.username
            and h.get("secret") == config.secret.get_secret_value()
            and h.get("apiintegrationcode") == config.integration_code.get_secret_value()
        ):
            return _error(401, "UserName, Secret or ApiIntegrationCode is wrong")
        return None

    @app.get("/autotask/ATServicesRest/V1.0/ThresholdInformation")
    async def threshold(request: Request) -> Any:
        if denied := autotask_denied(request):
            return denied
        return {
            "externalRequestThreshold": state.autotask_threshold,
            "requestThresholdTimeframe": 60,
            "currentTimeframeRequestCount": state.count_autotask(),
        }

    @app.get("/autotask/ATServicesRest/V1.0/{entity}/query")
    async def autotask_query(entity: str, request: Request, search: str = "{}") -> Any:
        if denied := autotask_denied(request):
            return denied
        try:
            query = json.loads(search)
            filters = list(query.get("filter") or [])
        except (ValueError, AttributeError):
            return _error(400, "search: not a JSON query")
        size = min(int(query.get("MaxRecords") or 500), 500)
        rows = [
            r
            for r in state.records.visible("autotask", entity, state.clock())
            if all(_autotask_match(r, f, AUTOTASK_STAMPS.get(entity, ())) for f in filters)
        ]
        page, more = rows[:size], len(rows) > size
        next_url = None
        if more:
            last = {"op": "gt", "field": "id", "value": int(page[-1].id)}
            next_query = {**query, "filter": [*filters, last]}
            next_url = str(request.url.replace(query=urlencode({"search": json.dumps(next_query)})))
        details = {
            "count": len(page),
            "requestCount": size,
            "prevPageUrl": None,
            "nextPageUrl": next_url,
        }
        return answer({"items": [r.body for r in page], "pageDetails": details})

    # -- ConnectWise PSA --------------------------------------------------------------
    @app.get("/connectwise/v4_6_release/apis/3.0/{area}/{collection}")
    async def connectwise(area: str, collection: str, request: Request) -> Any:
        config = state.polling.connectwise if state.polling else None
        creds = basic_credentials(request)
        expected = None
        if config is not None:
            expected = (
                f"{config.company_id}+{config.public_key}",
                config.private_key.get_secret_value(),
            )
        if config is None or creds != expected:
            return JSONResponse({"code": "Unauthorized", "message": "bad credentials"}, 401)
        if request.headers.get("clientid") != config.client_id.get_secret_value():
            return JSONResponse({"code": "Unauthorized", "message": "clientId required"}, 401)
        params = request.query_params
        conditions = _CW_CONDITION.findall(params.get("conditions", ""))
        rows = [
            r
            for r in state.records.visible("connectwise", f"{area}/{collection}", state.clock())
            if all(_cw_match(r, name, op, value) for name, op, value in conditions)
        ]
        size = min(int(params.get("pageSize", "25")), 1000)
        page_no = max(int(params.get("page", "1")), 1)
        chunk = rows[(page_no - 1) * size : page_no * size]
        headers = {}
        if page_no * size < len(rows):
            nxt = request.url.include_query_params(page=page_no + 1)
            headers["link"] = f'<{nxt}>; rel="next"'
        return JSONResponse([r.body for r in chunk], headers=headers)

    # -- HaloPSA ----------------------------------------------------------------------
    @app.post("/halopsa/auth/token")
    async def halo_token(request: Request) -> Any:
        config = state.polling.halopsa if state.polling else None
        return await client_credentials_token(state, request, "halopsa", config)

    @app.get("/halopsa/api/{collection}/{record_id}")
    async def halo_record(collection: str, record_id: str, request: Request) -> Any:
        """One record by id; 404 once deleted (Halo's lists then no longer show it)."""
        if not state.bearer_ok(request, "halopsa"):
            return _error(401, "bearer token required")
        if collection not in HALO_LISTS:
            return _error(404, f"no collection {collection}")
        for r in state.records.visible("halopsa", collection, state.clock()):
            if r.id == record_id:
                return r.body
        return _error(404, f"no {collection} {record_id}")

    @app.get("/halopsa/api/{collection}")
    async def halo_list(collection: str, request: Request) -> Any:
        if not state.bearer_ok(request, "halopsa"):
            return _error(401, "bearer token required")
        if collection not in HALO_LISTS:
            return _error(404, f"no collection {collection}")
        params = request.query_params
        since = parse_time(params.get("lastupdatefromdate"))
        # Appointments: `start_date`, those starting at or after it.
        starts_from = parse_time(params.get("start_date"))
        rows = [
            r
            for r in state.records.visible("halopsa", collection, state.clock())
            if (since is None or stamp(r, HALO_STAMPS) >= since)
            and (starts_from is None or _starts_from(r, starts_from))
        ]
        found: dict[str, Any] = {"record_count": len(rows)}
        if params.get("pageinate") == "true":
            size, page_no = int(params.get("page_size", "50")), int(params.get("page_no", "1"))
            rows = rows[(page_no - 1) * size : page_no * size]
            found |= {"page_no": page_no, "page_size": size}
        return answer(found | {HALO_LISTS[collection]: [r.body for r in rows]})


def _autotask_match(record: Visible, item: dict[str, Any], stamps: tuple[str, ...]) -> bool:
    op = str(item.get("op", "")).lower()
    if op in ("and", "or"):
        results = [_autotask_match(record, sub, stamps) for sub in item.get("items") or []]
        return all(results) if op == "and" else any(results)
    name = str(item.get("field", ""))
    if name.lower() == "id":
        return compare(int(record.id) if record.id.isdigit() else record.id, op, item.get("value"))
    value = field_value(record, name)
    if value is None and name.casefold() in (s.casefold() for s in stamps):
        value = stamp(record, stamps).isoformat()
    return compare(value, op, item.get("value"))


def _cw_match(record: Visible, name: str, op: str, value: str) -> bool:
    if name == "lastUpdated":
        left: Any = stamp(record, ("_info.lastUpdated",)).isoformat()
    else:
        left = field_value(record, name)
    return compare(left, _CW_OPS[op], value.strip())


def _starts_from(record: Visible, starts_from: datetime) -> bool:
    starts = parse_time(record.body.get("start_date"))
    return starts is not None and starts >= starts_from
