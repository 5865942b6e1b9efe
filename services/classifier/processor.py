"""The classifier's processing, with no faust: raw events in; states, outputs, views out.

`Processor.handle` takes a batch of raw canonical events and, without any await
(so nothing can interrupt a batch half-way), validates each one, gives it its
client (`ScheduleJoin`: ConnectWise schedule entries take their ticket's), folds
it into the client's state with the pure `Engine`, judges the touched clients and
queues what changed (work, signals, health, dead letters) on the outbox. Changed
states wait in `ClientStates` for the agent's next checkpoint. No exception
escapes: an event that does not parse, is dated too far ahead, or whose
processing raises goes to `partnerpulse.dlq` with the error in
`partnerpulse.errors.*` headers, and is counted.

Everything outside is a port given to it: the client states (over a table), the
join's parking, the outbox (the agent's `publish.Publisher`), the metrics and
the clock. The faust side (services/classifier/agent.py) hands it batches and
checkpoints what it changed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Protocol

import orjson
from pydantic import BaseModel, ValidationError

from services.classifier.domain.engine import ClientView, Engine
from services.classifier.domain.health import quiet_client_view
from services.classifier.domain.schedule_join import ScheduleJoin
from services.classifier.domain.state import ClientState
from services.classifier.domain.times import ts
from services.classifier.metrics import ClassifierMetrics
from services.classifier.settings import ClassifierSettings
from services.classifier.states import ClientStates
from services.events import topics
from services.events.models import CanonicalEvent, Ticket
from services.events.outputs import WorkClass, WorkItem
from services.events.tenant import Tenant

log = logging.getLogger("partnerpulse.classifier")

REJUDGE_AFTER_EVENT_SECONDS = 3600.0  # a quiet client's health, again after this event time


class Outbox(Protocol):
    """Where outputs wait to be sent (the agent flushes it after each batch)."""

    def add(
        self,
        topic: str,
        key: bytes | None,
        value: bytes,
        headers: list[tuple[str, bytes]] | None = None,
    ) -> None: ...


class Processor:
    """Folds batches of events into client states; judges clients; queues outputs."""

    def __init__(
        self,
        settings: ClassifierSettings,
        tenant: Tenant,
        *,
        states: ClientStates,
        join: ScheduleJoin,
        outbox: Outbox,
        metrics: ClassifierMetrics,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.tenant = tenant
        self.engine = Engine(tenant)
        self.states = states
        self.join = join
        self.outbox = outbox
        self.metrics = metrics
        self.clock = clock
        # One bound with ingest's (webhooks.freshness.max_event_ahead_hours): ingest refuses
        # such deliveries; this guards the topic against any other writer.
        ahead = tenant.webhooks.freshness.max_event_ahead_hours
        self._max_skew = float("inf") if ahead is None else ahead * 3600.0
        self.views: dict[str, ClientView] = {}
        self.watermark = 0.0
        self._watermark_recovered = False
        self._judged_at: dict[str, float] = {}  # watermark each client was last judged at
        self.dead_letters: set[str] = set()  # event ids sent to the DLQ by this process
        self.too_late: set[str] = set()
        self.processed = 0
        self.failed = 0
        self._counts = _Counts()  # the batch under way's
        self._replaying = True  # the last event was a redelivery (at first: maybe)
        self._dirty: dict[str, ClientState] = {}  # folded into since they were last judged
        self._waiting: dict[str, list[float]] = {}  # their events' ingest times
        self._judged_wall = 0.0
        self._live = True  # the last batch reached the end of its partitions
        self._handled_at = 0.0  # clock time of the last batch
        self.ticked_at = 0.0  # clock time of the last tick that judged every client

    def handle(self, batch: Iterable[bytes], *, caught_up: bool | None = None) -> None:
        """Fold, judge, queue outputs: no await, so a stop cannot split it.

        Outputs wait in the outbox, which the agent flushes after the batch;
        changed states wait for the next checkpoint.
        `caught_up`: whether the batch reaches the end of its partitions (default:
        whether it is smaller than a full batch).
        """
        self._recover_watermark()
        touched: dict[str, ClientState] = {}
        received: dict[str, list[float]] = {}
        work: list[WorkItem] = []
        self.states.batch = touched
        size = 0
        counts = self._counts = _Counts()
        for raw in batch:
            size += 1
            # Each event is validated once, and a redelivery is then found by the
            # validated ids. Redeliveries come in runs (a replay after a restart, the
            # journal replayed into a new broker): after one, the next events are first
            # looked up by the ids where our own JSON puts them, without validating.
            # Either way the same events count as duplicates (`_seen_before`).
            if self._replaying and self._looks_seen(raw) and self._seen_before(raw):
                counts.duplicates += 1
                continue
            try:
                event = CanonicalEvent.model_validate_json(raw)
            except ValidationError as exc:
                if self._seen_before(raw):  # its ids parse and its client holds it
                    counts.duplicates += 1
                else:
                    self._dead_letter(raw, "invalid_event", str(exc), None)
                continue
            state = self.states.state_of(event.client_id)
            self._replaying = state is not None and event.event_id in state.seen
            if self._replaying:
                counts.duplicates += 1
                continue
            if ts(event.occurred_at) > ts(event.received_at) + self._max_skew:
                self._dead_letter(
                    raw,
                    "future_event_time",
                    f"occurred_at {event.occurred_at.isoformat()} is more than "
                    f"{self._max_skew / 3600:g} h after received_at "
                    f"{event.received_at.isoformat()}",
                    event.event_id,
                )
                continue
            try:
                self._fold(event, touched, received, work)
            except Exception as exc:
                log.exception("event %s failed", event.event_id)
                self._dead_letter(raw, "processing_error", repr(exc), event.event_id)
        self.states.batch = {}
        by_class = counts.work_items
        for item in work:
            self.outbox.add(topics.WORK, item.client_id.encode(), _json(item))
            by_class[item.work_class] = by_class.get(item.work_class, 0) + 1
        self._count(counts)
        self._dirty.update(touched)
        for client_id, stamps in received.items():
            self._waiting.setdefault(client_id, []).extend(stamps)
        now = self.clock()
        # Judging costs a pass over the client's window: live (the batch reaches the end of
        # its partitions) at most every live interval (a timer judges what waits longer);
        # while draining a backlog at most once per judge interval.
        if caught_up is None:
            caught_up = size < self.settings.classifier_batch_size
        self._live, self._handled_at = caught_up, now
        s = self.settings
        gap = s.classifier_live_judge_interval if caught_up else s.classifier_judge_interval
        if now - self._judged_wall >= gap:
            self._judge_dirty(now, written=touched)
        for state in touched.values():
            self.states.write(state)
        self.metrics.batch_size.observe(size)
        self.metrics.last_processed.set(now)
        if self.watermark:
            self.metrics.watermark.set(self.watermark)
            self.metrics.event_time_lag.set(max(0.0, now - self.watermark))

    @property
    def handled_at(self) -> float:
        """Clock time (epoch seconds) the last batch was handled; 0 before any."""
        return self._handled_at

    def judge_pending(self) -> None:
        """Judge the clients a paced live batch left unjudged (no batch followed soon
        enough). Not while draining a backlog: that is judged every judge interval (and
        the batch that catches up is judged; the tick judges what a stop leaves)."""
        now = self.clock()
        gap = self.settings.classifier_live_judge_interval
        if self._dirty and self._live and now - self._judged_wall >= gap:
            self._judge_dirty(now)

    def tick(self) -> None:
        """Judge the clients changed since the last pass, and re-judge the others as event
        time moves on (overdue recommendations, windows). The agent calls it only while
        the table holds every client's state (a half-recovered one would cache stale
        states)."""
        self._recover_watermark()
        if not self.watermark:
            return
        now = self.clock()
        if not self._live and now - self._handled_at < self.settings.classifier_tick_seconds:
            # Draining a backlog, event time races ahead: the batches judge the changed
            # clients every judge interval, and re-judging every client at each tick would
            # cost a pass over each, for nothing; they are judged once caught up (a batch
            # that reaches the end, or no batch for a tick: nothing left to drain).
            return
        self._judge_dirty(now)
        for client in self.tenant.clients:
            if not self.metrics.owns(client.id):
                continue  # another worker's (or no partition assigned yet)
            # Clients with new events were judged with them; the others only need it as
            # event time moves on (deadlines pass, windows slide), which is hours-scale.
            # Judging every client at every tick stalled the agent for all of them.
            judged = self._judged_at.get(client.id)
            if judged is not None and self.watermark - judged < REJUDGE_AFTER_EVENT_SECONDS:
                continue
            try:
                state = self.states.state_of(client.id)
                if state is None:  # a quiet client: green, no activity, in the metrics too
                    self._judged_at[client.id] = self.watermark
                    self.metrics.show(self.quiet_view(client.id))
                elif self._judge(state, now):
                    self.states.write(state)
            except Exception:
                log.exception("periodic judgement of %s failed", client.id)
        self.metrics.event_time_lag.set(max(0.0, now - self.watermark))
        self.ticked_at = now

    def state_of(self, client_id: str, *, keep: bool = True) -> ClientState | None:
        """The client's state (`ClientStates.state_of`)."""
        return self.states.state_of(client_id, keep=keep)

    def quiet_view(self, client_id: str) -> ClientView:
        """A tenant client with no events: green, no activity (health.quiet_client_view)."""
        return quiet_client_view(
            self.engine, client_id, self.tenant.tenant, self.watermark, self.clock()
        )

    def processed_ids(self, event_ids: Iterable[str]) -> tuple[int, list[str]]:
        """How many of these events are done (applied and their client judged since, so
        their outputs are queued; dead-lettered; or too late); which are not. Judging is
        paced, so an event folded a moment ago may still wait for its client's judgement."""
        seen = self.states.seen()
        for state in self._dirty.values():
            seen = seen - state.seen.keys()
        done, missing = 0, []
        for event_id in event_ids:
            if event_id in self.dead_letters or event_id in self.too_late or event_id in seen:
                done += 1
            else:
                missing.append(event_id)
        return done, missing

    def forget(self) -> None:
        """Partitions were revoked: what was held of them is reloaded from the tables."""
        self.states.forget()
        self.join.parking.forget()
        self._dirty.clear()
        self._watermark_recovered = False
        self._replaying = True  # what comes back is replayed from the committed offsets

    def _looks_seen(self, raw: bytes) -> bool:
        """Whether the ids where our own JSON puts them (`"event_id":"…"`, no spaces)
        name an event its client's state holds: a cheap hint, confirmed by
        `_seen_before`; when it misses, the validated event's ids decide."""
        event_id = _field(raw, b'"event_id":"')
        client_id = _field(raw, b'"client_id":"')
        if event_id is None or client_id is None:
            return False
        state = self.states.state_of(client_id)
        return state is not None and event_id in state.seen

    def _count(self, counts: _Counts) -> None:
        """A batch's counts into the metrics, once per label (not once per event)."""
        m = self.metrics
        if counts.duplicates:
            m.duplicates.inc(counts.duplicates)
        if counts.too_late:
            m.too_late.inc(counts.too_late)
        for kind, n in counts.events.items():
            m.at(m.events, kind).inc(n)
        for work_class, n in counts.work_items.items():
            m.at(m.work_items, work_class.value).inc(n)

    def _seen_before(self, raw: bytes) -> bool:
        """An event its client's state already holds (a redelivery, or the journal replayed
        into a new broker), found without validating the whole event."""
        try:
            head = orjson.loads(raw)
            client_id, event_id = head["client_id"], head["event_id"]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            return False  # the full parse says what is wrong
        if not isinstance(client_id, str) or not isinstance(event_id, str):
            return False
        state = self.states.state_of(client_id)
        return state is not None and event_id in state.seen

    def _fold(
        self,
        event: CanonicalEvent,
        touched: dict[str, ClientState],
        received: dict[str, list[float]],
        work: list[WorkItem],
    ) -> None:
        owned = self.join.attribute(event)
        if owned is None:
            return  # parked until its ticket arrives
        event = owned
        client_id = event.client_id
        state = touched.get(client_id)
        if state is None:
            state = touched[client_id] = self.states.state_of(client_id) or ClientState(client_id)
        applied = self.engine.apply(state, event, self.watermark)
        counts = self._counts
        if applied.duplicate:
            counts.duplicates += 1
            return
        self.watermark = max(self.watermark, ts(event.occurred_at))
        self.processed += 1
        kind = event.payload.kind
        counts.events[kind] = counts.events.get(kind, 0) + 1
        if applied.too_late:
            self.too_late.add(event.event_id)
            counts.too_late += 1
        received.setdefault(client_id, []).append(ts(event.received_at))
        work.extend(applied.work)
        if isinstance(event.payload, Ticket) or event.ref.entity == "ticket":
            # A ticket, or a ticket the tenant's `ticket_purpose` made a review meeting or
            # a recommendation: entries booked on it wait for it either way.
            for parked in self.join.ticket_folded(str(event.ref), client_id):
                self._fold(parked, touched, received, work)

    def _judge(self, state: ClientState, now: float) -> bool:
        """Queue what changed; True when the state changed and must be written."""
        if not self.engine.is_known(state.client_id):
            return False  # no account lead, no health: ingest flags unknown clients
        judgement = self.engine.judge(state, self.tenant.tenant, self.watermark, now)
        self._judged_at[state.client_id] = self.watermark
        for signal in judgement.signals:
            self.outbox.add(topics.SIGNALS, state.client_id.encode(), _json(signal))
            self.metrics.signals.labels(
                behaviour=signal.behaviour.value, status=signal.status.value
            ).inc()
        if judgement.health is not None:
            self.outbox.add(topics.HEALTH, state.client_id.encode(), _json(judgement.health))
        self.views[state.client_id] = judgement.view
        if self.metrics.owns(state.client_id):
            self.metrics.show(judgement.view)
        return judgement.dirty

    def _judge_dirty(self, now: float, written: Mapping[str, ClientState] = {}) -> None:
        """Judge every client changed since the last pass; record ingest-to-health latency.

        Clients in `written` are about to be written by the caller; others that the
        judgement changed are written here.
        """
        for client_id, state in self._dirty.items():
            try:
                if self._judge(state, now) and client_id not in written:
                    self.states.write(state)
            except Exception:
                log.exception("judging client %s failed", client_id)
        done = self.clock()
        for stamps in self._waiting.values():
            for stamp in stamps:
                self.metrics.latency.observe(max(0.0, done - stamp))
        self._dirty.clear()
        self._waiting.clear()
        self._judged_wall = done

    def _dead_letter(self, raw: bytes, reason: str, message: str, event_id: str | None) -> None:
        self.failed += 1
        self.metrics.failed.labels(reason=reason).inc()
        if event_id:
            self.dead_letters.add(event_id)
        headers = {
            topics.H_ERROR_STAGE: b"classifier",
            topics.H_ERROR_REASON: reason.encode(),
            topics.H_ERROR_MESSAGE: message[:2000].encode(),
        }
        if event_id:
            headers[topics.H_EVENT_ID] = event_id.encode()
        self.outbox.add(topics.DLQ, None, raw, list(headers.items()))

    def _recover_watermark(self) -> None:
        """After a restart the watermark is the newest event time the states remember."""
        if self._watermark_recovered:
            return
        self._watermark_recovered = True
        for head in self.states.heads().values():
            self.watermark = max(self.watermark, head["newest"])


class _Counts:
    """What one batch adds to the metrics' counters."""

    __slots__ = ("duplicates", "events", "too_late", "work_items")

    def __init__(self) -> None:
        self.duplicates = 0
        self.too_late = 0
        self.events: dict[str, int] = {}  # by kind
        self.work_items: dict[WorkClass, int] = {}


def _field(raw: bytes, key: bytes) -> str | None:
    """The string value after `key` when it has no escapes (else None: let a parser say)."""
    start = raw.find(key)
    if start < 0:
        return None
    start += len(key)
    end = raw.find(b'"', start)
    if end < 0:
        return None
    value = raw[start:end]
    if b"\\" in value:
        return None
    try:
        return value.decode()
    except UnicodeDecodeError:
        return None


def _json(model: BaseModel) -> bytes:
    # The bytes model_dump_json() decodes to a str, without the decode and encode.
    return model.__pydantic_serializer__.to_json(model)
