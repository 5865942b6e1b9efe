"""Redeliveries: the same events count as duplicates however the processor finds them.

Each event is validated once; after a redelivery, the next events are first looked up
by the ids where the pipeline's own JSON puts them, without validating (a replay is
mostly redeliveries). These tests state that the answer never depends on which way
an event was found: a redelivery is a duplicate (no output, not processed again), a
new event is folded, and a body that does not parse is dead-lettered unless its ids
name an event its client already holds.
"""

from __future__ import annotations

import orjson

from services.classifier.processor import Processor
from services.events import topics
from services.events.tenant import Tenant

from .factory import at, ticket, time_entry
from .test_schedule_join import processor


def raw(event_json: bytes, *, spaced: bool = False) -> bytes:
    """The event as JSON; `spaced`: as another writer might format it."""
    return (
        orjson.dumps(orjson.loads(event_json), option=orjson.OPT_INDENT_2)
        if spaced
        else (event_json)
    )


def test_a_replayed_batch_is_all_duplicates_and_changes_nothing(tenant: Tenant) -> None:
    proc, _, outbox = processor(tenant, {})
    events = [ticket(str(n), at(n)).model_dump_json().encode() for n in range(5)]
    proc.handle(events)
    assert proc.processed == 5
    sent = len(outbox.records)
    proc.handle(events)  # the same batch again, as after a restart
    proc.handle([raw(e, spaced=True) for e in events])  # and not in our own layout
    assert proc.processed == 5
    assert duplicates(proc) == 10
    assert len(outbox.records) == sent  # no work item, signal or health again


def test_new_events_after_a_redelivery_are_folded(tenant: Tenant) -> None:
    proc, _, _ = processor(tenant, {})
    first = ticket("1", at(0)).model_dump_json().encode()
    proc.handle([first])
    later = [
        time_entry(f"t{n}", at(1), 1.0, ticket_id="1").model_dump_json().encode() for n in range(3)
    ]
    proc.handle([first, *later, first])
    assert proc.processed == 4
    assert duplicates(proc) == 2
    state = proc.state_of("acme")
    assert state is not None and len(state.work) == 3


def test_a_body_that_does_not_parse_is_a_duplicate_only_if_its_ids_are_held(
    tenant: Tenant,
) -> None:
    proc, _, outbox = processor(tenant, {})
    held = ticket("1", at(0))
    proc.handle([held.model_dump_json().encode()])
    broken = orjson.dumps({"event_id": held.event_id, "client_id": "acme", "payload": {}})
    unknown = orjson.dumps({"event_id": "never-seen", "client_id": "acme", "payload": {}})
    after_redelivery = held.model_dump_json().encode()
    after_new_event = ticket("2", at(1)).model_dump_json().encode()
    proc.handle([after_redelivery, broken, unknown])
    proc.handle([after_new_event, broken, unknown])
    assert duplicates(proc) == 3  # the redelivery and the broken body, twice
    dead = [r for r in outbox.records if r[0] == topics.DLQ]
    assert [orjson.loads(value)["event_id"] for _, _, value in dead] == ["never-seen"] * 2
    assert proc.failed == 2 and proc.processed == 2


def duplicates(proc: Processor) -> float:
    value = proc.metrics.registry.get_sample_value("partnerpulse_classifier_duplicate_events_total")
    assert value is not None
    return value
