"""The Faust agent with `test_context()`: batches in, state and outputs, no broker."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiokafka.errors import IllegalStateError
from faust.types import TP

from services.classifier.bootstrap import bootstrap
from services.classifier.domain import layout
from services.classifier.service import Classifier
from services.classifier.settings import ClassifierSettings
from services.events import topics
from services.events.tenant import Tenant

from .factory import TECH, at, ticket, time_entry


@pytest.fixture
def classifier(tenant: Tenant, tmp_path: Path) -> Iterator[Classifier]:
    yield from _service(ClassifierSettings(data_dir=tmp_path, classifier_batch_within=0.01), tenant)


@pytest.fixture
def three_a_batch(tenant: Tenant, tmp_path: Path) -> Iterator[Classifier]:
    """Batches of three events, however long they take to come."""
    settings = ClassifierSettings(
        data_dir=tmp_path, classifier_batch_within=60, classifier_batch_size=3
    )
    yield from _service(settings, tenant)


def _service(settings: ClassifierSettings, tenant: Tenant) -> Iterator[Classifier]:
    service = bootstrap(settings, tenant, "127.0.0.1:1")
    service.app.finalize()
    service.app.conf.store = "memory://"
    service.app.flow_control.resume()
    # Recovered, no rebalance under way (test mode runs no recovery).
    service.agent._tables_recovered = lambda: True  # type: ignore[method-assign]
    yield service
    # Test mode starts neither the consumer thread nor the app's loop: close both.
    service.app.consumer._thread.thread_loop.close()  # type: ignore[attr-defined]
    service.app.loop.close()
    asyncio.set_event_loop(None)


def delivered() -> asyncio.Future[None]:
    """A record the broker has acknowledged."""
    future: asyncio.Future[None] = asyncio.get_event_loop().create_future()
    future.set_result(None)
    return future


def test_agent_folds_events_and_dead_letters_bad_ones(classifier: Classifier) -> None:
    events = [
        ticket("1", at(0), channel="phone", entered_by=TECH),
        ticket("2", at(1), channel="phone", entered_by=TECH),
        time_entry("t1", at(1, 1), 2.0, ticket_id="2"),
    ]
    sent: list[tuple[str, bytes | None, bytes | None]] = []

    async def scenario() -> None:
        async def flush() -> list[asyncio.Future[None]]:
            records, classifier.publisher._pending = classifier.publisher._pending, []
            sent.extend((topic, key, value) for topic, key, value, _, _ in records)
            return [delivered() for _ in records]

        classifier.publisher.flush = flush  # type: ignore[method-assign]
        agent = classifier.app.agents["classify"]
        async with agent.test_context() as test_agent:
            for event in [*events, events[0]]:  # the last one is a redelivery
                await test_agent.put(event.model_dump_json().encode())
            await test_agent.put(b"{not an event")
        await classifier.agent.checkpoint()  # the last events' checkpoint (the timer's job)

    classifier.app.loop.run_until_complete(scenario())
    state = classifier.processor.state_of("acme")
    assert state is not None
    assert set(state.tickets) == {"connectwise:ticket:1", "connectwise:ticket:2"}
    assert classifier.processor.processed == 3 and classifier.processor.failed == 1
    by_topic: dict[str, int] = {}
    for topic, _, _ in sent:
        by_topic[topic] = by_topic.get(topic, 0) + 1
    assert by_topic["partnerpulse.dlq"] == 1
    assert by_topic["partnerpulse.work"] == 3
    assert by_topic["partnerpulse.signals"] == 1
    # One head per client per checkpoint, not one per event; the parts the last head
    # names hold every ticket.
    changelog = classifier.tables.states.changelog_topic.get_topic_name()
    log = [(key, value) for topic, key, value in sent if topic == changelog]
    writes = dict(log)
    heads = [value for key, value in log if key == b"acme"]
    assert 1 <= len(heads) < len(events)
    head = layout.decode_head(heads[-1])
    restored = layout.assemble(head, [writes[key] for key in layout.part_keys(head)])
    assert set(restored.tickets) == {"connectwise:ticket:1", "connectwise:ticket:2"}


def test_an_event_from_2099_is_dead_lettered_and_changes_no_score(classifier: Classifier) -> None:
    """A vendor clock error must not move the watermark: real events would become too
    late, every window would be pruned and every client would go back to green."""
    history = [
        ticket(str(i), at(i), channel="phone", entered_by=TECH, client="acme") for i in range(6)
    ]
    processor = classifier.processor
    processor.handle(e.model_dump_json().encode() for e in history)
    before = (processor.watermark, processor.views["acme"].score)
    real = history[-1]
    future = real.model_copy(
        update={
            "event_id": "0b9c8f4e-2099-4000-8000-000000000000",
            "occurred_at": datetime(2099, 1, 1, tzinfo=UTC),
            "received_at": real.received_at,
        }
    )
    processor.handle([future.model_dump_json().encode()])
    assert processor.failed == 1  # dead-lettered with its reason
    assert (processor.watermark, processor.views["acme"].score) == before
    late = ticket("6", at(6), channel="phone", entered_by=TECH)
    processor.handle([late.model_dump_json().encode()])
    assert late.event_id not in processor.too_late  # real events still count


def test_a_tick_reports_itself_once_what_it_judged_is_delivered(classifier: Classifier) -> None:
    """`ticked_at` (GET /v1/status) tells a caller the judgements are on their topics:
    `evaluate` reads the signals next. A tick's outputs go out with the tick, not with
    the next checkpoint (one just happened here, so none is due)."""
    events = [ticket(str(i), at(i), channel="phone", entered_by=TECH) for i in range(3)]
    flushed: list[str] = []

    async def scenario() -> None:
        async def flush() -> list[asyncio.Future[None]]:
            records, classifier.publisher._pending = classifier.publisher._pending, []
            flushed.extend(topic for topic, *_ in records)
            return [delivered() for _ in records]

        classifier.publisher.flush = flush  # type: ignore[method-assign]
        classifier.processor.handle(e.model_dump_json().encode() for e in events)
        assert len(classifier.publisher) > 0  # judged: signals and health queued
        classifier.agent._saved_at = time.monotonic()  # a checkpoint just happened
        assert classifier.agent.ticked_at == 0.0
        await classifier.agent._tick()

    classifier.app.loop.run_until_complete(scenario())
    assert len(classifier.publisher) == 0
    assert {"partnerpulse.signals", "partnerpulse.health"} <= set(flushed)
    assert classifier.agent.ticked_at == classifier.processor.ticked_at > 0


def test_events_fetched_before_a_rebalance_are_left_to_be_fetched_again(
    three_a_batch: Classifier,
) -> None:
    """A batch collects events for a while, and faust checks an event's consumer-group
    generation only when the batch takes it. Events fetched before a rebalance must not
    be folded after it (the tables are being handed over; their partition may now be
    another worker's): the batch is dropped whole, unacknowledged, and its events count
    once they are fetched again."""
    classifier = three_a_batch
    events = [ticket(str(i), at(i), channel="phone", entered_by=TECH) for i in range(3)]
    app = classifier.app

    async def scenario() -> None:
        async def flush() -> list[asyncio.Future[None]]:
            records, classifier.publisher._pending = classifier.publisher._pending, []
            return [delivered() for _ in records]

        classifier.publisher.flush = flush  # type: ignore[method-assign]
        agent = app.agents["classify"]
        async with agent.test_context() as test_agent:
            app.consumer_generation_id = 1
            for event in events[:2]:  # fetched, waiting for the batch to fill
                await test_agent.put(event.model_dump_json().encode())
            app.consumer_generation_id = 2  # a rebalance
            await test_agent.put(events[2].model_dump_json().encode())
            await asyncio.sleep(0.05)
            assert classifier.processor.processed == 0
            assert not app.consumer._unacked_messages  # nothing waits for an ack
            for event in events:  # fetched again in the new generation
                await test_agent.put(event.model_dump_json().encode())
            await asyncio.sleep(0.05)

    app.loop.run_until_complete(scenario())
    assert classifier.processor.processed == 3
    state = classifier.processor.state_of("acme")
    assert state is not None and len(state.tickets) == 3


def test_a_batch_that_comes_during_a_recovery_is_left_to_be_fetched_again(
    three_a_batch: Classifier,
) -> None:
    """While the tables are being recovered, nothing is folded."""
    classifier = three_a_batch
    events = [ticket(str(i), at(i), channel="phone", entered_by=TECH) for i in range(3)]
    ready = False
    classifier.agent._tables_recovered = lambda: ready  # type: ignore[method-assign]

    async def scenario() -> None:
        nonlocal ready

        async def flush() -> list[asyncio.Future[None]]:
            records, classifier.publisher._pending = classifier.publisher._pending, []
            return [delivered() for _ in records]

        classifier.publisher.flush = flush  # type: ignore[method-assign]
        async with classifier.app.agents["classify"].test_context() as test_agent:
            for event in events:
                await test_agent.put(event.model_dump_json().encode())
            await asyncio.sleep(0.05)
            assert classifier.processor.processed == 0
            ready = True  # recovered: the events come again
            for event in events:
                await test_agent.put(event.model_dump_json().encode())
            await asyncio.sleep(0.05)

    classifier.app.loop.run_until_complete(scenario())
    assert classifier.processor.processed == 3


def test_a_partition_revoked_while_sought_back_does_not_stop_the_worker(
    classifier: Classifier,
) -> None:
    """A hole found just before a rebalance leaves its partition sought back; if the
    partition went to another worker meanwhile, the seek fails (no assignment). That
    must not exit the worker nor stop the other partitions' seeks; the next assignment
    starts every partition afresh from its recorded position."""
    gone, kept = TP(topics.EVENTS, 0), TP(topics.EVENTS, 1)
    guard = classifier.agent.intake.offsets
    for tp in (gone, kept):
        guard.start(tp, 10)
        guard.admit(tp, 12)  # a hole at 10 and 11
    sought: list[tuple[TP, int]] = []

    async def seek(tp: TP, offset: int) -> None:
        if tp != kept:
            raise IllegalStateError(f"No current assignment for partition {tp}")
        sought.append((tp, offset))

    classifier.app.consumer.seek = seek  # type: ignore[method-assign]
    classifier.app.loop.run_until_complete(classifier.agent.intake.seek_back())
    assert sought == [(kept, 10)]
    classifier.agent.own({1})  # the assignment that follows
    assert not guard.expects(gone) and not guard.expects(kept)


def test_a_partition_that_delivers_nothing_though_events_wait_is_sought(
    classifier: Classifier,
) -> None:
    """Events faust skipped leave a hole the guard sees only when a later event comes.
    If none comes (everything was produced before the partition changed hands), the
    partition delivers nothing at all: it is sought back to the offset expected."""
    agent = classifier.agent
    agent.own({0, 1, 2})
    stalled, idle, busy = (TP(topics.EVENTS, p) for p in (0, 1, 2))
    for tp in (stalled, idle, busy):
        agent.intake.offsets.start(tp, 40)
    ends = {stalled: 100, idle: 40, busy: 100}  # the idle partition has nothing left
    long_ago = time.monotonic() - 60
    agent.intake._taken_at = {0: long_ago, 1: long_ago, 2: time.monotonic()}
    sought: list[tuple[TP, int]] = []

    async def seek(tp: TP, offset: int) -> None:
        sought.append((tp, offset))

    consumer = classifier.app.consumer
    consumer.highwater = lambda tp: ends[tp]  # type: ignore[method-assign]
    consumer.seek = seek  # type: ignore[method-assign]
    classifier.app.loop.run_until_complete(agent.intake.unstall())
    assert sought == [(stalled, 40)]
    classifier.app.loop.run_until_complete(agent.intake.unstall())
    assert sought == [(stalled, 40)]  # not again before another quiet spell
