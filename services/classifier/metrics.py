"""Classifier metrics (Prometheus): per-client health and the pipeline's own state.

The client label is bounded: only clients the tenant file names get series
(initialised at start-up, so panels show 0 rather than "no data"); events of
unknown clients are counted in the pipeline metrics only.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.metrics import MetricWrapperBase

from services.classifier.domain.engine import ClientView
from services.events.models import EntityKind
from services.events.outputs import Band, Behaviour, SignalStatus, WorkClass

FAILURE_REASONS = ("invalid_event", "processing_error", "future_event_time")
WINDOW_LABELS = ("30d", "90d")


class ClassifierMetrics:
    def __init__(self, clients: Iterable[str], registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self._children: dict[tuple[int, tuple[str, ...]], Any] = {}
        r = self.registry
        self.score = Gauge(
            "partnerpulse_client_health_score",
            "Partnership health score, 0 to 100, judged over the health window.",
            ["client"],
            registry=r,
        )
        self.band = Gauge(
            "partnerpulse_client_health_band",
            "1 for the client's current band (green, yellow, red), 0 for the others.",
            ["client", "band"],
            registry=r,
        )
        self.score_change = Gauge(
            "partnerpulse_client_health_score_change",
            "Score minus the client's own baseline (average of its past daily scores).",
            ["client"],
            registry=r,
        )
        self.proactive_share = Gauge(
            "partnerpulse_client_proactive_share_ratio",
            "Proactive hours / all hours logged, by event-time window.",
            ["client", "window"],
            registry=r,
        )
        self.rhem = Gauge(
            "partnerpulse_client_rhem_hours",
            "Reactive hours per managed endpoint per 30 days, by window.",
            ["client", "window"],
            registry=r,
        )
        self.tickets_per_endpoint = Gauge(
            "partnerpulse_client_tickets_per_endpoint",
            "Tickets per managed endpoint per 30 days, by window.",
            ["client", "window"],
            registry=r,
        )
        self.work_hours = Gauge(
            "partnerpulse_client_work_hours",
            "Hours logged, by class (proactive, reactive) and window.",
            ["client", "work_class", "window"],
            registry=r,
        )
        self.onsite_visits = Gauge(
            "partnerpulse_client_onsite_visits",
            "Onsite visits, by class and window.",
            ["client", "work_class", "window"],
            registry=r,
        )
        self.behaviour_evidence = Gauge(
            "partnerpulse_client_behaviour_evidence",
            "Evidence of each behaviour within the window (records that show it).",
            ["client", "behaviour", "window"],
            registry=r,
        )
        self.open_signals = Gauge(
            "partnerpulse_client_open_signals",
            "Open behaviour signals, by behaviour.",
            ["client", "behaviour"],
            registry=r,
        )
        self.signals = Counter(
            "partnerpulse_classifier_signals_emitted_total",
            "Behaviour signal records published (new, updated, resolved), by behaviour.",
            ["behaviour", "status"],
            registry=r,
        )
        self.events = Counter(
            "partnerpulse_classifier_events_processed_total",
            "Canonical events folded into client state (new, not duplicates), by kind.",
            ["kind"],
            registry=r,
        )
        self.duplicates = Counter(
            "partnerpulse_classifier_duplicate_events_total",
            "Events already applied (redelivery, replay) and skipped.",
            registry=r,
        )
        self.too_late = Counter(
            "partnerpulse_classifier_too_late_events_total",
            "Events older than every window plus the allowed lateness: labelled, not counted.",
            registry=r,
        )
        self.failed = Counter(
            "partnerpulse_classifier_events_failed_total",
            "Events sent to the dead-letter topic, by reason.",
            ["reason"],
            registry=r,
        )
        self.offset_seeks = Counter(
            "partnerpulse_classifier_offset_seeks_total",
            "Partitions sought back because events before a delivered one never reached "
            "the agent (a framework fault the agent repairs; see docs/classifier.md).",
            registry=r,
        )
        self.work_items = Counter(
            "partnerpulse_classifier_work_items_total",
            "Work items published, by class.",
            ["work_class"],
            registry=r,
        )
        self.event_time_lag = Gauge(
            "partnerpulse_classifier_event_time_lag_seconds",
            "Wall clock minus the newest event time processed (how far behind real time).",
            registry=r,
        )
        self.watermark = Gauge(
            "partnerpulse_classifier_watermark_timestamp_seconds",
            "The newest event time seen: what windows are judged at.",
            registry=r,
        )
        self.last_processed = Gauge(
            "partnerpulse_classifier_last_processed_timestamp_seconds",
            "Wall-clock time the last batch of events was processed.",
            registry=r,
        )
        self.latency = Histogram(
            "partnerpulse_classifier_processing_latency_seconds",
            "From ingest accepting an event to its client's health being updated.",
            buckets=(
                0.005,
                0.01,
                0.025,
                0.05,
                0.075,
                0.1,
                0.15,
                0.2,
                0.3,
                0.4,
                0.5,
                0.75,
                1,
                2.5,
                5,
                10,
                30,
                60,
            ),
            registry=r,
        )
        self.batch_size = Histogram(
            "partnerpulse_classifier_batch_events",
            "Events handled per batch.",
            buckets=(1, 10, 50, 100, 250, 500, 1000),
            registry=r,
        )
        self.state_record_max_bytes = Gauge(
            "partnerpulse_classifier_state_record_max_bytes",
            "The largest client-state record (head or part) this worker has written.",
            registry=r,
        )
        self.state_record_bytes = Histogram(
            "partnerpulse_classifier_state_record_bytes",
            "Size of each client-state record (head or part) a checkpoint writes.",
            buckets=(1024, 4096, 16384, 65536, 131072, 262144, 524288, 1048576),
            registry=r,
        )
        for kind in EntityKind:
            self.events.labels(kind=kind.value)
        for reason in FAILURE_REASONS:
            self.failed.labels(reason=reason)
        for work_class in WorkClass:
            self.work_items.labels(work_class=work_class.value)
        for behaviour in Behaviour:
            for status in SignalStatus:
                self.signals.labels(behaviour=behaviour.value, status=status.value)
        self._clients: set[str] = set()
        self.own(clients)

    def own(self, clients: Iterable[str]) -> None:
        """Per-client series for exactly these clients (initialised, so panels show 0
        rather than "no data"). A worker owns the clients of its partitions: with
        several workers, one that showed every client would report zeros for the
        clients another worker judges."""
        wanted = set(clients)
        for client in self._clients - wanted:
            for metric, values in self._client_series(client):
                self._children.pop((id(metric), values), None)
                metric.remove(*values)
        for client in wanted - self._clients:
            for metric, values in self._client_series(client):
                self.at(metric, *values)
        self._clients = wanted

    def owns(self, client: str) -> bool:
        return client in self._clients

    def _client_series(self, client: str) -> Iterator[tuple[MetricWrapperBase, tuple[str, ...]]]:
        yield self.score, (client,)
        yield self.score_change, (client,)
        for band in Band:
            yield self.band, (client, band.value)
        for window in WINDOW_LABELS:
            for gauge in (self.proactive_share, self.rhem, self.tickets_per_endpoint):
                yield gauge, (client, window)
            for work_class in WorkClass:
                yield self.work_hours, (client, work_class.value, window)
                yield self.onsite_visits, (client, work_class.value, window)
            for behaviour in Behaviour:
                yield self.behaviour_evidence, (client, behaviour.value, window)
        for behaviour in Behaviour:
            yield self.open_signals, (client, behaviour.value)

    def at(self, metric: MetricWrapperBase, *values: str) -> Any:
        """The child of `metric` for these label values (in its label order), made once.

        `labels()` locks and validates at every call; show() sets about forty series
        per judgement and the agent counts every event.
        """
        key = (id(metric), values)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*values)
        return child

    def show(self, view: ClientView) -> None:
        """Publish one client's latest judgement."""
        at, c = self.at, view.client_id
        at(self.score, c).set(view.score)
        change = view.snapshot.change
        at(self.score_change, c).set(change if change is not None else 0.0)
        for band in Band:
            at(self.band, c, band.value).set(1 if band.value == view.band else 0)
        for label, w in view.windows.items():
            at(self.proactive_share, c, label).set(w.proactive_share or 0.0)
            at(self.rhem, c, label).set(w.rhem or 0.0)
            at(self.tickets_per_endpoint, c, label).set(w.tickets_per_endpoint or 0.0)
            hours = {WorkClass.proactive: w.hours_proactive, WorkClass.reactive: w.hours_reactive}
            visits = {
                WorkClass.proactive: w.visits_onsite_proactive,
                WorkClass.reactive: w.visits_onsite_reactive,
            }
            for work_class in WorkClass:
                at(self.work_hours, c, work_class.value, label).set(hours[work_class])
                at(self.onsite_visits, c, work_class.value, label).set(visits[work_class])
            for behaviour in Behaviour:
                at(self.behaviour_evidence, c, behaviour.value, label).set(
                    w.behaviours.get(behaviour, 0)
                )
        open_by = {b: 0 for b in Behaviour}
        for s in view.open_signals:
            open_by[s.behaviour] += 1
        for behaviour, n in open_by.items():
            at(self.open_signals, c, behaviour.value).set(n)
