"""The outbox worker: every due notice out through its channel, retried until delivered.

One thread. Each round it runs the tick (reminders, escalations, digests),
takes the notices that are due (rendering a message the first time and
storing it), sends each, and marks it sent, or schedules a retry with
exponential back-off (`alerts_retry_initial_seconds` doubling up to
`alerts_retry_max_seconds`), or marks it failed when the far end refused it
for good. An outage therefore delays notices, never drops them.

The exactly-once boundary: a notice is marked sent in its own committed
transaction right after the SMTP server (or webhook) accepted it. If the
process dies between that acceptance and the commit (a window of one SQLite
fsync, about a millisecond), the notice is still `sending` at the next start
and is sent again, with the same Message-ID and text. SMTP has no idempotency
key, so that window cannot be closed; marking it sent *before* sending would
turn it into a possible loss instead. Everything else (records redelivered,
restarts, retries after a refused connection) sends nothing twice.
"""

from __future__ import annotations

import logging
import time
from typing import Self

from services.alerts.channels import Channels, DeliveryError
from services.alerts.engine import Alerting, Outgoing
from services.alerts.metrics import AlertsMetrics
from services.alerts.settings import AlertsSettings
from services.alerts.worker import Worker

log = logging.getLogger("partnerpulse.alerts.sender")


class Sender(Worker):
    thread_name = "alerts-sender"

    def __init__(
        self,
        engine: Alerting,
        channels: Channels,
        metrics: AlertsMetrics,
        settings: AlertsSettings,
        *,
        idle: float = 0.1,
    ) -> None:
        self.engine = engine
        self.channels = channels
        self.metrics = metrics
        self.settings = settings
        self.idle = idle
        super().__init__()

    def start(self) -> Self:
        recovered = self.engine.recover()
        if recovered:
            log.warning(
                "%d notice(s) were being sent when the service stopped; sending them again "
                "(if the server had already accepted one, its recipient gets it twice, with "
                "the same Message-ID)",
                recovered,
            )
        return super().start()

    def _run(self) -> None:
        next_tick = 0.0
        while not self._stop.is_set():
            try:
                now = time.time()
                if now >= next_tick:
                    self.engine.tick(now)
                    next_tick = now + self.settings.alerts_tick_seconds
                batch = self.engine.claim(now)
                for outgoing in batch:
                    if self._stop.is_set():
                        break  # taken but unsent: pending again at the next start
                    self._deliver(outgoing)
            except Exception:
                log.exception("outbox round failed; trying again")
                batch = []
            if not batch:
                self._stop.wait(self.idle)

    def _deliver(self, outgoing: Outgoing) -> None:
        notice = outgoing.notice
        channel = notice.recipient.channel.value
        try:
            self.channels.send(outgoing.message, notice.recipient)
        except DeliveryError as exc:
            if exc.permanent:
                self.engine.failed(notice, str(exc))
                self.metrics.notifications.labels(channel=channel, outcome="failed").inc()
                log.error("notice %d to %s refused for good: %s", notice.id, channel, exc)
                return
            delay = min(
                self.settings.alerts_retry_max_seconds,
                self.settings.alerts_retry_initial_seconds * 2**notice.attempts,
            )
            self.engine.retry(notice, time.time() + delay, str(exc))
            self.metrics.notifications.labels(channel=channel, outcome="retry").inc()
            log.warning("notice %d: %s; retry in %.1fs", notice.id, exc, delay)
            return
        sent_at = time.time()
        self.engine.sent(notice, sent_at)
        self.metrics.notifications.labels(channel=channel, outcome="sent").inc()
        started = max(notice.triggered_at, notice.held_until)
        self.metrics.delivery_latency.labels(channel=channel).observe(max(0.0, sent_at - started))
