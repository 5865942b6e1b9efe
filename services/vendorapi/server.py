"""Start the stand-ins on a free loopback port, in a thread: what tests and the evaluator
call. `start_standins(api_jsonl, clock, polling)` returns the running server with the
base URL each vendor's `polling.<source>.base_url` must name (`base_urls`)."""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import uvicorn

from services.events.tenant_polling import PollingConfig
from services.runtime.broker import free_port
from services.vendorapi.app import StandIn, create_app
from services.vendorapi.records import ApiRecords, Clock

# What each vendor's base_url is under the stand-ins' root.
BASE_PATHS = {
    "autotask": "/autotask/ATServicesRest",
    "connectwise": "/connectwise/v4_6_release/apis/3.0",
    "halopsa": "/halopsa",
    "ninjaone": "/ninjaone",
    "dattormm": "/dattormm",
    "tacticalrmm": "/tacticalrmm",
}


@dataclass
class RunningStandIns:
    url: str
    state: StandIn
    server: uvicorn.Server
    thread: threading.Thread

    @property
    def base_urls(self) -> dict[str, str]:
        return {vendor: self.url + path for vendor, path in BASE_PATHS.items()}

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


def start_standins(
    records: ApiRecords | Path,
    clock: Clock,
    polling: PollingConfig | None,
    *,
    port: int = 0,
) -> RunningStandIns:
    """Serve `records` (or an api.jsonl path) at `clock`, accepting `polling`'s credentials."""
    if isinstance(records, Path):
        records = ApiRecords.load(records)
    state = StandIn(records=records, clock=clock, polling=polling)
    port = port or free_port()
    config = uvicorn.Config(
        create_app(state),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
        date_header=False,  # the Date header is the replay clock's
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="vendorapi", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    if not server.started:
        raise RuntimeError(f"the vendor API stand-ins did not start on port {port}")
    return RunningStandIns(f"http://127.0.0.1:{port}", state, server, thread)


def pointed_at(polling: PollingConfig, base_urls: dict[str, str]) -> PollingConfig:
    """A scenario tenant's `polling:` section with every source's base_url on the
    stand-ins (the credentials stay: the stand-ins accept exactly those)."""
    updates = {
        name: config.model_copy(update={"base_url": base_urls[name]})
        for name, config in polling.sources().items()
    }
    return polling.model_copy(update=updates)


def standin_polling(base_urls: dict[str, str], sources: set[str]) -> PollingConfig:
    """A `polling:` section for a scenario whose tenant file has none: every source that
    api.jsonl holds, pointed at the stand-ins, with throw-away credentials (pass the
    result to `start_standins` too, so the stand-ins accept exactly these)."""
    secret = secrets.token_urlsafe(16)
    common = {"every_seconds": 5, "overlap_seconds": 600}
    per_source: dict[str, dict[str, object]] = {
        "autotask": {"username": "poll@standin", "secret": secret, "integration_code": secret},
        "connectwise": {
            "company_id": "standin",
            "public_key": "poll",
            "private_key": secret,
            "client_id": secret,
        },
        "halopsa": {"client_id": "poll", "client_secret": secret},
        "ninjaone": {"client_id": "poll", "client_secret": secret},
        "dattormm": {"api_key": "poll", "api_secret": secret},
        "tacticalrmm": {"api_key": secret},
    }
    data = {
        name: {"base_url": base_urls[name], **common, **values}
        for name, values in per_source.items()
        if name in sources
    }
    return PollingConfig.model_validate(data)
