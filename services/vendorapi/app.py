"""The stand-in app: every vendor under its prefix, with the vendor's authentication,
rate limits, a `Date` header on the replay clock, and injectable faults (a run of 429s
with Retry-After, or of 500s) to test the pollers' recovery."""

from __future__ import annotations

import base64
import collections
import email.utils
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.types import ASGIApp

from services.events.tenant_polling import PollingConfig
from services.vendorapi.records import ApiRecords, Clock

VENDORS = ("autotask", "connectwise", "halopsa", "ninjaone", "dattormm", "tacticalrmm")


@dataclass
class Fault:
    status: int
    remaining: int
    retry_after: str | None = None
    vendor: str | None = None  # None: every vendor


@dataclass
class StandIn:
    """The shared state of the stand-ins: records, clock, credentials, counters."""

    records: ApiRecords
    clock: Clock
    polling: PollingConfig | None = None  # the credentials to accept (the tenant's)
    autotask_threshold: int = 10_000
    datto_limit: int = 600
    faults: list[Fault] = field(default_factory=list)
    requests: collections.Counter[str] = field(default_factory=collections.Counter)
    tokens: dict[str, str] = field(default_factory=dict)  # token -> vendor
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _autotask_calls: collections.deque[float] = field(default_factory=collections.deque)
    _datto_calls: collections.deque[float] = field(default_factory=collections.deque)

    def fail(
        self, status: int, times: int, *, retry_after: str | None = None, vendor: str | None = None
    ) -> None:
        """The next `times` requests (of `vendor`, or any) answer `status`."""
        with self._lock:
            self.faults.append(Fault(status, times, retry_after, vendor))

    def take_fault(self, vendor: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.remaining > 0 and fault.vendor in (None, vendor):
                    fault.remaining -= 1
                    return fault
        return None

    def issue_token(self, vendor: str) -> str:
        token = secrets.token_urlsafe(24)
        with self._lock:
            self.tokens[token] = vendor
        return token

    def bearer_ok(self, request: Request, vendor: str) -> bool:
        header = request.headers.get("authorization", "")
        return header.startswith("Bearer ") and self.tokens.get(header[7:]) == vendor

    def count_autotask(self) -> int:
        """Requests to the Autotask database in the last hour (real time)."""
        return _window(self._autotask_calls, 3600.0, self._lock, record=False)

    def hit(self, vendor: str) -> int:
        if vendor == "autotask":
            return _window(self._autotask_calls, 3600.0, self._lock, record=True)
        if vendor == "dattormm":
            return _window(self._datto_calls, 60.0, self._lock, record=True)
        return 0


def _window(
    calls: collections.deque[float], span: float, lock: threading.Lock, *, record: bool
) -> int:
    now = time.monotonic()
    with lock:
        while calls and now - calls[0] >= span:
            calls.popleft()
        if record:
            calls.append(now)
        return len(calls)


async def client_credentials_token(
    state: StandIn, request: Request, vendor: str, config: Any
) -> Any:
    """The OAuth 2 client-credentials grant as HaloPSA and NinjaOne answer it: a bearer
    token for the configured client id and secret, 401 `invalid_client` otherwise."""
    form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
    if (
        config is None
        or form.get("grant_type") != "client_credentials"
        or form.get("client_id") != config.client_id
        or form.get("client_secret") != config.client_secret.get_secret_value()
    ):
        return JSONResponse({"error": "invalid_client"}, 401)
    token = state.issue_token(vendor)
    return {"access_token": token, "token_type": "Bearer", "expires_in": 3600}


def answer(content: Any) -> Response:
    """A JSON answer of plain JSON data (api.jsonl bodies), serialised once with the
    standard encoder: FastAPI's default walks every value of the answer through
    `jsonable_encoder`, which for a list of a thousand alerts costs about a second of
    the evaluating process's CPU per request."""
    return Response(json.dumps(content, separators=(",", ":")), media_type="application/json")


def basic_credentials(request: Request) -> tuple[str, str] | None:
    header = request.headers.get("authorization", "")
    if not header.startswith("Basic "):
        return None
    try:
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        return None
    return user, password


class _Edge(BaseHTTPMiddleware):
    """Date on the replay clock, injected faults and the vendors' rate limits."""

    def __init__(self, app: ASGIApp, state: StandIn) -> None:
        super().__init__(app)
        self.state = state

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        state = self.state
        vendor = request.url.path.strip("/").split("/")[0]
        state.requests[vendor] += 1
        date = email.utils.format_datetime(state.clock(), usegmt=True)
        response: Response
        fault = state.take_fault(vendor)
        if fault is not None:
            headers = {"retry-after": fault.retry_after} if fault.retry_after else {}
            response = JSONResponse({"errors": ["injected fault"]}, fault.status, headers)
        elif vendor == "dattormm" and state.hit(vendor) > state.datto_limit:
            response = JSONResponse({"error": "rate limit"}, 429, {"retry-after": "1"})
        elif vendor == "autotask" and state.hit(vendor) > state.autotask_threshold:
            response = JSONResponse({"errors": ["API threshold exceeded"]}, 429)
        else:
            response = await call_next(request)
        response.headers["date"] = date
        return response


def create_app(state: StandIn) -> FastAPI:
    from services.vendorapi import psa, rmm

    app = FastAPI(title="partnerpulse vendor API stand-ins")
    app.state.standin = state
    app.add_middleware(_Edge, state=state)
    psa.register(app, state)
    rmm.register(app, state)
    return app
