"""Faust's aiokafka transport with a configurable fetch wait.

faust-streaming hard-codes `fetch_max_wait_ms=1500` for its worker consumer.
Brokers that do not answer a fetch early when data arrives (tansu, see
../shared/embedded-broker.md) then add up to 1.5 s to every event's latency,
so the classifier's app uses this transport, which sets the wait from
`ClassifierFaust.fetch_max_wait_ms`. Everything else is faust's own code.
"""

from __future__ import annotations

from typing import Any, ClassVar

import faust
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import ConsumerT, TransportT


class ClassifierFaust(faust.App):
    """A faust App whose consumer waits at most `fetch_max_wait_ms` per fetch."""

    fetch_max_wait_ms: int = 50

    def _new_transport(self) -> TransportT:
        return Transport(self.conf.broker_consumer, self)


class _ConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        # aiokafka reads this attribute when the consumer starts its fetcher.
        consumer._fetch_max_wait_ms = getattr(self.app, "fetch_max_wait_ms", 1500)
        return consumer


class _Consumer(faust_aiokafka.Consumer):
    def _new_consumer_thread(self) -> faust_aiokafka.AIOKafkaConsumerThread:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)


class Transport(faust_aiokafka.Transport):
    Consumer: ClassVar[type[ConsumerT]] = _Consumer
