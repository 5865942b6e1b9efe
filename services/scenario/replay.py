"""Replay a scenario's deliveries over HTTP, each authenticated the way its vendor does it.

Deliveries go out in their recorded order, `concurrency` at a time. Each is
signed just before it is sent (Standard Webhooks signatures carry the time);
ConnectWise's signing key is served on the loopback `key_url` its bodies name.
A 429 is retried after its Retry-After, a connection error or a 5xx with
back-off; any other answer is final and recorded.

The `key_url` is fixed in the bodies, so two replays of one scenario at once
(two people running the tests on one machine) want the same port. The key is
therefore derived from the `key_url`: every replay serves the same key there,
and a replay that finds the port taken signs with it once it has checked that
the key served there is that key.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from services.events.models import Source
from services.events.tenant import Tenant
from services.ingest.adapters import ADAPTERS
from services.ingest.sender import Signer
from services.platform import local_http
from services.scenario.files import RecordedDelivery

RETRIES = 8


class ReplayError(RuntimeError):
    """The replay cannot go on (e.g. the key server's port is taken)."""


class ReplayStopped(ReplayError):
    """Someone watching the replay (`Hooks.abort`) ended it."""


@dataclass(frozen=True)
class Hooks:
    """What a watcher of the replay is told, and how it ends it.

    `answered(source, status, error)`: each answer to each attempt (status 0: none);
    `finished(source)`: a delivery is done with; `accepted(event_ids)`: the events a
    delivery became; `abort`: set it to stop sending.
    """

    answered: Callable[[str, int, str | None], None] | None = None
    finished: Callable[[str], None] | None = None
    accepted: Callable[[list[str]], None] | None = None  # event ids ingest took, as it did
    sent: Callable[[RecordedDelivery], None] | None = None  # a delivery is about to go out
    abort: threading.Event = field(default_factory=threading.Event)


@dataclass(frozen=True)
class Outcome:
    """What ingest answered to one delivery."""

    seq: int
    source: str
    status: int  # 0: never answered
    event_ids: tuple[str, ...]
    accepted: int  # events ingest stored as new
    body_sha256: str
    error: str | None = None

    @property
    def answered(self) -> bool:
        return 200 <= self.status < 300


def signing_key(deliveries: Sequence[RecordedDelivery]) -> bytes:
    """ConnectWise's signing key for this scenario: from its (first) key_url."""
    url = next((u for d in deliveries if (u := _key_url(d)) is not None), "")
    return hashlib.sha256(f"partnerpulse-replay\x1f{url}".encode()).hexdigest().encode()


def _key_url(delivery: RecordedDelivery) -> str | None:
    if delivery.source is not Source.connectwise:
        return None
    try:
        url = json.loads(delivery.body)["Metadata"]["key_url"]
    except (ValueError, KeyError, TypeError):
        return None
    return url if isinstance(url, str) else None


def _served_elsewhere(delivery: RecordedDelivery, key: bytes) -> bool:
    """Whether the key_url's port, which we could not take, serves our key already."""
    url = _key_url(delivery)
    if url is None:
        return False
    try:
        served = local_http.get(url, timeout=2.0).json().get("signing_key")
    except (httpx.HTTPError, ValueError, AttributeError):
        return False
    return isinstance(served, str) and served.encode() == key


def replay(
    deliveries: Sequence[RecordedDelivery],
    tenant: Tenant,
    ingest_url: str,
    *,
    concurrency: int = 8,
    progress: Callable[[int], None] | None = None,
    hooks: Hooks | None = None,
) -> list[Outcome]:
    return asyncio.run(
        _replay(deliveries, tenant, ingest_url.rstrip("/"), concurrency, progress, hooks or Hooks())
    )


async def _replay(
    deliveries: Sequence[RecordedDelivery],
    tenant: Tenant,
    ingest_url: str,
    concurrency: int,
    progress: Callable[[int], None] | None,
    hooks: Hooks,
) -> list[Outcome]:
    signer = Signer(tenant, connectwise_key=signing_key(deliveries))
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    gate = asyncio.Semaphore(concurrency)
    outcomes: list[Outcome | None] = [None] * len(deliveries)
    try:
        async with httpx.AsyncClient(timeout=30.0, limits=limits, trust_env=False) as http:

            async def send(index: int, delivery: RecordedDelivery) -> None:
                try:
                    outcome = outcomes[index] = await _send(
                        http, signer, ingest_url, delivery, hooks
                    )
                    if hooks.accepted is not None and outcome.answered and outcome.event_ids:
                        hooks.accepted(list(outcome.event_ids))
                finally:
                    gate.release()
                    if progress is not None:
                        progress(1)
                    if hooks.finished is not None:
                        hooks.finished(delivery.source.value)

            tasks: list[asyncio.Task[None]] = []
            try:
                for index, delivery in enumerate(deliveries):
                    await gate.acquire()
                    if hooks.abort.is_set():
                        raise ReplayStopped("the replay was stopped")
                    if hooks.sent is not None:
                        hooks.sent(delivery)
                    tasks.append(asyncio.create_task(send(index, delivery)))
                await asyncio.gather(*tasks)
            except BaseException:
                for task in tasks:  # let no request outlive the client
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                raise
    finally:
        signer.close()
    return [o for o in outcomes if o is not None]


def _headers(signer: Signer, delivery: RecordedDelivery) -> dict[str, str]:
    try:
        signed = signer.headers(delivery.source, delivery.body)
    except OSError as exc:
        key = signer.connectwise_key
        if not _served_elsewhere(delivery, key):
            raise ReplayError(
                f"delivery {delivery.seq}: cannot serve ConnectWise's signing key at the body's "
                f"Metadata.key_url ({exc}); another process holds that port"
            ) from None
        signed = ADAPTERS[Source.connectwise].sign(delivery.body, signer.tenant, key)
    return {"content-type": "application/json", **delivery.headers, **signed}


async def _send(
    http: httpx.AsyncClient,
    signer: Signer,
    ingest_url: str,
    delivery: RecordedDelivery,
    hooks: Hooks | None = None,
) -> Outcome:
    url = f"{ingest_url}/v1/webhooks/{delivery.source.value}"
    digest = hashlib.sha256(delivery.body).hexdigest()
    error = "not sent"
    told = hooks.answered if hooks is not None else None
    for attempt in range(RETRIES):
        if hooks is not None and hooks.abort.is_set():
            break
        try:
            response = await http.post(
                url, content=delivery.body, headers=_headers(signer, delivery)
            )
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"
            if told is not None:
                told(delivery.source.value, 0, error)
            await asyncio.sleep(min(8.0, 0.25 * 2**attempt))
            continue
        if told is not None:
            told(delivery.source.value, response.status_code, _answer_text(response))
        if response.status_code == 429 or response.status_code >= 500:
            error = f"{response.status_code} {response.text[:200]}"
            wait = response.headers.get("retry-after", "")
            await asyncio.sleep(
                min(10.0, float(wait)) if wait.isdigit() else min(8.0, 0.25 * 2**attempt)
            )
            continue
        return _outcome(delivery, digest, response)
    return Outcome(delivery.seq, delivery.source.value, 0, (), 0, digest, error)


def _answer_text(response: httpx.Response) -> str | None:
    if response.is_success:
        return None
    return f"{response.status_code} {response.text[:300]}"


def _outcome(delivery: RecordedDelivery, digest: str, response: httpx.Response) -> Outcome:
    try:
        answer = response.json()
    except json.JSONDecodeError:
        answer = {}
    if not isinstance(answer, dict):
        answer = {}
    ids = answer.get("event_ids") or []
    error = None if response.is_success else str(answer.get("error") or response.text[:300])
    return Outcome(
        seq=delivery.seq,
        source=delivery.source.value,
        status=response.status_code,
        event_ids=tuple(str(i) for i in ids),
        accepted=int(answer.get("accepted") or 0),
        body_sha256=digest,
        error=error,
    )


# -- ConnectWise key_urls that name a vendor host --------------------------------------------

KEY_FILE_ENV = "PARTNERPULSE_INGEST_CONNECTWISE_KEY_FILE"


def key_urls(deliveries: Sequence[RecordedDelivery]) -> list[str]:
    """Every distinct `Metadata.key_url` of the scenario's ConnectWise deliveries."""
    return list(dict.fromkeys(u for d in deliveries if (u := _key_url(d)) is not None))


def vendor_key_urls(deliveries: Sequence[RecordedDelivery]) -> list[str]:
    """The key_urls no replay can serve: on a host other than loopback (a real ConnectWise)."""
    loopback = ("127.0.0.1", "localhost", "::1")
    return [u for u in key_urls(deliveries) if urlsplit(u).hostname not in loopback]


def write_key_file(deliveries: Sequence[RecordedDelivery], path: Path) -> Path:
    """The scenario's signing key for each of its key_urls, as ingest reads it when
    `PARTNERPULSE_INGEST_CONNECTWISE_KEY_FILE` names the file (evaluation only): the
    pipeline an evaluation starts is answered every key_url without fetching it."""
    key = signing_key(deliveries).decode()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)  # a signing key: only for its owner
    path.write_text(json.dumps({url: key for url in key_urls(deliveries)}, indent=1))
    return path
