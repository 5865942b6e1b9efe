"""`partnerpulse poll` settings; each field reads `PARTNERPULSE_<NAME>`."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from services.runtime.settings import CommonSettings


class PollSettings(CommonSettings):
    poll_host: str = Field("127.0.0.1", description="Where /metrics and /healthz listen.")
    poll_port: int = Field(8484, ge=0, le=65535, description="Port of /metrics and /healthz.")
    poll_ingest_url: str = Field(
        "http://127.0.0.1:8480", description="Ingest's base URL: polled records are posted there."
    )
    poll_retry_attempts: int = Field(
        6, ge=1, description="Tries of one vendor request or ingest post before the run stops."
    )
    poll_backoff_seconds: float = Field(
        0.5, gt=0, description="First back-off after a 5xx or network error (then doubled)."
    )
    poll_max_wait_seconds: float = Field(
        300, gt=0, description="Longest wait honoured for one Retry-After or back-off."
    )
    poll_receipts_file: Path | None = Field(
        None,
        description="Evaluation only: append ingest's answer to every post here (JSON lines: "
        "ref, route, status, event_ids, accepted, body_sha256), so `evaluate` can account for "
        "polled records as it does for the deliveries it sends.",
    )
