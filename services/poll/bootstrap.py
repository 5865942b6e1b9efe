"""Wires the poller: per configured source a vendor client, and per collection a
`CollectionPoller`; one thread per source runs its collections on its cadence."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from services.events.models import Source
from services.events.tenant import Tenant
from services.events.tenant_polling import ConnectWisePolling, HaloPolling
from services.ingest.sender import Signer
from services.poll.adapters.ingest import IngestPoster, IngestUnavailable
from services.poll.adapters.store import PollStore
from services.poll.adapters.vendor import (
    DEFAULT_RETRY,
    ApiError,
    BudgetExhausted,
    RetryPolicy,
    VendorClient,
)
from services.poll.domain.requests import PageError
from services.poll.domain.specs import EntitySpec, entities_of
from services.poll.metrics import PollMetrics
from services.poll.outgoing import Resolver
from services.poll.poller import CollectionPoller
from services.runtime.broker import free_port

log = logging.getLogger("partnerpulse.poll")


@dataclass
class SourceLoop:
    source: Source
    every_seconds: float
    client: VendorClient
    pollers: list[CollectionPoller]
    metrics: PollMetrics
    runs: int = 0

    def run_all(self) -> None:
        """One cycle: every collection of the source, each on its own; a failure of one
        keeps its checkpoint and does not stop the others. Autotask's shared hourly
        threshold is read once per cycle; above its share the whole cycle waits."""
        if self.source is Source.autotask:
            try:
                self.client.autotask_budget()
            except ApiError as exc:  # BudgetExhausted, or the check itself failed
                for poller in self.pollers:
                    self.metrics.runs.labels(
                        str(self.source), poller.spec.entity, "backed_off"
                    ).inc()
                log.warning("%s", exc)
                self.runs += 1
                return
        for poller in self.pollers:
            labels = (str(self.source), poller.spec.entity)
            try:
                poller.run_once()
                self.metrics.runs.labels(*labels, "ok").inc()
            except BudgetExhausted as exc:
                self.metrics.runs.labels(*labels, "backed_off").inc()
                log.warning("%s", exc)
                break  # the whole source waits: the budget is shared
            except (ApiError, IngestUnavailable, PageError) as exc:
                self.metrics.runs.labels(*labels, "failed").inc()
                log.warning("%s %s: run failed, will resume: %s", *labels, exc)
        self.runs += 1
        self.refresh_lag()

    def refresh_lag(self) -> None:
        now = self.client.now()
        for poller in self.pollers:
            wm = poller.store.watermark(str(self.source), poller.spec.entity)
            if wm.succeeded_at is not None:
                labels = (str(self.source), poller.spec.entity)
                self.metrics.lag.labels(*labels).set((now - wm.succeeded_at).total_seconds())
                self.metrics.last_success.labels(*labels).set(wm.succeeded_at.timestamp())


@dataclass
class Poller:
    loops: list[SourceLoop]
    store: PollStore
    signer: Signer
    poster: IngestPoster
    metrics: PollMetrics
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)

    def start(self) -> None:
        for loop in self.loops:
            thread = threading.Thread(
                target=self._run, args=(loop,), name=f"poll-{loop.source}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def _run(self, loop: SourceLoop) -> None:
        while not self._stop.is_set():
            try:
                loop.run_all()
            except Exception:  # a bug must not end the loop silently: log and go on
                log.exception("%s: unexpected error in a polling cycle", loop.source)
            self._stop.wait(loop.every_seconds)

    def run_cycle(self) -> None:
        """Every source once, in this thread (tests, `partnerpulse poll --once`)."""
        for loop in self.loops:
            loop.run_all()

    def finish(self) -> None:
        """Stop the threads, run one last full cycle (the evaluator's catch-up at the end
        of a replay), then close."""
        self._halt()
        self.run_cycle()
        self.stop()

    def _halt(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(30)
        self._threads.clear()
        self._stop.clear()  # a cycle run after this (finish) waits as asked again

    def stop(self) -> None:
        self._halt()
        for loop in self.loops:
            loop.client.close()
        self.poster.close()
        self.signer.close()
        self.store.close()


def build_poller(
    tenant: Tenant,
    *,
    data_dir: Path,
    ingest_url: str,
    metrics: PollMetrics | None = None,
    retry: RetryPolicy = DEFAULT_RETRY,
    sleep: Callable[[float], None] | None = None,
    receipts: Path | None = None,
) -> Poller:
    metrics = metrics or PollMetrics()
    store = PollStore(data_dir / "poll" / "state.sqlite3")
    signer = Signer(tenant)
    stop = threading.Event()
    if sleep is None:

        def sleep(seconds: float) -> None:
            stop.wait(seconds)  # waits (Retry-After, back-off) end when the poller stops

    poster = IngestPoster(ingest_url, signer, retry=retry, sleep=sleep, receipts=receipts)
    polling = tenant.polling
    loops: list[SourceLoop] = []
    collections: list[tuple[str, str]] = []
    for name, config in (polling.sources() if polling else {}).items():
        source = Source(name)
        client = VendorClient(source, config, metrics, retry=retry, sleep=sleep)  # type: ignore[arg-type]
        resolver = Resolver(tenant, store, client)
        if isinstance(config, ConnectWisePolling):
            port = config.key_server_port or free_port()
            resolver.key_url = f"http://127.0.0.1:{port}/partnerpulse-poll/callback-key"
            resolver.connectwise_company = config.company_id
        pollers = [
            CollectionPoller(
                tenant,
                spec,
                client=client,
                poster=poster,
                store=store,
                resolver=resolver,
                metrics=metrics,
                overlap=timedelta(seconds=config.overlap_seconds),
                backfill=timedelta(days=polling.backfill_days if polling else 7),
                page_size=config.page_size,
                sweep=_sweep(config, spec),
            )
            for spec in entities_of(source, config.polled())
        ]
        collections += [(name, p.spec.entity) for p in pollers]
        loops.append(SourceLoop(source, config.every_seconds, client, pollers, metrics))
    metrics.initialise(collections)
    return Poller(loops, store, signer, poster, metrics, stop)


def _sweep(config: object, spec: EntitySpec) -> timedelta | None:
    """How far back a swept collection is listed each run (None: not swept)."""
    if spec.sweep_field is None or not isinstance(config, HaloPolling):
        return None
    days = config.deleted_appointments_days
    return timedelta(days=days) if days > 0 else None
