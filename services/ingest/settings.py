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
    ingest_journal_max_pending_bytes: int = Field(
        512 * 1024 * 1024,
        ge=1024 * 1024,
        description="Bytes of records (events and dead letters) that may wait for the broker "
        "before ingest answers 429.",
    )
    ingest_journal_max_bytes: int = Field(
        0,
        ge=0,
        description="Largest size of the journal's database file (0: no limit but the disk). "
        "When reached, ingest answers as on a full disk: 503 (429 to ConnectWise).",
    )
    ingest_journal_retention_days: int = Field(
        35,
        ge=0,
        description="Relayed journal rows older than this (by received time) are pruned; "
        "0 keeps every row. It is also the window in which a re-delivered event is "
        "recognised as a duplicate. Pending rows are never pruned.",
    )
    ingest_read_timeout_seconds: float = Field(
        10.0,
        gt=0,
        description="Time a client has to send a request's headers and body; the "
        "connection is closed after it.",
    )
    ingest_max_event_bytes: int = Field(
        65_536,
        ge=4096,
        le=524_288,
        description="Largest serialised canonical event accepted (413 above).",
    )
    ingest_max_text_chars: int = Field(
        4096,
        ge=64,
        description="Free-text fields (summary, title, notes, message, detail) are cut to "
        "this many characters.",
    )
    ingest_dead_letter_max_bytes: int = Field(
        65_536,
        ge=1024,
        le=524_288,
        description="A dead letter keeps this many bytes of the raw body; its original "
        "size and SHA-256 go in its headers.",
    )
    ingest_key_failure_cache_seconds: float = Field(
        30.0,
        ge=0,
        description="How long a ConnectWise key host that failed is not asked again "
        "(ingest answers 429 meanwhile).",
    )
    ingest_retry_after_seconds: int = Field(5, ge=1, description="Retry-After of a 429 answer.")
    ingest_key_fetch_timeout: float = Field(
        3.0, gt=0, description="Timeout of a ConnectWise signing-key fetch, in seconds."
    )
    ingest_connectwise_key_file: Path | None = Field(
        None,
        description="Evaluation and tests only, never in production: a JSON file "
        '{"<key_url>": "<signing key>"}; a ConnectWise key_url listed there is answered from '
        "it instead of being fetched (the tenant's key_url_hosts allow-list still applies). "
        "`partnerpulse evaluate` sets it for the pipeline it starts.",
    )

    relay_host: str = Field(
        "127.0.0.1", description="Address of the relay's metrics and health endpoints."
    )
    relay_port: int = Field(
        8482, ge=0, le=65535, description="Port of the relay's metrics and health endpoints."
    )
    relay_housekeeping_interval_seconds: float = Field(
        300.0,
        gt=0,
        description="How often the relay prunes the journal (retention) and measures its size.",
    )

    @property
    def journal_path(self) -> Path:
        return self.data_dir / "ingest" / "journal.sqlite3"
