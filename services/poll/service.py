"""How `partnerpulse up` starts the poller: one supervised service when the tenant file
configures polling, none otherwise."""

from __future__ import annotations

from services.events.tenant import Tenant
from services.poll.settings import PollSettings
from services.runtime.supervisor import ServiceSpec


def poll_specs(tenant: Tenant, *, ingest_url: str) -> list[ServiceSpec]:
    """`[ServiceSpec("poll", ...)]` posting to `ingest_url`, or `[]` without `polling:`."""
    sources = sorted(tenant.polling.sources()) if tenant.polling else []
    if not sources:
        return []
    settings = PollSettings()
    base = f"http://{settings.poll_host}:{settings.poll_port}"
    return [
        ServiceSpec(
            "poll",
            health_url=f"{base}/healthz",
            describe=f"polling {', '.join(sources)} into {ingest_url}, metrics at {base}/metrics",
            env={"PARTNERPULSE_POLL_INGEST_URL": ingest_url},
        )
    ]
