"""Partnership reviews by email: each client's PDF to its account lead, once per period.

The tenant file's `reports:` section (services/events/tenant_reports.py) gives each
client a cadence. On every round, on the injected clock:

1. `queue`: for each client whose period has just ended (`report_schedule.due`), one
   outbox notice (purpose `report`) and one `report_deliveries` row keyed by client and
   period, in one transaction, unless that key is already there: once per period,
   whatever restarts happen;
2. `prepare`: for each queued review, the PDF is fetched from the classifier's report
   API (outside any transaction) and stored with the notice's message; a classifier that
   is down or busy is asked again with back-off, a 400/404 fails the notice for good;
3. the outbox sender then sends it like any alert mail, retried through SMTP outages,
   the same bytes and Message-ID each time.
"""

from __future__ import annotations

import base64
import logging
import time
from collections.abc import Callable
from typing import Any, Protocol

from services.alerts.messages import Message
from services.alerts.model import ChannelKind, Purpose, Recipient, Role
from services.alerts.report_schedule import ReviewPeriod, due
from services.alerts.report_store import ReportDelivery
from services.alerts.settings import AlertsSettings
from services.alerts.store import Store
from services.alerts.worker import Worker
from services.events.tenant import Tenant
from services.events.tenant_people import Client
from services.runtime.auth import read_local_token
from services.runtime.report_client import ReportClient, ReportFetchError

log = logging.getLogger("partnerpulse.alerts.reviews")


class FetchFailed(Exception):
    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class FetchPdf(Protocol):
    def __call__(self, client_id: str, query: dict[str, str]) -> bytes:
        """The review's PDF, or `FetchFailed`."""


def review_message(
    client: Client, period: ReviewPeriod | ReportDelivery, pdf: bytes, mail_domain: str, now: float
) -> Message:
    label = period.label if isinstance(period, ReviewPeriod) else period.period
    title = period.describe() if isinstance(period, ReviewPeriod) else period.title
    lead = client.account_lead
    text = [
        f"Hello {lead.name},",
        "",
        f"attached is the partnership review of {client.name} for {title}, written for the "
        "client: every visit and why it happened, the work done without being asked, tickets "
        "and reactive hours per endpoint against our targets, recommendations, the habits to "
        "work on together with their evidence, the health trend, and an agenda page to fill "
        "in before the meeting.",
        "",
        f"It goes to you once per period (tenant file, `reports:`). Reference: "
        f"PP-review-{client.id}-{label}.",
    ]
    return Message(
        subject=f"[partnerpulse] Partnership review: {client.name}, {title}",
        text="\n".join(text),
        reference=f"PP-review-{client.id}-{label}",
        message_id=f"<review.{client.id}.{label}@{mail_domain}>",
        in_reply_to=None,
        date=now,
        attachment={
            "filename": f"{client.id}-{label}.pdf",
            "content_type": "application/pdf",
            "data": base64.b64encode(pdf).decode(),
        },
    )


class Reviews:
    """The use cases of review delivery over the alerts store (one transaction each)."""

    def __init__(
        self,
        store: Store,
        tenant: Tenant,
        fetch: FetchPdf,
        *,
        mail_domain: str,
        retry_initial: float = 30.0,
        retry_max: float = 900.0,
    ) -> None:
        self.store = store
        self.tenant = tenant
        self.fetch = fetch
        self.mail_domain = mail_domain
        self.retry_initial = retry_initial
        self.retry_max = retry_max

    def queue(self, now: float) -> list[tuple[str, str]]:
        """Queue the reviews whose period has ended; returns the (client, period) queued."""
        policy = self.tenant.reports
        zone = self.tenant.alerts.zone
        queued: list[tuple[str, str]] = []
        with self.store.transaction() as tx:
            for client in self.tenant.clients:
                period = due(policy.cadence(client.id), now, zone, policy.send_after_hours * 3600)
                if period is None or tx.report_queued(client.id, period.label):
                    continue
                lead = client.account_lead
                notice_id = tx.enqueue(
                    None,
                    Purpose.report,
                    Recipient(Role.lead, lead.name, ChannelKind.email, lead.email),
                    due_at=now,
                    held_until=0.0,
                    digest=False,
                    triggered_at=now,
                    now=now,
                )
                tx.record_report(
                    client.id, period.label, period.describe(), period.query(), notice_id
                )
                queued.append((client.id, period.label))
        for client_id, label in queued:
            log.info("review %s of %s queued for its account lead", label, client_id)
        return queued

    def prepare(self, now: float, limit: int = 10) -> int:
        """Fetch the PDF of queued reviews that are due; returns how many are now ready."""
        with self.store.transaction() as tx:
            waiting = tx.reports_to_prepare(now, limit)
        ready = 0
        for delivery in waiting:
            notice = delivery.notice
            client = self.tenant.client(delivery.client_id)
            try:
                if client is None:
                    raise FetchFailed(
                        f"client {delivery.client_id!r} is no longer in the tenant file",
                        permanent=True,
                    )
                pdf = self.fetch(delivery.client_id, delivery.query)
            except FetchFailed as exc:
                with self.store.transaction() as tx:
                    if exc.permanent:
                        tx.mark_failed(notice.id, str(exc))
                    else:
                        delay = min(self.retry_max, self.retry_initial * 2**notice.attempts)
                        tx.fetch_failed(notice.id, now + delay, str(exc))
                log.warning(
                    "review %s of %s: %s%s",
                    delivery.period,
                    delivery.client_id,
                    exc,
                    "; given up" if exc.permanent else "; trying again",
                )
                continue
            assert client is not None
            message = review_message(client, delivery, pdf, self.mail_domain, now)
            with self.store.transaction() as tx:
                tx.prepared(notice.id, message)
            ready += 1
        return ready

    def listing(self) -> list[dict[str, Any]]:
        with self.store.transaction() as tx:
            return [d.summary() for d in tx.report_deliveries()]


def classifier_fetcher(settings: AlertsSettings) -> FetchPdf:
    """Ask the classifier's `GET /v1/clients/{id}/report.pdf` with an API token (read)."""

    def fetch(client_id: str, query: dict[str, str]) -> bytes:
        secret = settings.alerts_classifier_token
        token = secret.get_secret_value() if secret else read_local_token(settings.data_dir)
        if not token:
            raise FetchFailed(
                "no API token for the classifier's report API: set "
                "PARTNERPULSE_ALERTS_CLASSIFIER_TOKEN (scope read)"
            )
        url = settings.classifier_url
        try:
            with ReportClient(url, token, timeout=settings.alerts_report_timeout) as api:
                pdf = api.report(client_id, query, "pdf")
        except ReportFetchError as exc:
            raise FetchFailed(str(exc), permanent=exc.status in (400, 404)) from None
        if not pdf.startswith(b"%PDF"):
            raise FetchFailed(f"{url} answered something that is not a PDF")
        return pdf

    return fetch


class ReviewWorker(Worker):
    """Queues and prepares reviews every `tick` seconds on `clock`, beside the sender (a
    slow classifier delays reviews, never alert mail)."""

    thread_name = "alerts-reviews"

    def __init__(
        self,
        reviews: Reviews,
        *,
        tick: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.reviews = reviews
        self.tick = tick
        self.clock = clock
        super().__init__()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.reviews.queue(self.clock())
                self.reviews.prepare(self.clock())
            except Exception:
                log.exception("review round failed; trying again")
            self._stop.wait(self.tick)
