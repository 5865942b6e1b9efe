"""One HTTP client per vendor API: its authentication, its request budget, and the
retry rules every vendor shares (429/503 with Retry-After honoured, 5xx and network
errors retried with capped exponential back-off; anything else fails the run, which
keeps its checkpoint and is resumed next time).

Credentials are read from the tenant's `polling:` section (SecretStr) at the moment a
request is built and never appear in a log line or an exception message.
"""

from __future__ import annotations

import base64
import collections
import email.utils
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from services.events.models import Source
from services.events.tenant_polling import (
    AutotaskPolling,
    ConnectWisePolling,
    DattoPolling,
    HaloPolling,
    NinjaPolling,
    TacticalPolling,
)
from services.poll.domain.requests import Request
from services.poll.metrics import PollMetrics

log = logging.getLogger("partnerpulse.poll")
_RETRY_STATUSES = frozenset({429, 503})
_TRANSIENT_STATUSES = frozenset({500, 502, 504})


class ApiError(Exception):
    """The vendor API failed this run; the message names the call, never a credential."""

    def __init__(self, source: Source, what: str, reason: str) -> None:
        super().__init__(f"{source}: {what}: {reason}")
        self.reason = reason


class BudgetExhausted(ApiError):
    """The request budget is spent: the run waits for the next cycle."""


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 6
    backoff_seconds: float = 0.5
    max_wait_seconds: float = 300.0


DEFAULT_RETRY = RetryPolicy()


def retry_after_seconds(value: str | None, now: datetime) -> float | None:
    """Retry-After as delta-seconds or an HTTP date (RFC 9110 10.2.3)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


class SlidingWindow:
    """At most `limit` requests in any `window` seconds (Datto RMM: 600 per 60 s)."""

    def __init__(self, limit: int, window: float, monotonic: Callable[[], float]) -> None:
        self.limit, self.window, self._now = limit, window, monotonic
        self._sent: collections.deque[float] = collections.deque()

    def wait_time(self) -> float:
        now = self._now()
        while self._sent and now - self._sent[0] >= self.window:
            self._sent.popleft()
        if len(self._sent) < self.limit:
            return 0.0
        return self.window - (now - self._sent[0])

    def record(self) -> None:
        self._sent.append(self._now())

    def used_ratio(self) -> float:
        self.wait_time()
        return len(self._sent) / self.limit


Config = (
    AutotaskPolling
    | ConnectWisePolling
    | HaloPolling
    | NinjaPolling
    | DattoPolling
    | TacticalPolling
)


class VendorClient:
    def __init__(
        self,
        source: Source,
        config: Config,
        metrics: PollMetrics,
        *,
        retry: RetryPolicy = DEFAULT_RETRY,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.source, self.config, self.metrics = source, config, metrics
        self.retry, self._sleep = retry, sleep
        self._http = httpx.Client(
            base_url=config.base_url.rstrip("/") + "/",
            timeout=30,
            trust_env=False,
            transport=transport,
        )
        self._token: str | None = None
        self.server_offset: float | None = None  # vendor clock - local clock, from Date
        self._window: SlidingWindow | None = None
        if isinstance(config, DattoPolling):
            self._window = SlidingWindow(config.requests_per_minute, 60.0, monotonic)

    def close(self) -> None:
        self._http.close()

    # -- authentication ---------------------------------------------------------------

    def _auth_headers(self) -> dict[str, str]:
        c = self.config
        if isinstance(c, AutotaskPolling):
            return {
                "ApiIntegrationCode": c.integration_code.get_secret_value(),
                "UserName": c.username,
                "Secret": c.secret.get_secret_value(),
            }
        if isinstance(c, ConnectWisePolling):
            pair = f"{c.company_id}+{c.public_key}:{c.private_key.get_secret_value()}"
            return {
                "Authorization": "Basic " + base64.b64encode(pair.encode()).decode(),
                "clientId": c.client_id.get_secret_value(),
            }
        if isinstance(c, TacticalPolling):
            return {"X-API-KEY": c.api_key.get_secret_value()}
        if self._token is None:
            self._token = self._fetch_token()
        return {"Authorization": f"Bearer {self._token}"}

    def _fetch_token(self) -> str:
        """OAuth 2.0: client credentials (HaloPSA, NinjaOne); Datto RMM's password grant
        with its public client."""
        c = self.config
        auth: httpx.BasicAuth | None = None
        params: dict[str, str] = {}
        if isinstance(c, HaloPolling):
            url = (c.auth_url or c.base_url.rstrip("/") + "/auth").rstrip("/") + "/token"
            data = {
                "grant_type": "client_credentials",
                "client_id": c.client_id,
                "client_secret": c.client_secret.get_secret_value(),
                "scope": c.scope,
            }
            if c.tenant:
                params["tenant"] = c.tenant
        elif isinstance(c, NinjaPolling):
            url = "ws/oauth/token"
            data = {
                "grant_type": "client_credentials",
                "client_id": c.client_id,
                "client_secret": c.client_secret.get_secret_value(),
                "scope": c.scope,
            }
        elif isinstance(c, DattoPolling):
            url = "auth/oauth/token"
            data = {
                "grant_type": "password",
                "username": c.api_key,
                "password": c.api_secret.get_secret_value(),
            }
            auth = httpx.BasicAuth("public-client", "public")
        else:  # pragma: no cover - the key-based vendors never get here
            raise ApiError(self.source, "token", "this vendor has no token endpoint")
        answer = self._send(
            "token",
            lambda: self._http.post(
                url, data=data, params=params, auth=auth or httpx.USE_CLIENT_DEFAULT
            ),
        )
        token = answer.get("access_token") if isinstance(answer, dict) else None
        if not isinstance(token, str) or not token:
            raise ApiError(self.source, "token", "the token endpoint answered no access_token")
        return token

    # -- requests ---------------------------------------------------------------------

    def call(self, request: Request, what: str, *, missing_ok: bool = False) -> Any:
        """The answer's JSON. `missing_ok`: a 404 is an answer (None), not an error (a
        record asked for by id that no longer exists)."""

        def send() -> httpx.Response:
            headers = self._auth_headers()
            return self._http.request(
                request.method,
                request.path,
                params=request.params or None,
                json=request.body,
                headers=headers,
            )

        return self._send(what, send, missing_ok=missing_ok)

    def _send(
        self, what: str, send: Callable[[], httpx.Response], *, missing_ok: bool = False
    ) -> Any:
        refreshed = False
        for attempt in range(1, self.retry.attempts + 1):
            self._respect_window()
            self.metrics.api_requests.labels(self.source).inc()
            try:
                response = send()
            except httpx.TransportError as exc:
                reason = f"network error ({type(exc).__name__})"
                self._failed(what, reason, attempt, None)
                continue
            self._learn_clock(response.headers.get("date"))
            if self._window is not None:
                self.metrics.budget_used.labels(self.source).set(self._window.used_ratio())
            status = response.status_code
            if status < 300:
                try:
                    return response.json()
                except ValueError:
                    raise ApiError(self.source, what, "the answer is not JSON") from None
            if status == 404 and missing_ok:
                return None
            if status == 401 and self._token is not None and not refreshed:
                self._token, refreshed = None, True  # expired: fetch a new one, once
                continue
            if status in _RETRY_STATUSES or status in _TRANSIENT_STATUSES:
                wait = retry_after_seconds(response.headers.get("retry-after"), datetime.now(UTC))
                self._failed(what, f"HTTP {status}", attempt, wait)
                continue
            self.metrics.api_errors.labels(self.source, f"http_{status}").inc()
            raise ApiError(self.source, what, f"HTTP {status}")
        raise ApiError(self.source, what, f"gave up after {self.retry.attempts} attempts")

    def _learn_clock(self, date: str | None) -> None:
        if not date:
            return
        try:
            server = email.utils.parsedate_to_datetime(date)
        except (TypeError, ValueError):
            return
        if server.tzinfo is None:
            server = server.replace(tzinfo=UTC)
        self.server_offset = (server - datetime.now(UTC)).total_seconds()

    def now(self) -> datetime:
        """The vendor's clock (from its answers' Date header), else the local one.
        Watermarks are in the vendor's time, so clock skew cannot open a gap."""
        local = datetime.now(UTC)
        if self.server_offset is None:
            return local
        return local + timedelta(seconds=self.server_offset)

    def _failed(self, what: str, reason: str, attempt: int, retry_after: float | None) -> None:
        label = reason.split(" (")[0].replace(" ", "_").lower()
        self.metrics.api_errors.labels(self.source, label).inc()
        if attempt >= self.retry.attempts:
            return
        backoff = min(self.retry.backoff_seconds * 2 ** (attempt - 1), 30.0)
        wait = min(retry_after if retry_after is not None else backoff, self.retry.max_wait_seconds)
        log.warning("%s %s: %s; retrying in %.1f s", self.source, what, reason, wait)
        self._sleep(wait)

    def _respect_window(self) -> None:
        if self._window is None:
            return
        wait = self._window.wait_time()
        if wait > 0:
            self._sleep(wait)
        self._window.record()

    # -- Autotask's shared hourly threshold ---------------------------------------------

    def autotask_budget(self) -> float:
        """Autotask: the share of the database's hourly request threshold already used
        (ThresholdInformation); above the configured share the run backs off."""
        answer = self.call(Request("GET", "V1.0/ThresholdInformation"), "ThresholdInformation")
        try:
            limit = float(answer["externalRequestThreshold"])
            used = float(answer["currentTimeframeRequestCount"])
        except (KeyError, TypeError, ValueError):
            raise ApiError(self.source, "ThresholdInformation", "unexpected answer") from None
        ratio = used / limit if limit > 0 else 1.0
        self.metrics.budget_used.labels(self.source).set(ratio)
        assert isinstance(self.config, AutotaskPolling)
        if ratio > self.config.max_share_of_threshold:
            raise BudgetExhausted(
                self.source,
                "ThresholdInformation",
                f"{used:.0f} of {limit:.0f} requests used this hour; backing off",
            )
        return ratio
