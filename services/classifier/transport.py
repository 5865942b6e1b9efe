"""The classifier's faust App: faust's own code, with two of its defaults corrected.

1. faust-streaming hard-codes `fetch_max_wait_ms=1500` for its worker consumer.
   Brokers that do not answer a fetch early when data arrives (tansu, see
   ../shared/embedded-broker.md) then add up to 1.5 s to every event's latency,
   so the app uses a transport that sets the wait from
   `ClassifierFaust.fetch_max_wait_ms`.
2. After a rebalance, faust's recovery resumes the stream partitions *before* it
   seeks them to their committed offsets and resumes flow control. Events fetched in
   that window reach the streams while flow control is off, and streams skip them;
   the fetcher has already counted them as read, so when the seek brings them back
   it drops them as duplicates. The events are then never processed, and their
   offsets can be committed when later ones are acknowledged. We measured tens of
   events lost in most worker restarts (tests/integration/test_classifier.py,
   test_worker_restart_mid_stream_keeps_every_count_exact). `_Recovery` seeks first
   and resumes after, with no await between resuming the partitions and the flow.

And the table writes outside any event (`TableWriter`), which faust does not offer.
"""

from __future__ import annotations

import logging
from functools import partial
from typing import Any, ClassVar, cast

import faust
from faust.tables import TableManager
from faust.tables.recovery import Recovery
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP, ConsumerT, ProducerT, TransportT

from services.classifier.publish import Publisher

log = logging.getLogger("partnerpulse.classifier")


# The consumer-group and transport settings every classifier app runs with (the worker's,
# and the trivial agent `make bench-classifier` measures it against): short sessions so a
# dead member's partitions move within seconds, a long poll interval for long batches.
BROKER_SETTINGS: dict[str, object] = {
    "topic_replication_factor": 1,
    "broker_session_timeout": 10,
    "broker_heartbeat_interval": 1,
    "broker_rebalance_timeout": 20,
    "broker_max_poll_interval": 300,
    "broker_request_timeout": 90,
    "broker_commit_interval": 1,
    "consumer_auto_offset_reset": "earliest",
}


class ClassifierFaust(faust.App):
    """A faust App whose consumer waits at most `fetch_max_wait_ms` per fetch, and whose
    recovery never lets a stream skip an event (see the module's docstring)."""

    fetch_max_wait_ms: int = 50
    # faust flushes its producer buffer from the consumer's message handler whenever it
    # holds more than this (100 by default), warning at each message. The classifier
    # waits for every record it produced at each checkpoint; this only bounds memory.
    producer_buffer_max_messages: int = 100

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("TableManager", _TableManager)
        super().__init__(*args, **kwargs)

    def _new_producer(self) -> ProducerT:
        producer = super()._new_producer()
        producer.buffer.max_messages = self.producer_buffer_max_messages
        return producer

    def _new_transport(self) -> TransportT:
        return Transport(self.conf.broker_consumer, self)


class _Recovery(Recovery):
    async def _resume_streams(self, generation_id: int = 0) -> None:
        # faust's Recovery._resume_streams (faust-streaming 0.11 to 0.15), reordered:
        # seek while the stream partitions are still paused, then resume them and the
        # flow together.
        app = self.app
        consumer = app.consumer
        await app.on_rebalance_complete.send()
        assignment = consumer.assignment()
        if app.consumer_generation_id != generation_id:
            self.log.warning("Recovery rebalancing again")
            return
        if assignment:
            self.log.info("Seek stream partitions to committed offsets.")
            await self._wait(consumer.perform_seek(), timeout=app.conf.broker_request_timeout)
            if app.consumer_generation_id != generation_id:
                self.log.warning("Recovery rebalancing again")
                return
            consumer.resume_partitions({tp for tp in assignment if not self._is_changelog_tp(tp)})
        else:
            self.log.info("Resuming streams with empty assignment")
        self.completed.set()
        self.log.info("Resuming flow...")
        app.flow_control.resume()
        consumer.resume_flow()
        await cast(Any, app)._fetcher.maybe_start()
        self.tables.on_actives_ready()
        self.tables.on_standbys_ready()
        app.on_rebalance_end()
        self.log.info("Worker ready")


class _TableManager(TableManager):
    @property
    def recovery(self) -> Recovery:
        if self._recovery is None:
            self._recovery = _Recovery(self.app, self, beacon=self.beacon, loop=self.loop)
        return self._recovery


class _ConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        # aiokafka reads this attribute when the consumer starts its fetcher.
        consumer._fetch_max_wait_ms = getattr(self.app, "fetch_max_wait_ms", 1500)
        return consumer


class _Consumer(faust_aiokafka.Consumer):
    def _new_consumer_thread(self) -> faust_aiokafka.AIOKafkaConsumerThread:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)

    def _new_offset(self, tp: Any) -> int | None:
        # faust commits the first run of consecutive acknowledged offsets, but lets the
        # run start one past the committed offset (it tests `min(acked) - committed > 1`
        # where the committed offset is the next one to read): a single unacknowledged
        # event just after it is committed over. Nothing is committed unless the run
        # starts at the committed offset.
        committed = self._committed_offset.get(tp)
        acked = self._acked.get(tp)
        if acked and committed is not None and not self._gap.get(tp) and min(acked) > committed:
            return None
        result: int | None = super()._new_offset(tp)
        return result


async def start_offset(app: faust.App, tp: Any) -> int | None:
    """Where an assigned partition's events start: its committed offset, else its first
    (None if the consumer cannot tell, e.g. in `test_context()`)."""
    committed: int | None = cast(Any, app.consumer)._committed_offset.get(tp)
    if committed is not None:  # faust keeps a committed 0 as None: the first offset is 0
        return committed
    try:
        assigned = tp in app.consumer.assignment()
    except Exception:  # no consumer running (`test_context()`)
        assigned = False
    if not assigned:
        return None
    try:
        earliest = await app.consumer.earliest_offsets(tp)
    except Exception as exc:
        log.warning("first offset of %s unknown (%s): its first event sets it", tp, exc)
        return None
    return int(earliest.get(tp) or next(iter(earliest.values()), 0))


def forget(app: faust.App, message: Any) -> None:
    """A delivered event the agent will not process (it is fetched again): faust must not
    wait for its acknowledgement at the next rebalance."""
    cast(Any, app.consumer)._unacked_messages.discard(message)


class Transport(faust_aiokafka.Transport):
    Consumer: ClassVar[type[ConsumerT]] = _Consumer


class TableWriter:
    """Writes to faust tables outside any event: the local store at once, the changelog
    record queued on the publisher, which sends it in a record batch with the others of
    its partition at the next flush (`Agent._publish`).

    faust's own `table[key] = value` takes the partition, and its RocksDB store the
    database, from the event being processed; a checkpoint writes on behalf of many
    events, so it names the partition itself (the client's events partition). And
    faust sends each changelog record alone (a future, a buffer, a callback each): a
    checkpoint of a drain writes thousands (the parts of 100 clients' states), which
    cost the worker more than their bytes. The records are the ones faust would send
    (the table's key and value serializers; a delete is a tombstone); each delivered
    batch records its last offset in the store, as faust does per record, so a
    restarted worker reads only the changelog written since.
    """

    def __init__(self, publisher: Publisher) -> None:
        self.publisher = publisher
        self._watched: set[str] = set()

    def write(self, table: Any, partition: int, key: bytes, value: Any) -> None:
        """Set `key` to `value` (None: delete) in `table` and in `partition` of its changelog."""
        changelog = table.changelog_topic
        topic = changelog.get_topic_name()
        if topic not in self._watched:
            self._watched.add(topic)
            self.publisher.on_delivered(topic, partial(_persisted, table, topic))
        raw_key, _ = changelog.prepare_key(key, table.key_serializer)
        raw_value = None
        if value is not None:
            raw_value, _ = changelog.prepare_value(value, table.value_serializer)
        self.publisher.add(topic, raw_key, raw_value, partition=partition)
        store = table.data
        if hasattr(store, "_db_for_partition"):  # faust's RocksDB store: one DB per partition
            db = store._db_for_partition(partition)
            encoded = store._encode_key(key)
            if value is None:
                db.delete(encoded)
                store._key_index.pop(encoded, None)
            else:
                db.put(encoded, store._encode_value(value))
                store._key_index[encoded] = partition
        elif value is None:
            store.pop(key, None)
        else:
            store[key] = value


def _persisted(table: Any, topic: str, partition: int, offset: int) -> None:
    """What faust's changelog callback does (at least once): the store remembers the
    offset of the last changelog record it holds."""
    table.data.set_persisted_offset(TP(topic, partition), offset)


def open_partitions(table: Any, partitions: set[int]) -> None:
    """Open the local databases of these partitions of `table` (faust's RocksDB store
    opens one only when a write or a changelog record reaches it: after a restart with
    nothing to recover, what it held on disk would read as missing)."""
    store = table.data
    if hasattr(store, "_db_for_partition"):
        for partition in partitions:
            store._db_for_partition(partition)
