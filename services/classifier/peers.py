"""Several classifier workers in one consumer group answer as one.

Each worker holds the clients of the events partitions assigned to it. A request
about one client goes to the worker that owns it (faust's table routing: the
partition of the client's key, the URL its owner announced in the group); a
request about every client asks every worker of the group (the URLs of the
assignment) and merges their answers. A worker asked by a peer answers for its
own clients only (`LOCAL_HEADER`), so a request is forwarded at most once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import aiohttp
from faust.exceptions import SameNode
from faust.web import Request, Response, View
from faust.web.exceptions import ServiceUnavailable
from yarl import URL

if TYPE_CHECKING:
    from services.classifier.service import Classifier

log = logging.getLogger("partnerpulse.classifier.peers")

LOCAL_HEADER = "X-Partnerpulse-Local"  # a peer's request: answer for your own clients
FORWARDED_HEADERS = ("Authorization",)
PEER_TIMEOUT = 10.0


def is_local(request: Request) -> bool:
    return request.headers.get(LOCAL_HEADER) == "1"


def peer_urls(classifier: Classifier) -> list[URL]:
    """The other workers of the group, as the last assignment announced them."""
    app = classifier.app
    own = _ident(URL(str(app.conf.canonical_url)))
    try:
        hosts = app.router.tables_metadata()
    except Exception:  # no assignment yet
        return []
    return [URL(str(host)) for host in hosts if _ident(URL(str(host))) != own]


async def route(
    classifier: Classifier, table: str, key: bytes, view: View, request: Request
) -> Response | None:
    """The owner's answer about `key`, or None when this worker is the owner (or no
    owner is known yet: a rebalance under way; this worker answers with what it has)."""
    if is_local(request):
        return None
    try:
        response: Response = await classifier.app.router.route_req(table, key, view.web, request)
        return response
    except (SameNode, ServiceUnavailable, KeyError):
        return None
    except (TypeError, AttributeError):
        # Before the worker has the topic's partition metadata (just started, or a
        # rebalance), faust's key look-up iterates a None: no owner is known yet.
        return None
    except aiohttp.ClientError as exc:
        log.warning("the worker that owns %r did not answer: %s", key, exc)
        return None


async def ask_peers(
    classifier: Classifier,
    request: Request,
    path: str,
    *,
    json: Any = None,
) -> list[Any]:
    """Every other worker's JSON answer to `path` (GET, or POST with `json`), about
    its own clients; a worker that does not answer is left out and logged."""
    if is_local(request):
        return []
    urls = peer_urls(classifier)
    if not urls:
        return []
    headers = {LOCAL_HEADER: "1"}
    headers.update(_forwarded(request.headers))
    session = classifier.app.http_client
    timeout = aiohttp.ClientTimeout(total=PEER_TIMEOUT)

    async def one(url: URL) -> Any:
        target = url.with_path(path)
        method = "POST" if json is not None else "GET"
        try:
            async with session.request(
                method, target, json=json, headers=headers, timeout=timeout
            ) as response:
                if response.status != 200:
                    log.warning("worker %s answered %s to %s", url, response.status, path)
                    return None
                return await response.json()
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning("worker %s did not answer %s: %s", url, path, exc)
            return None

    answers = await asyncio.gather(*(one(url) for url in urls))
    return [a for a in answers if a is not None]


def _forwarded(headers: Mapping[str, str]) -> dict[str, str]:
    return {name: headers[name] for name in FORWARDED_HEADERS if name in headers}


def _ident(url: URL) -> tuple[str, int]:
    return (url.host or "", int(url.port or 80))
