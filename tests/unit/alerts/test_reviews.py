"""Partnership reviews mailed to the account lead: once per period, on a fake clock.

The engine and the review use cases run on a real SQLite store; the PDF comes from a
fake classifier (a function), the clock is a number the test moves.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import datetime
from email import message_from_bytes, policy
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from services.alerts import messages
from services.alerts.engine import Alerting
from services.alerts.messages import Message
from services.alerts.model import Purpose
from services.alerts.report_schedule import due, ended_by
from services.alerts.reviews import FetchFailed, Reviews
from services.alerts.store import Store
from services.events.tenant import Tenant, TenantConfigError, load_tenant
from services.events.tenant_reports import Cadence, ReportDelivery

LONDON = ZoneInfo("Europe/London")  # the fixture tenant's alerts.timezone
PDF = b"%PDF-1.7\n% a review\n%%EOF\n"
ALICE = "alice.lead@northwind-msp.example"


def at(text: str, zone: ZoneInfo = LONDON) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=zone).timestamp()


# -- the periods ------------------------------------------------------------------------


def test_the_period_just_ended_is_a_calendar_month_or_quarter_in_the_tenants_zone() -> None:
    october = due(Cadence.monthly, at("2026-11-30 12:00"), LONDON, 6 * 3600)
    assert october is not None and october.label == "2026-10"
    assert october.query() == {"from": "2026-10-01", "to": "2026-10-31"}
    assert october.ends_at == at("2026-11-01 00:00")
    # Not before send_after has passed since the period's end:
    before = due(Cadence.monthly, at("2026-11-01 05:59"), LONDON, 6 * 3600)
    assert before is not None and before.label == "2026-09"
    after = due(Cadence.monthly, at("2026-11-01 06:00"), LONDON, 6 * 3600)
    assert after is not None and after.label == "2026-10"
    q3 = due(Cadence.quarterly, at("2026-11-30 12:00"), LONDON, 0)
    assert q3 is not None and q3.label == "2026Q3" and q3.query() == {"quarter": "2026Q3"}
    assert q3.describe() == "2026Q3 (July to September 2026)"
    assert ended_by(Cadence.quarterly, at("2026-01-01 00:00"), LONDON).label == "2025Q4"
    assert due(Cadence.off, at("2026-11-30 12:00"), LONDON, 0) is None


def test_period_boundaries_are_local_midnights() -> None:
    auckland = ZoneInfo("Pacific/Auckland")
    moment = at("2026-10-31 12:00", ZoneInfo("UTC"))  # already 1 November in Auckland
    assert ended_by(Cadence.monthly, moment, auckland).label == "2026-10"
    assert ended_by(Cadence.monthly, moment, ZoneInfo("UTC")).label == "2026-09"


# -- delivery through the outbox ---------------------------------------------------------


@dataclass
class Classifier:
    """A fake report API: the PDF, or an outage for the next `down` calls."""

    down: int = 0
    missing: bool = False
    asked: list[tuple[str, dict[str, str]]] = field(default_factory=list)

    def __call__(self, client_id: str, query: dict[str, str]) -> bytes:
        self.asked.append((client_id, query))
        if self.missing:
            raise FetchFailed("404 no such client", permanent=True)
        if self.down > 0:
            self.down -= 1
            raise FetchFailed("cannot reach the classifier")
        return PDF


@dataclass
class Service:
    """The alerts service's review path and sender on one store, on a fake clock."""

    engine: Alerting
    reviews: Reviews
    now: float
    mails: list[Message] = field(default_factory=list)

    def run(self, until: float, step: float = 600.0) -> list[Message]:
        out: list[Message] = []
        while True:
            self.reviews.queue(self.now)
            self.reviews.prepare(self.now)
            for outgoing in self.engine.claim(self.now):
                assert outgoing.notice.purpose is Purpose.report
                self.engine.sent(outgoing.notice, self.now)
                out.append(outgoing.message)
            if self.now >= until:
                break
            self.now = min(until, self.now + step)
        self.mails += out
        return out


def with_reports(tenant: Tenant, **clients: Cadence) -> Tenant:
    delivery = ReportDelivery(schedule=Cadence.off, clients=clients, send_after_hours=6)
    return tenant.model_copy(update={"reports": delivery})


def service(path: Path, tenant: Tenant, classifier: Classifier, now: float) -> Service:
    store = Store(path)
    engine = Alerting(store, tenant, public_url="http://alerts.test", mail_domain="nw.example")
    reviews = Reviews(
        store, tenant, classifier, mail_domain="nw.example", retry_initial=60, retry_max=600
    )
    return Service(engine, reviews, now)


def test_each_period_goes_to_the_account_lead_exactly_once(tmp_path: Path, tenant: Tenant) -> None:
    tenant = with_reports(tenant, acme=Cadence.monthly)
    classifier = Classifier()
    svc = service(tmp_path / "a.sqlite3", tenant, classifier, at("2026-10-31 12:00"))
    # A first start sends the period that ended last, then nothing until the next one
    # has ended (and 6 hours more):
    [september] = svc.run(until=at("2026-11-01 05:50"))
    assert september.reference == "PP-review-acme-2026-09"
    [mail] = svc.run(until=at("2026-11-03 00:00"))
    assert mail.subject == "[partnerpulse] Partnership review: Acme Dental, October 2026"
    assert mail.attachment is not None
    assert mail.attachment["content_type"] == "application/pdf"
    assert mail.attachment["filename"] == "acme-2026-10.pdf"
    assert base64.b64decode(mail.attachment["data"]) == PDF
    assert classifier.asked[-1] == ("acme", {"from": "2026-10-01", "to": "2026-10-31"})
    assert len(classifier.asked) == 2
    assert svc.run(until=at("2026-11-30 23:00"), step=3600) == []  # the rest of November
    [november] = svc.run(until=at("2026-12-01 07:00"))
    assert november.reference == "PP-review-acme-2026-11"
    assert [row["period"] for row in svc.reviews.listing()] == ["2026-11", "2026-10", "2026-09"]
    assert {row["state"] for row in svc.reviews.listing()} == {"sent"}


def test_a_restart_sends_no_period_twice(tmp_path: Path, tenant: Tenant) -> None:
    tenant = with_reports(tenant, acme=Cadence.monthly, globex=Cadence.quarterly)
    path = tmp_path / "a.sqlite3"
    first = service(path, tenant, Classifier(), at("2026-10-01 07:00"))
    sent = first.run(until=at("2026-10-01 08:00"))
    assert sorted(m.reference for m in sent) == [
        "PP-review-acme-2026-09",
        "PP-review-globex-2026Q3",
    ]
    first.engine.store.close()
    # Restarted later the same month, queued reviews and sent ones are remembered:
    again = service(path, tenant, Classifier(), at("2026-10-15 09:00"))
    assert again.run(until=at("2026-10-20 09:00"), step=3600) == []
    # Queued before a stop, prepared and sent after it, once:
    again.reviews.queue(at("2026-11-01 07:00"))
    again.engine.store.close()
    third = service(path, tenant, Classifier(), at("2026-11-01 08:00"))
    [october] = third.run(until=at("2026-11-02 08:00"))
    assert october.reference == "PP-review-acme-2026-10"


def test_a_classifier_outage_delays_the_review_and_a_refusal_fails_it(
    tmp_path: Path, tenant: Tenant
) -> None:
    tenant = with_reports(tenant, acme=Cadence.monthly)
    classifier = Classifier(down=3)
    svc = service(tmp_path / "a.sqlite3", tenant, classifier, at("2026-11-01 07:00"))
    assert svc.run(until=at("2026-11-01 07:02"), step=60) == []
    [row] = svc.reviews.listing()
    assert row["state"] == "pending" and "cannot reach" in row["last_error"]
    [mail] = svc.run(until=at("2026-11-01 08:00"), step=60)  # back-off 60, 120, 240 s
    assert len(classifier.asked) == 4 and mail.reference == "PP-review-acme-2026-10"

    refused = Classifier(missing=True)
    other = service(tmp_path / "b.sqlite3", tenant, refused, at("2026-11-01 07:00"))
    assert other.run(until=at("2026-11-05 07:00"), step=3600) == []
    [row] = other.reviews.listing()
    assert row["state"] == "failed" and len(refused.asked) == 1


def test_clients_without_a_cadence_get_nothing(tmp_path: Path, tenant: Tenant) -> None:
    svc = service(tmp_path / "a.sqlite3", tenant, Classifier(), at("2026-11-01 07:00"))
    assert tenant.reports.schedule is Cadence.off
    assert svc.run(until=at("2026-12-05 07:00"), step=3600 * 6) == []


def test_the_email_carries_the_pdf_as_an_attachment(tmp_path: Path, tenant: Tenant) -> None:
    tenant = with_reports(tenant, acme=Cadence.quarterly)
    svc = service(tmp_path / "a.sqlite3", tenant, Classifier(), at("2026-10-01 07:00"))
    [mail] = svc.run(until=at("2026-10-01 07:00"))
    wire = messages.email(mail, "pp@nw.example", ALICE, "Alice Lead").as_bytes()
    parsed = message_from_bytes(wire, policy=policy.default)
    assert parsed["Message-ID"] == "<review.acme.2026Q3@nw.example>"
    [part] = list(parsed.iter_attachments())
    assert part.get_content_type() == "application/pdf"
    assert part.get_filename() == "acme-2026Q3.pdf"
    assert part.get_content() == PDF


def test_an_unknown_client_in_reports_is_refused_with_the_key(tmp_path: Path) -> None:
    source = Path(__file__).resolve().parents[2] / "fixtures" / "tenant.yaml"
    bad = tmp_path / "tenant.yaml"
    bad.write_text(source.read_text() + "\nreports:\n  clients:\n    nobody: monthly\n")
    with pytest.raises(TenantConfigError, match=r"reports\.clients: \['nobody'\]"):
        load_tenant(bad)
