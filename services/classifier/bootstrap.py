"""Wires one classifier worker: the faust app and its tables, the ports the processor
is given (client states over the state table, the schedule join's parking, the
outbox, metrics, clock), the agent (with what the local store covers, for a replay),
and the HTTP views."""

from __future__ import annotations

import time
from collections.abc import Callable

from services.classifier.agent import Agent
from services.classifier.cover import StoreCover, worker_dir
from services.classifier.domain.schedule_join import ScheduleJoin
from services.classifier.metrics import ClassifierMetrics
from services.classifier.processor import Processor
from services.classifier.publish import Publisher
from services.classifier.service import Classifier
from services.classifier.settings import ClassifierSettings
from services.classifier.states import ClientStates
from services.classifier.tables import TableParking, create_tables
from services.classifier.transport import BROKER_SETTINGS, ClassifierFaust, TableWriter
from services.classifier.views import register_views
from services.events.tenant import Tenant


def bootstrap(
    settings: ClassifierSettings,
    tenant: Tenant,
    kafka_bootstrap: str,
    *,
    clock: Callable[[], float] = time.time,
) -> Classifier:
    cover = StoreCover(settings)  # before the app opens the store
    app = faust_app(settings, kafka_bootstrap)
    tables = create_tables(app, settings.topic_partitions)
    publisher = Publisher(app)
    writer = TableWriter(publisher)  # the tables' changelog records go out with the outputs
    metrics = ClassifierMetrics([])  # the clients of the partitions assigned
    states = ClientStates(tables.states)
    join = ScheduleJoin(states, TableParking(tables.parked, settings.topic_partitions, writer))
    processor = Processor(
        settings,
        tenant,
        states=states,
        join=join,
        outbox=publisher,
        metrics=metrics,
        clock=clock,
    )
    agent = Agent(
        settings,
        tenant,
        app=app,
        tables=tables,
        processor=processor,
        publisher=publisher,
        writer=writer,
        metrics=metrics,
        cover=cover,
    )
    classifier = Classifier(settings, tenant, app, tables, publisher, metrics, processor, agent)
    register_views(classifier)
    return classifier


def faust_app(settings: ClassifierSettings, kafka_bootstrap: str) -> ClassifierFaust:
    app = ClassifierFaust(
        settings.classifier_app_id,
        broker=f"kafka://{kafka_bootstrap}",
        store=settings.classifier_store,
        datadir=str(worker_dir(settings)),
        topic_partitions=settings.topic_partitions,
        table_standby_replicas=settings.classifier_standby_replicas,
        **BROKER_SETTINGS,
        processing_guarantee="at_least_once",
        # Idempotent: events no checkpoint covers are processed again after a stop or
        # a rebalance, so neither waits for them to be acknowledged.
        stream_wait_empty=False,
        # The check compares the offset a worker already read of a changelog partition
        # (as its standby) with the partition's highwater when it becomes active; the
        # embedded broker reports a partition's end as one past the first record of its
        # last batch (docs/classifier.md, "Nothing skipped"), below offsets it has served
        # (377 > 367 once), and the worker crashed. Changelog flushes end with a batch of
        # one record since, but a changelog written before that may not.
        recovery_consistency_check=False,
        web_enabled=True,
        web_bind=settings.classifier_host,
        web_host=settings.classifier_host,
        web_port=settings.classifier_port,
        producer_linger=0.005,
    )
    app.fetch_max_wait_ms = settings.classifier_fetch_max_wait_ms
    app.producer_buffer_max_messages = 20_000
    return app
