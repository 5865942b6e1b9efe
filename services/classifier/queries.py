"""What the classifier's query API answers: pure functions of a worker's views and states.

The routes are in services/classifier/views.py; here, the answers and the checks of
what a request asks (a report period, a list of event ids), and how the answers of
several workers merge into one.
"""

from __future__ import annotations

import math
from dataclasses import asdict
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import orjson

from services.classifier.domain import daily
from services.classifier.domain.engine import dt
from services.classifier.domain.health import work_split
from services.classifier.domain.state import DAY
from services.events.outputs import Signal

if TYPE_CHECKING:
    from services.classifier.service import Classifier

MAX_DAYS = 3660  # ten years: the longest report period asked for
MAX_PROCESSED_BODY_BYTES = 1024 * 1024  # 2,000 event ids (what `evaluate` sends) is ~150 KB
MAX_PROCESSED_IDS = 10_000


def report_days(raw: str) -> float | str:
    """The report period in days, or what is wrong with `raw` (a finite 1..3660)."""
    try:
        days = float(raw)
    except ValueError:
        return f"days must be a number of days from 1 to {MAX_DAYS}, not {raw[:40]!r}"
    if not math.isfinite(days) or not 1 <= days <= MAX_DAYS:
        return f"days must be from 1 to {MAX_DAYS}, not {raw[:40]!r}"
    return days


def processed_ids(body: bytes) -> list[str] | str:
    """The event ids of a /v1/processed body, or what is wrong with it.

    orjson refuses nesting deeper than 1024 and integers beyond 64 bits as errors
    (the standard library would recurse until RecursionError)."""
    usage = 'send {"event_ids": ["...", ...]}'
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        return f"the body is not JSON ({exc}); {usage}"
    ids = document.get("event_ids") if isinstance(document, dict) else None
    if not isinstance(ids, list):
        return f"event_ids: missing or not a list; {usage}"
    if len(ids) > MAX_PROCESSED_IDS:
        return f"event_ids: {len(ids)} ids; ask for at most {MAX_PROCESSED_IDS} at once"
    for i, event_id in enumerate(ids):
        if not isinstance(event_id, str):
            return f"event_ids[{i}]: must be a string, not {type(event_id).__name__}"
    return ids


def status_of(classifier: Classifier) -> dict[str, Any]:
    return {
        "events_processed": classifier.processor.processed,
        "events_failed": classifier.processor.failed,
        "events_too_late": len(classifier.processor.too_late),
        "watermark": _iso(classifier.processor.watermark),
        "clients_judged": len(classifier.processor.views),
        "partitions": sorted(classifier.agent.assigned),
        "behind": classifier.agent.behind(),  # events on its partitions still to process
        # When a tick last judged every client as of the watermark and its outputs were
        # delivered (epoch seconds): what a caller waits for to see, on their topics, the
        # judgements of the events processed before it.
        "ticked_at": classifier.agent.ticked_at,
        # When the last batch of events was handled (epoch seconds; 0: none yet).
        "handled_at": classifier.processor.handled_at,
    }


def merge_status(answers: list[dict[str, Any]]) -> dict[str, Any]:
    """One status of the group from each worker's."""
    merged = dict(answers[0])
    for key in ("events_processed", "events_failed", "events_too_late", "clients_judged"):
        merged[key] = sum(a[key] for a in answers)
    marks = [a["watermark"] for a in answers if a["watermark"]]
    merged["watermark"] = max(marks) if marks else None
    merged["workers"] = len(answers)
    merged["ticked_at"] = min(a.get("ticked_at", 0.0) for a in answers)
    merged["handled_at"] = max(a.get("handled_at", 0.0) for a in answers)
    merged["partitions"] = sorted({p for a in answers for p in a["partitions"]})
    behind = [a.get("behind") for a in answers]
    merged["behind"] = None if None in behind else sum(b for b in behind if b is not None)
    return merged


def merge_rows(rows: list[dict[str, Any]], others: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The client list with another worker's rows for the clients it owns."""
    theirs = {row["client_id"]: row for row in others}
    return [theirs.get(row["client_id"], row) if row["score"] is None else row for row in rows]


def client_list(classifier: Classifier, *, owned_only: bool = False) -> list[dict[str, Any]]:
    """Every tenant client with its health; a client this worker holds no events of is a
    quiet one (green, no activity) when its partition is this worker's, and unjudged
    (None) when it is another worker's. A peer asking (`owned_only`) gets this worker's
    clients only."""
    rows = []
    for client in classifier.tenant.clients:
        view = classifier.processor.views.get(client.id)
        if view is None and classifier.metrics.owns(client.id):
            view = classifier.processor.quiet_view(client.id)
        if view is None and owned_only:
            continue
        window = view.windows.get("90d") if view else None
        rows.append(
            {
                "client_id": client.id,
                "name": client.name,
                "account_lead": client.account_lead.model_dump(),
                "score": view.score if view else None,
                "band": view.band if view else None,
                "change": view.snapshot.change if view else None,
                "proactive_share": window.proactive_share if window else None,
                "rhem": window.rhem if window else None,
                "open_signals": [_signal_line(s) for s in view.open_signals] if view else [],
            }
        )
    return rows


def client_detail(classifier: Classifier, client_id: str, days: float) -> dict[str, Any] | None:
    client = classifier.tenant.client(client_id)
    if client is None:
        return None
    view = classifier.processor.views.get(client_id) or classifier.processor.quiet_view(client_id)
    state = classifier.processor.state_of(client_id, keep=False)
    end = classifier.processor.watermark
    split = (
        work_split(state, end - days * DAY, end, classifier.tenant.classifier)
        if state is not None
        else None
    )
    return {
        "client_id": client_id,
        "name": client.name,
        "account_lead": client.account_lead.model_dump(),
        "health": view.snapshot.model_dump(mode="json") if view else None,
        "signals": [s.model_dump(mode="json") for s in view.signals] if view else [],
        "work": split,
    }


def day_range(raw_from: str | None, raw_to: str | None, watermark: float) -> tuple[int, int] | str:
    """The days of a daily-totals query (default: the 400 days up to the watermark)."""
    try:
        last = _day(raw_to) if raw_to else int(watermark // DAY)
        first = _day(raw_from) if raw_from else last - daily.TOTALS_DAYS + 1
    except ValueError:
        return "from and to are dates: YYYY-MM-DD"
    if first > last:
        return "from is after to"
    if last - first >= daily.TOTALS_DAYS:
        return f"at most {daily.TOTALS_DAYS} days at once"
    return first, last


def client_daily(
    classifier: Classifier, client_id: str, first: int, last: int
) -> dict[str, Any] | None:
    """A client's totals per event-time day: kept 400 days, after the detail is gone."""
    client = classifier.tenant.client(client_id)
    if client is None:
        return None
    state = classifier.processor.state_of(client_id, keep=False)
    days = (
        classifier.processor.engine.daily_totals(state, first, last, classifier.processor.watermark)
        if state is not None
        else []
    )
    return {
        "client_id": client_id,
        "from": dt(first * DAY).date().isoformat(),
        "to": dt(last * DAY).date().isoformat(),
        "days": [
            {"date": dt(d.day * DAY).date().isoformat(), **asdict(d, dict_factory=_no_day)}
            for d in days
        ],
    }


def _day(raw: str) -> int:
    return int(datetime.fromisoformat(raw).replace(tzinfo=UTC).timestamp() // DAY)


def _no_day(items: list[tuple[str, Any]]) -> dict[str, Any]:
    return {k: v for k, v in items if k != "day"}


def _iso(stamp: float) -> str | None:
    return dt(stamp).isoformat() if stamp else None


def _signal_line(signal: Signal) -> dict[str, Any]:
    return {
        "signal_id": signal.signal_id,
        "behaviour": signal.behaviour.value,
        "severity": signal.severity.value,
        "explanation": signal.explanation,
        "evidence_count": signal.evidence_count,
    }
