"""Table writes outside any event (services/classifier/transport.py, `TableWriter`).

A checkpoint writes the changed parts of many clients' states: the records go out
as record batches through the publisher (services/classifier/publish.py), and must
be exactly what faust itself would send, in the order written, with each
partition's last delivered offset kept in faust's RocksDB store (a restarted worker
reads the changelog only from there). Real faust tables on a real RocksDB store; the
producer is a stand-in that keeps aiokafka's real record batches and acknowledges
each at offsets of its own. The broker's side runs in the integration and
acceptance tiers (kill and restart tests).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import faust
from aiokafka.producer.message_accumulator import BatchBuilder
from aiokafka.record.default_records import DefaultRecordBatch
from aiokafka.structs import RecordMetadata, TopicPartition
from faust.types import TP

from services.classifier.publish import Publisher
from services.classifier.tables import create_tables
from services.classifier.transport import TableWriter


class Producer:
    """aiokafka's producer as the publisher uses it: real batches, offsets per partition."""

    def __init__(self, batch_size: int = 16384) -> None:
        self.batch_size = batch_size
        self.sent: list[tuple[str, int, list[tuple[bytes | None, bytes | None]]]] = []
        self.next_offset: dict[tuple[str, int], int] = {}
        self.futures: list[asyncio.Future[Any]] = []

    def create_batch(self) -> BatchBuilder:
        return BatchBuilder(self.batch_size, 0)

    async def send_batch(self, builder: BatchBuilder, topic: str, *, partition: int) -> Any:
        raw = builder._build()
        records = [(r.key, r.value) for r in DefaultRecordBatch(bytes(raw))]
        self.sent.append((topic, partition, records))
        base = self.next_offset.get((topic, partition), 0)
        self.next_offset[topic, partition] = base + len(records)
        future: asyncio.Future[Any] = asyncio.get_event_loop().create_future()
        self.futures.append(future)
        tp = TopicPartition(topic, partition)
        future.set_result(RecordMetadata(topic, partition, tp, base, -1, 0, 0))
        return future

    async def partitions_for(self, topic: str) -> set[int]:
        return {0, 1, 2, 3}


def _app(tmp_path: Path) -> tuple[faust.App, Any]:
    app = faust.App("writer-test", broker="kafka://127.0.0.1:1", store="rocksdb://")
    app.conf.datadir = str(tmp_path)
    tables = create_tables(app, partitions=4)
    app.finalize()
    return app, tables


def _run(app: faust.App, producer: Producer, publisher: Publisher) -> None:
    app.producer._ensure_producer = lambda: producer  # type: ignore[attr-defined]
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(publisher.flush())
        loop.run_until_complete(asyncio.sleep(0))  # the delivery callbacks
    finally:
        loop.close()


def test_writes_reach_the_store_and_the_changelog_as_faust_would_send_them(
    tmp_path: Path,
) -> None:
    app, tables = _app(tmp_path)
    publisher = Publisher(app)
    writer = TableWriter(publisher)
    states, parked = tables.states, tables.parked
    writer.write(states, 2, b"acme\x1fd1@1", b'{"seen":{}}')
    writer.write(states, 2, b"acme", b'{"v":3}')
    writer.write(states, 2, b"acme\x1fd1@0", None)  # a replaced part: deleted
    writer.write(parked, 1, b"connectwise:ticket:7", ['{"a":1}'])
    producer = Producer()
    _run(app, producer, publisher)

    changelog = states.changelog_topic.get_topic_name()
    by_topic: dict[tuple[str, int], list[tuple[bytes | None, bytes | None]]] = {}
    for topic, partition, records in producer.sent:
        by_topic.setdefault((topic, partition), []).extend(records)
    # The client's partition gets the records in the order written: parts, head, tombstone.
    assert by_topic[changelog, 2] == [
        (b"acme\x1fd1@1", b'{"seen":{}}'),
        (b"acme", b'{"v":3}'),
        (b"acme\x1fd1@0", None),
    ]
    # In two batches: the last record alone (a broker that reports the end of a
    # partition as one past its last batch's first record still reports it right).
    batches = [len(records) for topic, p, records in producer.sent if (topic, p) == (changelog, 2)]
    assert batches == [2, 1]
    # The bytes faust's own send_changelog would make (the table's serializers).
    parked_key, _ = parked.changelog_topic.prepare_key(b"connectwise:ticket:7", None)
    parked_value, _ = parked.changelog_topic.prepare_value(['{"a":1}'], parked.value_serializer)
    assert by_topic[parked.changelog_topic.get_topic_name(), 1] == [(parked_key, parked_value)]
    # The local store holds what was written (RocksDB, one database per partition).
    assert states.data._db_for_partition(2)[states.data._encode_key(b"acme")] is not None
    assert states.get(b"acme") == b'{"v":3}'
    assert states.get(b"acme\x1fd1@0") is None
    # Each partition's store remembers the offset of the last record delivered to it.
    assert states.data.persisted_offset(TP(changelog, 2)) == 2
    assert parked.data.persisted_offset(TP(parked.changelog_topic.get_topic_name(), 1)) == 0


def test_a_full_batch_is_sent_and_the_next_one_carries_on_in_order(tmp_path: Path) -> None:
    app, tables = _app(tmp_path)
    publisher = Publisher(app)
    writer = TableWriter(publisher)
    values = [bytes([65 + i]) * 3000 for i in range(12)]  # 36 kB: three batches of 16 kB
    for i, value in enumerate(values):
        writer.write(tables.states, 0, f"big\x1fd{i}@1".encode(), value)
    producer = Producer()
    _run(app, producer, publisher)

    assert len(producer.sent) >= 3
    sent = [record for _, _, records in producer.sent for record in records]
    assert [value for _, value in sent] == values
    topic = tables.states.changelog_topic.get_topic_name()
    assert tables.states.data.persisted_offset(TP(topic, 0)) == len(values) - 1


def test_an_undelivered_batch_records_no_offset(tmp_path: Path) -> None:
    app, tables = _app(tmp_path)
    publisher = Publisher(app)
    writer = TableWriter(publisher)
    writer.write(tables.states, 3, b"acme", b"{}")
    producer = Producer()

    async def refused(builder: BatchBuilder, topic: str, *, partition: int) -> Any:
        future: asyncio.Future[Any] = asyncio.get_event_loop().create_future()
        future.set_exception(ConnectionError("broker gone"))
        producer.futures.append(future)
        return future

    producer.send_batch = refused  # type: ignore[method-assign]
    _run(app, producer, publisher)
    topic = tables.states.changelog_topic.get_topic_name()
    assert tables.states.data.persisted_offset(TP(topic, 3)) is None
    for future in producer.futures:
        future.exception()  # retrieved: the checkpoint awaiting it exits for redelivery
