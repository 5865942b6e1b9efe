"""Per-client state: what the classifier remembers about one client.

Plain dataclasses over epoch seconds, so the events of many batches update one
object and the Faust table writes it once per checkpoint (one changelog record
per client). `to_json`/`from_json` give a compact, versioned form for the changelog;
`to_json` is a snapshot that later changes to the state do not alter.
Records older than the retention horizon are pruned by `prune`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields
from operator import attrgetter
from typing import Any, ClassVar

STATE_VERSION = 2
DAY = 86400.0
HOUR = 3600.0
PRUNE_EVERY = 7 * DAY


@dataclass
class TicketRec:
    ref: str
    created: float
    updated: float  # event time of the newest event merged in
    number: str | None = None
    summary: str | None = None
    nature: str = "unknown"
    channel: str = "unknown"
    priority: str = "unknown"
    entered_by_role: str | None = None
    entered_by: str | None = None
    addressed_to_role: str | None = None
    addressed_to: str | None = None
    issue_started: float | None = None
    rmm_alert_id: str | None = None
    devices: list[str] = field(default_factory=list)  # device identity keys (devices.py)
    site: str | None = None  # lower-cased
    location: str = "unknown"
    # labels, recomputed on every merge
    initiator: str = "unknown"
    work_class: str = "reactive"
    rule: str = ""
    event_id: str = ""
    board: str | None = None  # board / queue / ticket type, as the source names it
    follows: str | None = None  # the earlier ticket this one is linked to (a follow-up)


@dataclass
class WorkRec:
    """A time entry or a visit."""

    ref: str
    kind: str  # time_entry | visit
    at: float  # started / starts
    event_id: str
    hours: float = 0.0
    nature: str = "unknown"
    ticket_ref: str | None = None
    location: str = "unknown"
    booked: float | None = None
    no_ticket: bool = False  # time logged with no ticket (direct-to-tech evidence)
    technician: str | None = None


@dataclass
class AlertRec:
    ref: str
    at: float
    devices: list[str]  # device identity keys (devices.py)
    site: str | None
    severity: str = "info"
    message: str | None = None
    category: str | None = None
    resolved: float | None = None  # the first reset after it fired
    pending: bool = False  # only its reset has arrived so far


@dataclass
class ChangeRec:
    ref: str
    at: float
    change: str
    device: str
    tool: str | None = None
    keys: list[str] = field(default_factory=list)  # device identity keys (devices.py)
    device_type: str | None = None
    user: str | None = None


@dataclass
class MeetingRec:
    ref: str
    starts: float
    updated: float
    status: str = "scheduled"
    kind: str = "meeting"
    title: str | None = None
    cancelled_by: str | None = None
    changed: float | None = None
    client_reschedules: int = 0


@dataclass
class RecommendationRec:
    ref: str
    title: str
    updated: float
    status: str = "open"
    presented: float | None = None
    due: float | None = None
    answered: float | None = None


@dataclass
class EmittedSignal:
    signal_id: str
    behaviour: str
    version: int
    evidence: list[str]  # every ref of the episode as last emitted
    status: str
    severity: str
    first: float
    last: float


@dataclass
class DayTotals:
    """One event-time day of a client, kept after its records are pruned (daily.py)."""

    day: int  # days since the epoch
    hours_proactive: float = 0.0
    hours_reactive: float = 0.0
    visits_proactive: int = 0
    visits_reactive: int = 0
    visits_onsite: int = 0
    tickets: int = 0
    tickets_reactive: int = 0
    alerts: int = 0
    evidence: dict[str, int] = field(default_factory=dict)  # behaviour -> findings that day

    @property
    def empty(self) -> bool:
        return not (
            self.hours_proactive
            or self.hours_reactive
            or self.visits_proactive
            or self.visits_reactive
            or self.tickets
            or self.alerts
            or self.evidence
        )


@dataclass
class HealthMemo:
    seq: int = 0
    score: float | None = None
    band: str | None = None
    components: dict[str, float] = field(default_factory=dict)
    as_of_day: int | None = None
    daily_scores: dict[str, float] = field(default_factory=dict)  # day ordinal -> score


@dataclass
class ClientState:
    client_id: str
    seen: dict[str, float] = field(default_factory=dict)  # event_id -> event time
    tickets: dict[str, TicketRec] = field(default_factory=dict)
    work: dict[str, WorkRec] = field(default_factory=dict)
    alerts: dict[str, AlertRec] = field(default_factory=dict)
    changes: dict[str, ChangeRec] = field(default_factory=dict)
    meetings: dict[str, MeetingRec] = field(default_factory=dict)
    recommendations: dict[str, RecommendationRec] = field(default_factory=dict)
    devices: dict[str, float] = field(default_factory=dict)  # RMM device id -> last seen
    signals: dict[str, EmittedSignal] = field(default_factory=dict)
    daily: dict[str, DayTotals] = field(default_factory=dict)  # day ordinal -> totals
    health: HealthMemo = field(default_factory=HealthMemo)
    # Not persisted: an index rebuilt on first use after a restart.
    _by_ticket: dict[str, set[str]] | None = field(default=None, repr=False, compare=False)
    _pruned_at: float = field(default=0.0, repr=False, compare=False)
    # Event-time days whose records changed since the last checkpoint took them (None:
    # any day may have): the checkpoint re-encodes only those (domain/layout.py).
    _touched: set[int] | None = field(default_factory=set, repr=False, compare=False)
    # Not persisted: the tenant file's review_cadence (days), set by the engine.
    review_cadence_days: float | None = field(default=None, repr=False, compare=False)

    _RECORDS: ClassVar[dict[str, type[Any]]] = {
        "tickets": TicketRec,
        "work": WorkRec,
        "alerts": AlertRec,
        "changes": ChangeRec,
        "meetings": MeetingRec,
        "recommendations": RecommendationRec,
        "signals": EmittedSignal,
        "daily": DayTotals,
    }

    def to_json(self) -> dict[str, Any]:
        """Compact JSON: each record as the list of its field values, in field order."""
        # A snapshot: the containers the engine changes in place are copied (records are
        # tuples here, and the lists in records are replaced, never changed in place).
        health = [getattr(self.health, n) for n in _FIELDS[HealthMemo]]
        out: dict[str, Any] = {
            "v": STATE_VERSION,
            "client_id": self.client_id,
            "seen": dict(self.seen),
            "devices": dict(self.devices),
            "health": [dict(v) if isinstance(v, dict) else v for v in health],
        }
        for name, rec in self._RECORDS.items():
            values = _VALUES[rec]  # a C-level getter: this runs for every record, every batch
            out[name] = {key: values(r) for key, r in getattr(self, name).items()}
        return out

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> ClientState:
        if raw.get("v") != STATE_VERSION:
            raise ValueError(f"client state version {raw.get('v')!r} is not {STATE_VERSION}")
        state = cls(client_id=raw["client_id"], seen=dict(raw["seen"]), devices=raw["devices"])
        for name, rec in cls._RECORDS.items():
            setattr(state, name, {k: rec(*values) for k, values in raw[name].items()})
        state.health = HealthMemo(*raw["health"])
        return state

    def touch(self, *times: float | None) -> None:
        """The records filed under the days of these event times changed."""
        if self._touched is not None:
            self._touched.update(int(t // DAY) for t in times if t is not None)

    def touch_day(self, at: float) -> None:
        """The records filed under the day of this event time changed (`touch` of one)."""
        if self._touched is not None:
            self._touched.add(int(at // DAY))

    def touch_record(self, collection: str, ref: str) -> None:
        """The record `ref` of `collection` is about to change or changed."""
        rec = getattr(self, collection).get(ref)
        if rec is not None:
            self.touch_day(FILED_BY[collection](rec))

    def take_touched(self) -> set[int] | None:
        """The days changed since the last call (None: any), and start afresh."""
        touched, self._touched = self._touched, set()
        return touched

    def work_of_ticket(self, ticket_ref: str) -> list[str]:
        """Refs of the time entries and visits that serve this ticket."""
        if self._by_ticket is None:
            self._by_ticket = {}
            for ref, w in self.work.items():
                if w.ticket_ref:
                    self._by_ticket.setdefault(w.ticket_ref, set()).add(ref)
        refs = self._by_ticket.get(ticket_ref)
        if not refs:
            return []
        return sorted(r for r in refs if r in self.work)

    def put_work(self, rec: WorkRec) -> None:
        self.work[rec.ref] = rec
        if self._by_ticket is not None and rec.ticket_ref:
            self._by_ticket.setdefault(rec.ticket_ref, set()).add(rec.ref)

    @property
    def pruned_at(self) -> float:
        """The horizon of the last pruning (0: not pruned since loaded)."""
        return self._pruned_at

    def prune_due(self, horizon: float) -> bool:
        return horizon - self._pruned_at >= PRUNE_EVERY

    def prune(self, horizon: float, totals_horizon: float | None = None) -> bool:
        """Forget what lies before `horizon` (event time): no window reaches it; and the
        daily totals before `totals_horizon` (None: keep them).

        At most once per week of event time: a week's worth of old records is cheap to
        keep (windows filter by time), and rebuilding every record table is not.
        """
        if not self.prune_due(horizon):
            return False
        self._pruned_at = horizon
        before = self._size()
        dropped: set[int] = set()  # the days whose parts lose records
        seen = {k: t for k, t in self.seen.items() if t >= horizon}
        if len(seen) != len(self.seen):
            dropped.update(int(t // DAY) for t in self.seen.values() if t < horizon)
        self.seen = seen
        self._keep("tickets", lambda t: t.updated >= horizon, dropped)
        self._keep("work", lambda w: w.at >= horizon, dropped)
        self._by_ticket = None
        self._keep("alerts", lambda a: a.at >= horizon, dropped)
        self._keep("changes", lambda c: c.at >= horizon, dropped)
        self._keep("meetings", lambda m: m.updated >= horizon, dropped)
        self._keep("recommendations", lambda r: r.status == "open" or r.updated >= horizon, dropped)
        # Signals, devices and daily totals are parts of their own, rewritten at every plan.
        self.signals = {k: s for k, s in self.signals.items() if s.last >= horizon}
        self.devices = {k: t for k, t in self.devices.items() if t >= horizon}
        if totals_horizon is not None:
            keep = int(totals_horizon // DAY)
            self.daily = {k: d for k, d in self.daily.items() if d.day >= keep}
        if self._touched is not None:
            self._touched |= dropped  # only those days' parts change
        return self._size() != before

    def _keep(self, collection: str, alive: Callable[[Any], bool], dropped: set[int]) -> None:
        """Keep the records of `collection` that are `alive`; add the days the others were
        filed under to `dropped`."""
        records: dict[str, Any] = getattr(self, collection)
        kept = {k: r for k, r in records.items() if alive(r)}
        if len(kept) != len(records):
            filed = FILED_BY[collection]
            dropped.update(int(filed(r) // DAY) for k, r in records.items() if k not in kept)
            setattr(self, collection, kept)

    def _size(self) -> int:
        return sum(len(getattr(self, name)) for name in ("seen", "devices", *self._RECORDS))


# The event time each event-level record is filed under (its day's part of the state).
FILED_BY: dict[str, Callable[[Any], float]] = {
    "tickets": attrgetter("created"),
    "work": attrgetter("at"),
    "alerts": attrgetter("at"),
    "changes": attrgetter("at"),
    "meetings": attrgetter("starts"),
    "recommendations": attrgetter("updated"),
}

# Field order of every record type: the compact JSON form lists values in this order.
_FIELDS: dict[type[Any], list[str]] = {
    rec: [f.name for f in fields(rec)] for rec in (*ClientState._RECORDS.values(), HealthMemo)
}
# The values of a record in that order, as a tuple (JSON writes it as a list).
assert all(len(names) > 1 for names in _FIELDS.values()), "attrgetter of one name is no tuple"
_VALUES: dict[type[Any], Callable[[Any], tuple[Any, ...]]] = {
    rec: attrgetter(*names) for rec, names in _FIELDS.items()
}
