"""uvicorn with a read deadline: a request's headers and body must arrive in time.

uvicorn's h11 protocol times out an idle keep-alive connection, but not one that
sends part of a request and then nothing (or a byte now and then): 300 such
connections stayed open for as long as their clients liked. `TimedH11Protocol`
gives every request `read_timeout` seconds from its first byte (or from the
connection, for the first request) until its last byte; then it closes the
connection. A handler still reading the body then sees the client gone
(`ClientDisconnect`) and answers nobody. One timer per request, armed and
cancelled in `data_received`: nothing on the hot path but an attribute check.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger("partnerpulse.http")

DEFAULT_READ_TIMEOUT = 10.0


class TimedH11Protocol(H11Protocol):
    read_timeout = DEFAULT_READ_TIMEOUT
    timeouts = 0  # connections closed for a late request, by every protocol of this class

    _deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.conn.their_state in (h11.IDLE, h11.SEND_BODY):
            self._arm()  # a request has begun and is not all here yet
        else:
            self._disarm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def on_response_complete(self) -> None:
        super().on_response_complete()
        # The next request's clock starts with its first byte; until then the
        # keep-alive timeout governs the idle connection.
        if self.conn.their_state is h11.IDLE:
            self._disarm()

    def _arm(self) -> None:
        if self._deadline is None:
            self._deadline = self.loop.call_later(self.read_timeout, self._expired)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expired(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        type(self).timeouts += 1
        log.info(
            "closing a connection from %s: request not received within %gs",
            f"{self.client[0]}:{self.client[1]}" if self.client else "?",
            self.read_timeout,
        )
        self.transport.close()


def timed_protocol(read_timeout: float) -> type[TimedH11Protocol]:
    """A protocol class with its own `read_timeout` (one per server)."""
    return type("TimedH11Protocol", (TimedH11Protocol,), {"read_timeout": read_timeout})


def server_config(
    app: Any,
    host: str,
    port: int,
    *,
    log_level: str = "info",
    read_timeout: float = DEFAULT_READ_TIMEOUT,
    **options: Any,
) -> uvicorn.Config:
    """The uvicorn config every partnerpulse HTTP service runs with."""
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        access_log=False,
        http=timed_protocol(read_timeout),
        **options,
    )
