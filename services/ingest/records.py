"""What ingest journals: canonical event records and dead letters, within size limits.

The limits compose (docs/security.md): a request body is at most
`ingest_max_body_bytes` (1 MiB); a canonical event at most `ingest_max_event_bytes`
(64 KiB) once its free text is cut to `ingest_max_text_chars`; a dead letter keeps at
most `ingest_dead_letter_max_bytes` (64 KiB) of the raw body, with the original size
and SHA-256 in its headers. Every journal row is therefore far below the producer's
1,048,576-byte request limit, and what the classifier derives from an event too.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime

from services.events import topics
from services.events.models import CanonicalEvent
from services.ingest.journal import Headers, Record

# Dead-letter headers besides topics.H_ERROR_*, in the same `partnerpulse.errors.` family.
H_ERROR_ORIGINAL_SIZE = "partnerpulse.errors.original_size"
H_ERROR_SHA256 = "partnerpulse.errors.sha256"
H_ERROR_TRUNCATED = "partnerpulse.errors.truncated"

MAX_ERROR_MESSAGE_BYTES = 1024
# The payload fields that carry free text a person typed (a ticket's summary, notes ...).
FREE_TEXT_FIELDS = ("summary", "title", "notes", "message", "detail", "description")
ELLIPSIS = "…"


class EventTooLarge(Exception):
    def __init__(self, event: CanonicalEvent, size: int, limit: int) -> None:
        super().__init__(
            f"event {event.event_id} serialises to {size} bytes, over the limit of {limit} "
            "bytes (PARTNERPULSE_INGEST_MAX_EVENT_BYTES)"
        )
        self.size = size


def cap_free_text(event: CanonicalEvent, max_chars: int) -> CanonicalEvent:
    """The event with each free-text payload field cut to `max_chars` (ending in …)."""
    payload = event.payload
    fields = vars(payload)  # not getattr: a miss costs pydantic an exception
    cut = {}
    for name in FREE_TEXT_FIELDS:
        value = fields.get(name)
        if isinstance(value, str) and len(value) > max_chars:
            cut[name] = value[: max_chars - 1] + ELLIPSIS
    if not cut:
        return event
    return event.model_copy(update={"payload": payload.model_copy(update=cut)})


def event_record(event: CanonicalEvent, max_bytes: int) -> Record:
    """The journal record of `event`; EventTooLarge when it serialises over `max_bytes`."""
    value = event.model_dump_json().encode()
    if len(value) > max_bytes:
        raise EventTooLarge(event, len(value), max_bytes)
    return Record(
        topic=topics.EVENTS,
        key=event.client_id.encode(),
        value=value,
        headers=[
            (topics.H_EVENT_ID, event.event_id.encode()),
            (topics.H_SOURCE, event.source.value.encode()),
            (topics.H_KIND, event.payload.kind.encode()),
        ],
        event_id=event.event_id,
        source=event.source.value,
    )


def dead_letter_headers(
    body: bytes,
    kept: int,
    *,
    source: str,
    stage: str,
    reason: str,
    message: str,
    received_at: datetime | None = None,
    extra: Sequence[tuple[str, bytes]] = (),
) -> Headers:
    """The `partnerpulse.errors.*` headers of a dead letter keeping `kept` bytes of `body`."""
    return [
        (topics.H_SOURCE, source.encode()),
        (topics.H_ERROR_STAGE, stage.encode()),
        (topics.H_ERROR_REASON, reason.encode()),
        (topics.H_ERROR_MESSAGE, message.encode()[:MAX_ERROR_MESSAGE_BYTES]),
        (topics.H_RECEIVED_AT, (received_at or datetime.now(UTC)).isoformat().encode()),
        (H_ERROR_ORIGINAL_SIZE, str(len(body)).encode()),
        (H_ERROR_SHA256, hashlib.sha256(body).hexdigest().encode()),
        (H_ERROR_TRUNCATED, b"true" if kept < len(body) else b"false"),
        *extra,
    ]


def relay_dead_letter(record: Record, error: BaseException, max_bytes: int) -> Record:
    """What the relay sends instead of a record Kafka refused for good: its value cut to
    `max_bytes`, the Kafka error as the reason; it keeps its event id and place."""
    kept = record.value[:max_bytes]
    source = dict(record.headers).get(topics.H_SOURCE, record.source.encode()).decode()
    headers = dead_letter_headers(
        record.value,
        len(kept),
        source=source,
        stage="relay",
        reason=type(error).__name__,
        message=f"Kafka refused the record for {record.topic}: {error}",
        extra=[(k, v) for k, v in record.headers if k in (topics.H_EVENT_ID, topics.H_KIND)],
    )
    return Record(
        topic=topics.DLQ,
        key=record.key,
        value=kept,
        headers=headers,
        source=record.source,
        event_id=record.event_id,
    )


def dead_letter_record(
    *,
    source: str,
    body: bytes,
    reason: str,
    message: str,
    max_bytes: int,
    received_at: datetime,
    content_type: str = "",
    dedupe_id: str | None = None,
) -> Record:
    """A raw body for the dead-letter topic, cut to `max_bytes`.

    `dedupe_id`: the same refusal of the same event (a vendor retrying an event refused
    for its time) is journaled once, like any event.
    """
    kept = body[:max_bytes]
    return Record(
        topic=topics.DLQ,
        key=source.encode(),
        value=kept,
        headers=dead_letter_headers(
            body,
            len(kept),
            source=source,
            stage="ingest",
            reason=reason,
            message=message,
            received_at=received_at,
            extra=[("content-type", content_type.encode())],
        ),
        source=source,
        event_id=dedupe_id,
    )
