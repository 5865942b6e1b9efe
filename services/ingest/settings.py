"""Settings of ingest and its relay: `PARTNERPULSE_INGEST_*`, `_RELAY_*` and the shared ones."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from services.runtime.settings import CommonSettings


class IngestSettings(CommonSettings):
    ingest_host: str = Field("127.0.0.1", description="Address the HTTP server binds.")
    ingest_port: int = Field(8480, ge=0, le=65535, description="Port of the HTTP server.")
    ingest_max_body_bytes: int = Field(
        1024 * 1024, ge=1024, description="Largest request body accepted (413 above)."
    )
    ingest_journal_max_pending: int = Field(
        100_000,
        ge=1,
        description="Events that may wait for the broker before ingest answers 429.",
    )
    ingest_journal_sync: str = Field(
        "FULL",
        pattern="^(FULL|EXTRA|NORMAL)$",
        description="SQLite synchronous level of the journal: FULL survives power loss.",
    )
    ingest_replay_journal: bool = Field(
        False,
        description="The relay re-sends the whole journal at start (the embedded broker "
        "starts empty).",
    )
    ingest_retry_after_seconds: int = Field(5, ge=1, description="Retry-After of a 429 answer.")
    ingest_key_fetch_timeout: float = Field(
        3.0, gt=0, description="Timeout of a ConnectWise signing-key fetch, in seconds."
    )

    relay_host: str = Field(
        "127.0.0.1", description="Address of the relay's metrics and health endpoints."
    )
    relay_port: int = Field(
        8482, ge=0, le=65535, description="Port of the relay's metrics and health endpoints."
    )

    @property
    def journal_path(self) -> Path:
        return self.data_dir / "ingest" / "journal.sqlite3"
