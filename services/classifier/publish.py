"""The classifier's outputs, sent as Kafka record batches.

faust's `Topic.send_soon` makes a FutureMessage per record, queues it, and a
task hands each one to aiokafka's `send`: about a fifth of the worker's time
while it drained a backlog, where one event makes about one work record. Here
the records of a flush are appended to one aiokafka `BatchBuilder` per topic
partition and each builder is sent with `send_batch`, on faust's own producer.

Records are placed as faust and kafka-python place them (murmur2 of the key over
the topic's partitions; a record with no key on any available partition), so a
client's work, signals and health stay in the partition of its events, unless the
caller names the partition (the tables' changelog records, services/classifier/
transport.py). A topic's delivered batches can be watched (`on_delivered`): faust's
store keeps the offset of the last changelog record it holds.

A watched topic's flush ends, in each partition, with a batch holding only its last
record. The embedded broker (tansu 0.6) reports a partition's end offset as one past
the *first* record of its last batch, not its last record; faust's recovery reads a
changelog up to that end and stops, so the rest of a last batch of several records (a
checkpoint's heads come last) was never recovered by the worker taking the partition
over (docs/classifier.md, "Nothing skipped"). On Kafka the extra batch costs one
request per partition and checkpoint, and changes nothing else.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from functools import partial
from typing import Any

import faust
from aiokafka.partitioner import DefaultPartitioner

Headers = list[tuple[str, bytes]]  # aiokafka's C record builder takes a list, nothing else
Delivered = Callable[[int, int], None]  # (partition, offset of the batch's last record)


class Publisher:
    """Collects records synchronously (`add`), sends them in batches (`flush`)."""

    def __init__(self, app: faust.App) -> None:
        self._app = app
        self._pending: list[tuple[str, bytes | None, bytes | None, Headers, int | None]] = []
        self._watchers: dict[str, Delivered] = {}
        self._partitions: dict[str, list[int]] = {}
        self._placed: dict[tuple[str, bytes], int] = {}  # (topic, key) -> partition
        self._partitioner = DefaultPartitioner()

    def add(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        headers: Headers | None = None,
        *,
        partition: int | None = None,
    ) -> None:
        """Queue a record (value None: a tombstone) for `partition`, or the key's."""
        self._pending.append((topic, key, value, headers or [], partition))

    def on_delivered(self, topic: str, callback: Delivered) -> None:
        """Call `callback(partition, last offset)` for each delivered batch of `topic`."""
        self._watchers[topic] = callback

    def __len__(self) -> int:
        return len(self._pending)

    async def flush(self) -> list[asyncio.Future[Any]]:
        """Hand every record added so far to the producer; the futures of their delivery.

        The records are taken before the first await: those added meanwhile wait for
        the next flush.
        """
        records, self._pending = self._pending, []
        if not records:
            return []
        # faust's aiokafka driver keeps its started AIOKafkaProducer behind this method.
        producer = self._app.producer._ensure_producer()  # type: ignore[attr-defined]
        builders: dict[tuple[str, int], Any] = {}
        sent: list[asyncio.Future[Any]] = []
        placed = self._placed
        # A watched topic's last record in each partition: sent alone, after the others.
        last = {
            (topic, named): i
            for i, (topic, _, _, _, named) in enumerate(records)
            if named is not None and topic in self._watchers
        }
        alone: list[tuple[str, int, bytes | None, bytes | None, Headers]] = []
        for i, (topic, key, value, headers, named) in enumerate(records):
            if named is not None and last.get((topic, named)) == i:
                alone.append((topic, named, key, value, headers))
                continue
            # A client's records go to one partition: its murmur2 (pure Python) once.
            partition = named
            if partition is None and key is not None:
                partition = placed.get((topic, key))
            if partition is None:
                partition = await self._partition(producer, topic, key)
                if key is not None:
                    placed[topic, key] = partition
            builder = builders.get((topic, partition))
            if builder is None:
                builder = builders[topic, partition] = producer.create_batch()
            if builder.append(key=key, value=value, timestamp=None, headers=headers) is None:
                # Full: send it, and start the next batch with this record (the first
                # record of a batch always fits).
                sent.append(await self._send(producer, builder, topic, partition))
                builder = builders[topic, partition] = producer.create_batch()
                builder.append(key=key, value=value, timestamp=None, headers=headers)
        for (topic, partition), builder in builders.items():
            sent.append(await self._send(producer, builder, topic, partition))
        for topic, partition, key, value, headers in alone:
            builder = producer.create_batch()
            builder.append(key=key, value=value, timestamp=None, headers=headers)
            sent.append(await self._send(producer, builder, topic, partition))
        return sent

    async def _send(
        self, producer: Any, builder: Any, topic: str, partition: int
    ) -> asyncio.Future[Any]:
        future: asyncio.Future[Any] = await producer.send_batch(builder, topic, partition=partition)
        watcher = self._watchers.get(topic)
        if watcher is not None:
            future.add_done_callback(partial(_report, watcher, partition, builder.record_count()))
        return future

    async def _partition(self, producer: Any, topic: str, key: bytes | None) -> int:
        partitions = self._partitions.get(topic)
        if partitions is None:
            partitions = self._partitions[topic] = sorted(await producer.partitions_for(topic))
        return int(self._partitioner(key, partitions, partitions))


def _report(watcher: Delivered, partition: int, records: int, future: asyncio.Future[Any]) -> None:
    if future.cancelled() or future.exception() is not None:
        return  # the sender awaiting the future handles the failure
    metadata = future.result()
    if metadata is not None and metadata.offset is not None and records:
        watcher(partition, metadata.offset + records - 1)


def partition_of(key: bytes, partitions: int) -> int:
    """The partition ingest (kafka-python), faust and aiokafka give a record with this key
    in a topic of `partitions` partitions: murmur2 of the key."""
    every = list(range(partitions))
    return int(DefaultPartitioner()(key, every, every))
