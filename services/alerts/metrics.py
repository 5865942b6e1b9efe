"""Alerts service metrics (Prometheus). One registry per app, so tests can run several."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from services.alerts.model import ChannelKind
from services.events import topics

OUTCOMES = ("sent", "retry", "failed")
GRAFANA_OUTCOMES = ("accepted", "rejected")
ALERT_STATES = ("open", "acknowledged")


class AlertsMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.notifications = Counter(
            "partnerpulse_alerts_notifications_total",
            "Delivery attempts of notifications, by channel and outcome (sent; retry: failed "
            "for now, retried with back-off; failed: refused for good).",
            ["channel", "outcome"],
            registry=r,
        )
        self.outbox_depth = Gauge(
            "partnerpulse_alerts_outbox_depth",
            "Notifications due and not yet delivered (waiting for a channel, or being sent); "
            "those held by a cooldown, quiet hours or the digest are not counted until due.",
            registry=r,
        )
        self.delivery_latency = Histogram(
            "partnerpulse_alerts_delivery_latency_seconds",
            "From the triggering record's timestamp (or the end of a deliberate hold: cooldown, "
            "quiet hours, digest) to delivery, by channel.",
            ["channel"],
            buckets=(0.5, 1, 2.5, 5, 10, 15, 30, 60, 120, 300, 900, 3600),
            registry=r,
        )
        self.open_alerts = Gauge(
            "partnerpulse_alerts_open_alerts",
            "Alerts not yet resolved, by state (open, acknowledged).",
            ["state"],
            registry=r,
        )
        self.grafana = Counter(
            "partnerpulse_alerts_grafana_notifications_total",
            "Grafana webhook notifications received, by outcome (accepted, rejected).",
            ["outcome"],
            registry=r,
        )
        self.consumed = Counter(
            "partnerpulse_alerts_records_consumed_total",
            "Records taken in from Kafka (and durably applied), by topic.",
            ["topic"],
            registry=r,
        )
        self.invalid = Counter(
            "partnerpulse_alerts_records_invalid_total",
            "Records that are not a valid Signal or HealthSnapshot, skipped, by topic.",
            ["topic"],
            registry=r,
        )
        # Every label combination exists from the start, so panels show 0, not "no data".
        for channel in ChannelKind:
            self.delivery_latency.labels(channel=channel.value)
            for outcome in OUTCOMES:
                self.notifications.labels(channel=channel.value, outcome=outcome)
        for outcome in GRAFANA_OUTCOMES:
            self.grafana.labels(outcome=outcome)
        for topic in (topics.SIGNALS, topics.HEALTH):
            self.consumed.labels(topic=topic)
            self.invalid.labels(topic=topic)

    def watch(self, depth: Callable[[], float], counts: Callable[[], dict[str, int]]) -> None:
        self.outbox_depth.set_function(depth)
        for state in ALERT_STATES:
            self.open_alerts.labels(state=state).set_function(
                lambda state=state: float(counts().get(state, 0))  # type: ignore[misc]
            )
