"""Ingest and relay metrics (Prometheus). One registry per app, so tests can run several.

The HTTP process serves `IngestMetrics`; the relay process (`partnerpulse relay`)
serves `RelayMetrics` on its own port.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from services.events import topics
from services.events.models import Source

REJECT_REASONS = (
    "authentication",
    "too_large",  # the body over PARTNERPULSE_INGEST_MAX_BODY_BYTES
    "event_too_large",  # an event over PARTNERPULSE_INGEST_MAX_EVENT_BYTES
    "invalid_payload",  # not JSON, too deep, an integer too long, a field wrong
    "stale_event_time",  # older than webhooks.freshness.max_event_age_hours
    "future_event_time",  # ahead of webhooks.freshness.max_event_ahead_hours
    "journal_full",
    "journal_unwritable",  # disk full, I/O error
    "key_unavailable",
    "client_disconnected",  # gone (or cut by the read timeout) before the body was in
    "unknown_source",
)


@dataclass(frozen=True)
class SourceMetrics:
    """One source's series of the ingest metrics, looked up once, not on every request."""

    received: Counter
    accepted: Counter
    duplicates: Counter
    unknown_client: Counter
    ignored: Counter
    dead_lettered: Counter
    rejected: Mapping[str, Counter]  # by reason
    request_latency: Histogram


class IngestMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.received = Counter(
            "partnerpulse_ingest_deliveries_received_total",
            "Webhook deliveries received, before any check, by source.",
            ["source"],
            registry=r,
        )
        self.accepted = Counter(
            "partnerpulse_ingest_events_accepted_total",
            "Canonical events durably journaled (new, not duplicates), by source.",
            ["source"],
            registry=r,
        )
        self.rejected = Counter(
            "partnerpulse_ingest_deliveries_rejected_total",
            "Deliveries refused, by source and reason.",
            ["source", "reason"],
            registry=r,
        )
        self.duplicates = Counter(
            "partnerpulse_ingest_duplicate_events_total",
            "Events already journaled (vendor retries, re-posts), by source.",
            ["source"],
            registry=r,
        )
        self.unknown_client = Counter(
            "partnerpulse_ingest_unknown_client_events_total",
            "Accepted events whose client the tenant file does not name, by source.",
            ["source"],
            registry=r,
        )
        self.ignored = Counter(
            "partnerpulse_ingest_ignored_deliveries_total",
            "Authentic deliveries that carry nothing the pipeline uses, by source.",
            ["source"],
            registry=r,
        )
        self.dead_lettered = Counter(
            "partnerpulse_ingest_dead_lettered_total",
            "Raw payloads sent to the dead-letter topic, by source.",
            ["source"],
            registry=r,
        )
        self.journal_depth = Gauge(
            "partnerpulse_ingest_journal_depth",
            "Records journaled and not yet acknowledged by Kafka, as ingest last counted them.",
            registry=r,
        )
        self.journal_capacity = Gauge(
            "partnerpulse_ingest_journal_capacity",
            "Records the journal may hold pending before ingest answers 429.",
            registry=r,
        )
        self.request_latency = Histogram(
            "partnerpulse_ingest_request_duration_seconds",
            "Time from request received to response, by source.",
            ["source"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
            registry=r,
        )
        # Every label combination exists from the start, so panels show 0, not "no data".
        self.by_source = {source: self._series(source.value) for source in Source}

    def _series(self, source: str) -> SourceMetrics:
        return SourceMetrics(
            received=self.received.labels(source=source),
            accepted=self.accepted.labels(source=source),
            duplicates=self.duplicates.labels(source=source),
            unknown_client=self.unknown_client.labels(source=source),
            ignored=self.ignored.labels(source=source),
            dead_lettered=self.dead_lettered.labels(source=source),
            rejected={r: self.rejected.labels(source=source, reason=r) for r in REJECT_REASONS},
            request_latency=self.request_latency.labels(source=source),
        )

    def watch_journal(self, depth: Callable[[], float], capacity: float) -> None:
        self.journal_depth.set_function(depth)
        self.journal_capacity.set(capacity)


class RelayMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.relayed = Counter(
            "partnerpulse_ingest_relayed_records_total",
            "Records acknowledged by Kafka, by topic.",
            ["topic"],
            registry=r,
        )
        self.pending = Gauge(
            "partnerpulse_ingest_relay_pending_records",
            "Records in the journal not yet acknowledged by Kafka, as the relay last counted.",
            registry=r,
        )
        self.lag = Gauge(
            "partnerpulse_ingest_relay_lag_seconds",
            "Age of the oldest record not yet acknowledged by Kafka (0 when none).",
            registry=r,
        )
        self.broker_errors = Counter(
            "partnerpulse_ingest_relay_broker_errors_total",
            "Relay attempts that failed on the broker (unreachable, records not acknowledged).",
            registry=r,
        )
        self.dead_lettered = Counter(
            "partnerpulse_ingest_relay_dead_lettered_records_total",
            "Journal records Kafka refused for good (too large, not retriable), sent to the "
            "dead-letter topic instead, by reason (the Kafka error; dropped: a dead letter "
            "refused too).",
            ["reason"],
            registry=r,
        )
        for reason in ("MessageSizeTooLargeError", "dropped"):
            self.dead_lettered.labels(reason=reason)
        self.pruned = Counter(
            "partnerpulse_ingest_journal_pruned_rows_total",
            "Relayed journal rows deleted past the retention "
            "(PARTNERPULSE_INGEST_JOURNAL_RETENTION_DAYS).",
            registry=r,
        )
        self.journal_rows = Gauge(
            "partnerpulse_ingest_journal_rows",
            "Rows in the ingest journal (pending and relayed), as the relay last measured.",
            registry=r,
        )
        self.journal_bytes = Gauge(
            "partnerpulse_ingest_journal_bytes",
            "Size of the ingest journal on disk (database and write-ahead log), in bytes.",
            registry=r,
        )
        self.reconciled = Counter(
            "partnerpulse_ingest_relay_reconciled_records_total",
            "Pending records found already on the broker at a restart, marked and not resent.",
            registry=r,
        )
        self.produce_latency = Histogram(
            "partnerpulse_ingest_produce_duration_seconds",
            "Time from send to Kafka acknowledgement, by source.",
            ["source"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10),
            registry=r,
        )
        # Every label combination exists from the start, so panels show 0, not "no data".
        self.produce_latency_by_source = {
            source.value: self.produce_latency.labels(source=source.value) for source in Source
        }
        for topic in (topics.EVENTS, topics.DLQ):
            self.relayed.labels(topic=topic)
