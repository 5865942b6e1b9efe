"""The poller's Prometheus metrics, in its own registry (served on its own port)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge

RESULTS = ("new", "duplicate", "rejected", "skipped")


class PollMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.lag = Gauge(
            "partnerpulse_poll_lag_seconds",
            "Seconds since the start of the last successful run of this collection: how old "
            "the newest change the pipeline can have seen from the poller may be.",
            ["source", "entity"],
            registry=r,
        )
        self.last_success = Gauge(
            "partnerpulse_poll_last_success_timestamp_seconds",
            "Start of the last successful run of this collection (Unix time).",
            ["source", "entity"],
            registry=r,
        )
        self.records = Counter(
            "partnerpulse_poll_records_total",
            "Records the poller posted to ingest, by ingest's answer: new (first seen through "
            "the poller: the webhook did not deliver it), duplicate (already had it), "
            "rejected (4xx, to the DLQ), skipped (nothing to post).",
            ["source", "entity", "result"],
            registry=r,
        )
        self.runs = Counter(
            "partnerpulse_poll_runs_total",
            "Runs of a collection, by outcome (ok, failed, backed_off).",
            ["source", "entity", "outcome"],
            registry=r,
        )
        self.api_requests = Counter(
            "partnerpulse_poll_api_requests_total",
            "Requests sent to the vendor API.",
            ["source"],
            registry=r,
        )
        self.api_errors = Counter(
            "partnerpulse_poll_api_errors_total",
            "Failed vendor API requests, by reason (http_429, http_500, network_error, ...).",
            ["source", "reason"],
            registry=r,
        )
        self.budget_used = Gauge(
            "partnerpulse_poll_budget_used_ratio",
            "Share of the vendor's request budget used (Autotask: the database's hourly "
            "threshold from ThresholdInformation; Datto RMM: this poller's 60 s window).",
            ["source"],
            registry=r,
        )

    def initialise(self, collections: list[tuple[str, str]]) -> None:
        """Label combinations exist from the start, so panels show 0, not no data."""
        for source, entity in collections:
            for result in RESULTS:
                self.records.labels(source, entity, result)
            for outcome in ("ok", "failed", "backed_off"):
                self.runs.labels(source, entity, outcome)
            self.api_requests.labels(source)
            self.budget_used.labels(source)
