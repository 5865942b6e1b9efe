"""Judging is paced; an event counts as processed only once its client was judged."""

from __future__ import annotations

from services.classifier.domain.schedule_join import ScheduleJoin
from services.classifier.metrics import ClassifierMetrics
from services.classifier.processor import Processor
from services.classifier.settings import ClassifierSettings
from services.classifier.states import ClientStates
from services.events.tenant import Tenant

from .factory import at, ticket
from .test_schedule_join import Outbox, Parking


def paced(tenant: Tenant, clock: list[float]) -> tuple[Processor, Outbox]:
    states = ClientStates({})
    outbox = Outbox()
    settings = ClassifierSettings(classifier_live_judge_interval=0.2, classifier_judge_interval=5.0)
    proc = Processor(
        settings,
        tenant,
        states=states,
        join=ScheduleJoin(states, Parking()),
        outbox=outbox,
        metrics=ClassifierMetrics([]),
        clock=lambda: clock[0],
    )
    return proc, outbox


def test_a_live_event_folded_between_judgements_waits_for_the_next_one(tenant: Tenant) -> None:
    clock = [1000.0]
    proc, _ = paced(tenant, clock)
    first, second = ticket("1", at(0)), ticket("2", at(0, hours=1))
    proc.handle([first.model_dump_json().encode()], caught_up=True)  # judged at once
    assert proc.processed_ids([first.event_id]) == (1, [])
    clock[0] += 0.05  # within the live interval: folded, not judged yet
    proc.handle([second.model_dump_json().encode()], caught_up=True)
    assert proc.processed_ids([second.event_id]) == (0, [second.event_id])
    proc.judge_pending()  # the timer, too early: nothing
    assert proc.processed_ids([second.event_id]) == (0, [second.event_id])
    clock[0] += 0.2
    proc.judge_pending()  # the timer, after the live interval
    assert proc.processed_ids([first.event_id, second.event_id]) == (2, [])


def test_while_draining_the_timer_leaves_judging_to_the_judge_interval(tenant: Tenant) -> None:
    clock = [1000.0]
    proc, _ = paced(tenant, clock)
    proc.handle([ticket("1", at(0)).model_dump_json().encode()], caught_up=True)
    backlog = ticket("2", at(0, hours=1))
    clock[0] += 1.0
    proc.handle([backlog.model_dump_json().encode()], caught_up=False)  # a full batch
    proc.judge_pending()
    assert proc.processed_ids([backlog.event_id]) == (0, [backlog.event_id])
    clock[0] += 5.0
    proc.handle([], caught_up=False)  # the next batch, a judge interval later
    assert proc.processed_ids([backlog.event_id]) == (1, [])


def test_after_a_backlog_ends_the_tick_rejudges_every_client_again(tenant: Tenant) -> None:
    """No batch for a tick means nothing is left to drain: a quiet client is judged again
    as event time moved on, though the last batch was a full one (still draining)."""
    clock = [1000.0]
    proc, _ = paced(tenant, clock)
    proc.metrics.own(c.id for c in tenant.clients)
    proc.handle([ticket("g1", at(0), client="globex").model_dump_json().encode()], caught_up=True)
    before = proc.views["globex"].snapshot.as_of
    clock[0] += 1.0
    backlog = ticket("a1", at(10), client="acme")  # event time ten days on
    proc.handle([backlog.model_dump_json().encode()], caught_up=False)
    proc.tick()  # still draining: globex waits
    assert proc.views["globex"].snapshot.as_of == before
    clock[0] += proc.settings.classifier_tick_seconds
    proc.tick()  # no batch for a tick: caught up, globex judged as of the new watermark
    assert proc.views["globex"].snapshot.as_of == backlog.occurred_at
