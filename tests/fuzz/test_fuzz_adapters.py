"""Property: whatever bytes and headers a delivery carries, every source's adapter, and
what ingest does with its events, raises only the exceptions ingest answers with a 4xx.

The same path as ingest's handler (services/ingest/app.py), without HTTP: the key_url
check (ConnectWise), authentication, normalisation, the event-time checks, capping the
free text and serialising each event. `AuthenticationError` is a 401, `PayloadError` a
422, `EventTooLarge` a 413; anything else would be a 500.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.events.models import Source
from services.events.tenant import Tenant
from services.ingest import freshness
from services.ingest.adapters import ADAPTERS
from services.ingest.adapters.base import AuthenticationError, Delivery, PayloadError
from services.ingest.records import (
    EventTooLarge,
    cap_free_text,
    dead_letter_record,
    event_record,
)

from .strategies import bodies, fixtures, hostile_headers

FUZZ = settings(
    max_examples=100,
    deadline=None,  # a 50,000-level body takes a while to refuse on a busy machine
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def pipeline(delivery: Delivery, tenant: Tenant) -> int:
    """What ingest does with one delivery; the number of events it would journal."""
    adapter = ADAPTERS[delivery.source]
    try:
        if adapter.key_url_fn is not None:
            adapter.key_url_fn(delivery, tenant)
        adapter.authenticate(delivery, tenant, [b"a-signing-key"])
    except AuthenticationError:
        pass  # 401; normalisation is fuzzed regardless: a signed body reaches it
    try:
        normalised = adapter.normalise(delivery, tenant)
    except PayloadError as exc:
        assert exc.field and exc.problem  # the 422 names what is wrong
        dead_letter_record(
            source=delivery.source.value,
            body=delivery.body,
            reason="invalid_payload",
            message=str(exc),
            max_bytes=65_536,
            received_at=delivery.received_at,
            content_type=delivery.headers.get("content-type", ""),
        )
        return 0
    events = normalised.events
    sent_at = freshness.sent_time(delivery.source, normalised.sent_at, events)
    if freshness.check(
        tenant.webhooks.freshness, delivery.source, delivery.received_at, sent_at, events
    ):
        return 0
    try:
        for event in events:
            event_record(cap_free_text(event, 4096), 65_536)
    except EventTooLarge:
        return 0
    return len(events)


@pytest.mark.parametrize("source", list(Source), ids=[s.value for s in Source])
@FUZZ
@given(data=st.data())
def test_no_delivery_makes_an_adapter_raise_what_ingest_would_answer_500(
    tenant: Tenant, source: Source, data: st.DataObject
) -> None:
    body = data.draw(bodies(source), label="body")
    headers = data.draw(hostile_headers, label="headers")
    delivery = Delivery(source, body, headers, received_at=datetime.now(UTC))
    pipeline(delivery, tenant)


@pytest.mark.parametrize("source", list(Source), ids=[s.value for s in Source])
def test_every_real_payload_goes_through_the_fuzzed_pipeline(
    tenant: Tenant, source: Source
) -> None:
    """The property above judges the real path: unmutated fixtures become events there."""
    accepted = 0
    for document in fixtures(source):
        body = json.dumps(document).encode()
        delivery = Delivery(source, body, {}, received_at=datetime(2026, 3, 2, 12, tzinfo=UTC))
        accepted += pipeline(delivery, tenant)
    assert accepted > 0, f"no {source.value} fixture became an event: the fuzz reaches nothing"
