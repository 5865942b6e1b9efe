"""ASGI apps served by uvicorn in a thread of the test process (real HTTP, no subprocess)."""

from __future__ import annotations

import threading
from typing import Any

import uvicorn

from services.runtime.broker import wait_for_port

from .waiting import wait_for


def serve(app: Any, port: int) -> tuple[uvicorn.Server, threading.Thread]:
    """`app` on 127.0.0.1:`port`, its lifespan started; stop: `server.should_exit = True`."""
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", access_log=False, lifespan="on"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for_port("127.0.0.1", port)
    wait_for(f"uvicorn started on port {port}", lambda: server.started, 30, every=0.01)
    return server, thread
