"""Each vendor's query and paging, as data: the first request of a run, and from a page
its records and the next request. A request is plain data so a checkpoint can store it.

Sources (see docs/connectors.md for the pages):
- Autotask REST `GET /V1.0/{Entity}/query?search={"MaxRecords":500,"filter":[...]}`;
  the answer is `{"items":[...],"pageDetails":{"nextPageUrl":...}}`.
- ConnectWise PSA `GET /{area}/{collection}?conditions=lastUpdated>=[...]&pageSize=&page=`,
  a JSON array; ordered by id, which keeps page-number paging from skipping a record
  when others change mid-run (a change only adds to the filtered set).
- HaloPSA `GET /api/{Tickets|Actions|Appointment}?lastupdatefromdate=&pageinate=true&
  page_size=&page_no=`, answering `{"record_count":N,"tickets":[...]}`.
- NinjaOne `GET /v2/activities?newerThan=&olderThan=&pageSize=`, newest first:
  a full page is followed backwards with `olderThan` down to the watermark id.
- Datto RMM `GET /api/v2/account/alerts/open`, `/api/v2/account/alerts/resolved`,
  `/api/v2/account/devices`, `max` (<= 250) rows a `page` (from 0), followed with
  `pageDetails.nextPageUrl`; Tactical RMM `PATCH /alerts/` and `GET /agents/`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from typing import Any

from services.events.models import Source
from services.poll.domain.specs import EntitySpec
from services.poll.domain.window import iso_z

MAX_PAGE = {
    Source.autotask: 500,
    Source.connectwise: 1000,
    Source.halopsa: 100,
    Source.ninjaone: 1000,
    Source.dattormm: 250,
    Source.tacticalrmm: 1000,
}
_HALO_LISTS = ("tickets", "actions", "appointments", "appointment", "records")


@dataclass(frozen=True)
class Request:
    """One API call: `path` is relative to the base URL, or absolute (a vendor's next URL)."""

    method: str
    path: str
    params: dict[str, str] = field(default_factory=dict)
    body: Any = None
    # Cursor state carried from page to page (NinjaOne's id window).
    state: dict[str, str] = field(default_factory=dict)

    def dumps(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @staticmethod
    def loads(text: str) -> Request:
        data = json.loads(text)
        return Request(**data)


@dataclass(frozen=True)
class Page:
    records: list[dict[str, Any]]
    next: Request | None
    high: str | None = None  # NinjaOne: the newest activity id read so far this run


class PageError(ValueError):
    """An answer that is not the documented shape."""


def first_request(
    spec: EntitySpec, *, since: datetime | None, after_id: str | None, page_size: int | None
) -> Request:
    size = min(page_size or MAX_PAGE[spec.source], MAX_PAGE[spec.source])
    src = spec.source
    if src is Source.autotask:
        assert since is not None
        query = {
            "MaxRecords": size,
            "filter": [{"op": "gte", "field": spec.time_fields[0], "value": iso_z(since)}],
        }
        return Request("GET", f"V1.0/{spec.entity}/query", {"search": json.dumps(query)})
    if src is Source.connectwise:
        assert since is not None
        params = {
            "conditions": f"lastUpdated>=[{iso_z(since)}]",
            "orderBy": "id asc",
            "pageSize": str(size),
            "page": "1",
        }
        return Request("GET", spec.entity, params)
    if src is Source.halopsa:
        assert since is not None
        params = {
            "lastupdatefromdate": iso_z(since),
            "pageinate": "true",
            "page_size": str(size),
            "page_no": "1",
            "order": "id",
        }
        return Request("GET", f"api/{spec.entity}", params)
    if src is Source.ninjaone:
        if spec.entity == "devices":
            return Request("GET", "v2/devices", {"pageSize": str(size)})
        state = {"newerThan": after_id or "0"}
        return Request("GET", "v2/activities", {"pageSize": str(size), **state}, state=state)
    if src is Source.dattormm:
        path = "alerts/open" if spec.entity == "alerts" else "devices"
        return Request("GET", f"api/v2/account/{path}", {"max": str(size), "page": "0"})
    if src is Source.tacticalrmm:
        if spec.entity == "alerts":
            body = {"snoozedFilter": True, "resolvedFilter": True, "timeFilter": 30}
            return Request("PATCH", "alerts/", body=body)
        return Request("GET", "agents/")
    raise ValueError(f"{src} is not polled")


def sweep_request(spec: EntitySpec, *, starts_from: datetime, page_size: int | None) -> Request:
    """The first page of a sweep: every record of the collection starting at or after
    `starts_from`, whenever it was modified (HaloPSA `GET /api/Appointment?start_date=`)."""
    if spec.source is not Source.halopsa or spec.sweep_field is None:
        raise ValueError(f"{spec.source} {spec.entity} is not swept")
    first = first_request(spec, since=starts_from, after_id=None, page_size=page_size)
    params = {k: v for k, v in first.params.items() if k != "lastupdatefromdate"}
    return replace(first, params={**params, "start_date": iso_z(starts_from)})


def snapshot_requests(spec: EntitySpec, page_size: int | None) -> list[Request]:
    """A snapshot collection's lists, read whole each run. Datto RMM's alerts are two
    lists: the open ones, then the resolved ones (`/alerts/resolved`, with `resolved`,
    `resolvedOn`), so a resolution whose webhook was lost is still learnt, at its own
    time, even for an alert raised and resolved between two runs."""
    first = first_request(spec, since=None, after_id=None, page_size=page_size)
    if spec.source is Source.dattormm and spec.entity == "alerts":
        return [first, replace(first, path="api/v2/account/alerts/resolved")]
    return [first]


def read_page(spec: EntitySpec, request: Request, answer: Any) -> Page:
    """The records of one answer and the request for the page after it, if any."""
    src = spec.source
    if src is Source.autotask:
        body = _object(answer, "Autotask query answer")
        items = _list(body.get("items"), "items")
        next_url = (body.get("pageDetails") or {}).get("nextPageUrl")
        return Page(items, Request("GET", str(next_url)) if next_url else None)
    if src is Source.connectwise:
        items = _list(answer, "ConnectWise answer")
        size = int(request.params.get("pageSize", "25"))
        if len(items) < size:
            return Page(items, None)
        page = int(request.params.get("page", "1")) + 1
        return Page(items, replace(request, params={**request.params, "page": str(page)}))
    if src is Source.halopsa:
        body = _object(answer, "HaloPSA answer")
        items = next((_list(body[k], k) for k in _HALO_LISTS if isinstance(body.get(k), list)), [])
        size, page = int(request.params["page_size"]), int(request.params["page_no"])
        total = int(body.get("record_count") or 0)
        if page * size >= total or not items:
            return Page(items, None)
        return Page(items, replace(request, params={**request.params, "page_no": str(page + 1)}))
    if src is Source.ninjaone:
        if spec.entity == "devices":
            items = _list(answer, "NinjaOne devices")
            size = int(request.params["pageSize"])
            if len(items) < size:
                return Page(items, None)
            after = str(items[-1].get("id"))
            return Page(items, replace(request, params={**request.params, "after": after}))
        return _ninja_activities(request, _object(answer, "NinjaOne activities answer"))
    if src is Source.dattormm:
        body = _object(answer, "Datto RMM answer")
        key = "alerts" if spec.entity == "alerts" else "devices"
        items = _list(body.get(key), key)
        next_url = (body.get("pageDetails") or {}).get("nextPageUrl")
        return Page(items, Request("GET", str(next_url)) if next_url else None)
    if src is Source.tacticalrmm:
        return Page(_list(answer, "Tactical RMM answer"), None)
    raise ValueError(f"{src} is not polled")


def _ninja_activities(request: Request, body: Mapping[str, Any]) -> Page:
    """Newest first: a full page means older ones in the window remain (`olderThan`).
    The run's high mark (`high`) becomes the next run's `newerThan`."""
    items = _list(body.get("activities"), "activities")
    ids = [int(a["id"]) for a in items if str(a.get("id", "")).lstrip("-").isdigit()]
    state = dict(request.state)
    if ids:
        state["high"] = str(max([*ids, int(state.get("high", "0"))]))
    size = int(request.params["pageSize"])
    high = state.get("high")
    if len(items) < size or not ids:
        return Page(items, None, high)
    params = {**request.params, "olderThan": str(min(ids))}
    return Page(items, replace(request, params=params, state=state), high)


def by_ids(entity: str, field_name: str, ids: list[str]) -> Request:
    """Autotask: the rows of `entity` whose `field_name` is one of `ids` (one request)."""
    query = {"filter": [{"op": "in", "field": field_name, "value": [int(i) for i in ids]}]}
    return Request("GET", f"V1.0/{entity}/query", {"search": json.dumps(query)})


def _object(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise PageError(f"{what}: expected a JSON object, got {type(value).__name__}")
    return value


def _list(value: Any, what: str) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise PageError(f"{what}: expected a list of objects")
    return value
