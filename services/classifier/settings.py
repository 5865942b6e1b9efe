"""Classifier settings: `PARTNERPULSE_CLASSIFIER_*` plus the shared ones."""

from __future__ import annotations

from pydantic import Field

from services.runtime.settings import CommonSettings


class ClassifierSettings(CommonSettings):
    classifier_host: str = Field("127.0.0.1", description="Address the query API binds.")
    classifier_port: int = Field(
        8481, ge=1, le=65535, description="Port of the query API and /metrics."
    )
    classifier_app_id: str = Field(
        "partnerpulse-classifier",
        description="Faust app id: the consumer group and the prefix of the changelog topics.",
    )
    classifier_store: str = Field(
        "rocksdb://",
        pattern=r"^(rocksdb|memory)://$",
        description="Where a worker keeps its tables between restarts: `rocksdb://` (a local "
        "RocksDB per partition under the data dir, so a restarted worker reads only the "
        "changelog written since, and a restarted embedded broker needs no replay of "
        "history) or `memory://` (every start reads the whole changelog).",
    )
    classifier_standby_replicas: int = Field(
        1,
        ge=0,
        description="Standby copies of each partition's state kept warm by other workers "
        "(faust's table_standby_replicas). A worker taking over a partition it holds a "
        "standby of starts at once; any other reads the partition's whole changelog. "
        "`up --classifier-workers N` and `classifier --workers N` use N-1 unless this is set.",
    )
    classifier_batch_size: int = Field(
        2000, ge=1, description="Most events handled (and state written) in one batch."
    )
    classifier_batch_within: float = Field(
        0.03, gt=0, description="Seconds a batch waits to fill before it is handled."
    )
    classifier_fetch_max_wait_ms: int = Field(
        25,
        ge=1,
        description="Longest a fetch waits for data (faust's 1500 ms adds latency on tansu).",
    )
    classifier_checkpoint_interval: float = Field(
        5.0,
        gt=0,
        description="Most seconds between checkpoints: each writes the states changed since "
        "the last one and records the stream positions they cover. Longer: fewer state "
        "writes; more events processed again after a crash (deduplicated, never counted "
        "twice).",
    )
    classifier_judge_interval: float = Field(
        5.0,
        gt=0,
        description="While draining a backlog (full batches), how often changed clients are "
        "judged. Judging passes over a client's whole window, so while behind, judging "
        "less often drains faster; the batch that catches up is always judged.",
    )
    classifier_live_judge_interval: float = Field(
        0.2,
        ge=0,
        description="Live (batches reaching the end of their partitions), the least time "
        "between two judging passes: a client changed in between is judged at most this "
        "much later (by the next batch or a timer), so a busy client is not judged for "
        "every few events. 0: every batch.",
    )
    classifier_tick_seconds: float = Field(
        5.0,
        gt=0,
        description="How often every client is re-judged as event time advances "
        "(overdue recommendations, sliding windows, episodes going quiet).",
    )
