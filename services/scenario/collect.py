"""What the pipeline did with a replay: processed ids, topics read back, the query API.

- `wait_processed` asks the classifier (`POST /v1/processed`) until every
  accepted event is applied or dead-lettered, or the time is up;
- `read_topic` reads a topic from the beginning to its end (then once more,
  until nothing new arrives), with kafka-python;
- `latest_work` and `latest_signals` keep what the output contract says a
  reader keeps: the latest work item per ref, the highest version per signal.

The query API asks for an API token: `authorize(url, token)` names the one to send
to a classifier (`Stack` does it with its pipeline's local token; `evaluate
--token` for a pipeline someone else runs).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
from kafka import KafkaConsumer, TopicPartition
from pydantic import ValidationError

from services.events import topics
from services.events.outputs import Signal, WorkItem
from services.platform import local_http
from services.runtime.auth import bearer

BATCH = 2000
_TOKENS: dict[str, str] = {}  # classifier base URL -> API token


def authorize(classifier_url: str, token: str) -> None:
    """Send `token` (scope read) with every request to the classifier at `classifier_url`."""
    _TOKENS[classifier_url.rstrip("/")] = token


def _headers(classifier_url: str) -> dict[str, str]:
    token = _TOKENS.get(classifier_url.rstrip("/"))
    return bearer(token) if token else {}


def _refused(response: httpx.Response, url: str) -> CollectError | None:
    if response.status_code not in (401, 403):
        return None
    return CollectError(
        f"the classifier refused {url} ({response.status_code}: {response.text[:200]}); "
        "give an API token with scope read (evaluate --token, or PARTNERPULSE_API_TOKEN)"
    )


class CollectError(RuntimeError):
    """The pipeline's outputs could not be read; the message says which and why."""


@dataclass(frozen=True)
class Processed:
    processed: int
    missing: list[str]
    waited: float


def wait_processed(
    classifier_url: str,
    event_ids: Sequence[str],
    *,
    timeout: float,
    progress: Callable[[int], None] | None = None,
    first_answer_within: float = 60.0,
) -> Processed:
    """Poll until the classifier has processed every id (or `timeout` seconds pass).

    A classifier that has not answered once within `first_answer_within` seconds is
    not there: that is an error, not a wait."""
    started = time.monotonic()
    pending = list(dict.fromkeys(event_ids))
    done = 0
    url = f"{classifier_url.rstrip('/')}/v1/processed"
    answered = False
    problem = ""
    with httpx.Client(timeout=30.0, trust_env=False, headers=_headers(classifier_url)) as http:
        while True:
            still: list[str] = []
            for first in range(0, len(pending), BATCH):
                chunk = pending[first : first + BATCH]
                try:
                    response = http.post(url, json={"event_ids": chunk})
                    if (refusal := _refused(response, url)) is not None:
                        raise refusal
                    response.raise_for_status()
                    answer = response.json()
                    still += [str(i) for i in answer["missing"]]
                    answered = True
                except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
                    problem = f"{type(exc).__name__}: {exc}"
                    still += chunk  # not answering yet: ask again
            newly = len(pending) - len(still)
            done += newly
            if progress is not None and newly:
                progress(newly)
            pending = still
            waited = time.monotonic() - started
            if not answered and waited > first_answer_within:
                raise CollectError(
                    f"the classifier does not answer POST {url} ({problem}); is it running, "
                    "and at that address?"
                )
            if not pending or waited > timeout:
                return Processed(done, pending, waited)
            time.sleep(0.5)


def wait_judged(classifier_url: str, *, after: float, timeout: float = 60.0) -> bool:
    """Wait until the classifier's every worker has judged all its clients in a tick that
    started after `after` (epoch seconds): a signal raised only as event time moves on
    (an episode's window) is then on its topic. False when `timeout` passed first."""
    url = f"{classifier_url.rstrip('/')}/v1/status"
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=30.0, trust_env=False, headers=_headers(classifier_url)) as http:
        while time.monotonic() < deadline:
            try:
                if float(http.get(url).json().get("ticked_at", 0.0)) >= after:
                    return True
            except (httpx.HTTPError, ValueError, TypeError, AttributeError):
                pass  # not answering yet
            time.sleep(0.25)
    return False


class Confirmer:
    """Confirms events as processed while the replay still runs.

    The classifier keeps the ids of the events it folded for its retention window (about
    100 days of event time) and no longer: on a scenario longer than that, an event
    asked about only after the replay may have been processed and forgotten. So the ids
    ingest accepts are asked about every `interval` seconds as they come; `unconfirmed`
    then leaves only those to wait for.
    """

    def __init__(
        self,
        classifier_url: str,
        interval: float = 2.0,
        feed: Callable[[], list[str]] | None = None,
    ) -> None:
        """`feed`: called at every interval for more ids to ask about (the poller's
        accepted posts), beside those `add`ed."""
        self._url = classifier_url
        self._interval = interval
        self._feed = feed
        self._lock = threading.Lock()
        self._pending: dict[str, None] = {}
        self._confirmed: set[str] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="confirmer", daemon=True)

    def add(self, event_ids: list[str]) -> None:
        with self._lock:
            self._pending.update(dict.fromkeys(event_ids))

    def __enter__(self) -> Confirmer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(60)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            if self._feed is not None:
                self.add(self._feed())
            with self._lock:
                pending = list(self._pending)
            if not pending:
                continue
            try:
                answer = wait_processed(self._url, pending, timeout=0.0)
            except CollectError:
                continue
            missing = set(answer.missing)
            with self._lock:
                for event_id in pending:
                    if event_id not in missing:
                        self._confirmed.add(event_id)
                        self._pending.pop(event_id, None)

    def unconfirmed(self, event_ids: Sequence[str]) -> list[str]:
        """Of these ids, those not confirmed as processed yet."""
        with self._lock:
            return [i for i in dict.fromkeys(event_ids) if i not in self._confirmed]


@dataclass(frozen=True)
class Record:
    partition: int
    offset: int
    key: str | None
    value: bytes
    headers: dict[str, str]


def read_topic(
    bootstrap: str, topic: str, *, settle: float = 2.0, timeout: float = 120.0
) -> list[Record]:
    """Every record of `topic`, from the beginning to its end once it stops growing."""
    logging.getLogger("kafka").setLevel(logging.CRITICAL)
    try:
        consumer = KafkaConsumer(
            bootstrap_servers=bootstrap, enable_auto_commit=False, request_timeout_ms=30000
        )
    except Exception as exc:  # kafka-python raises NoBrokersAvailable and friends
        raise CollectError(f"cannot reach the broker at {bootstrap}: {exc}") from None
    try:
        partitions = consumer.partitions_for_topic(topic)
        if not partitions:
            raise CollectError(f"topic {topic!r} does not exist on {bootstrap}")
        assigned = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(assigned)
        consumer.seek_to_beginning()
        records: list[Record] = []
        deadline = time.monotonic() + timeout
        stable_since: float | None = None
        last_end: dict[Any, int] = {}
        while time.monotonic() < deadline:
            end = consumer.end_offsets(assigned)
            if all(consumer.position(tp) >= end[tp] for tp in assigned):
                if end == last_end:
                    stable_since = stable_since or time.monotonic()
                    if time.monotonic() - stable_since >= settle:
                        return records
                else:
                    stable_since = None
                last_end = end
                time.sleep(0.25)
                continue
            for batch in consumer.poll(timeout_ms=500).values():
                records.extend(
                    Record(
                        r.partition,
                        r.offset,
                        r.key.decode("utf-8", "replace") if r.key else None,
                        r.value or b"",
                        {k: v.decode("utf-8", "replace") for k, v in r.headers or []},
                    )
                    for r in batch
                )
        raise CollectError(f"reading {topic} did not finish within {timeout:.0f}s")
    finally:
        consumer.close()


def latest_work(records: list[Record]) -> tuple[dict[str, WorkItem], int]:
    """The latest work item per ref (in topic order: one ref stays in one partition),
    and how many records were unreadable."""
    latest: dict[str, WorkItem] = {}
    bad = 0
    for record in sorted(records, key=lambda r: (r.partition, r.offset)):
        try:
            item = WorkItem.model_validate_json(record.value)
        except ValidationError:
            bad += 1
            continue
        latest[item.ref] = item
    return latest, bad


def latest_signals(records: list[Record]) -> tuple[list[Signal], int]:
    best: dict[str, Signal] = {}
    bad = 0
    for record in records:
        try:
            signal = Signal.model_validate_json(record.value)
        except ValidationError:
            bad += 1
            continue
        current = best.get(signal.signal_id)
        if current is None or signal.version >= current.version:
            best[signal.signal_id] = signal
    return sorted(best.values(), key=lambda s: (s.client_id, s.behaviour, s.first_seen_at)), bad


def event_summary(records: list[Record]) -> list[dict[str, Any]]:
    """The canonical events' id, first ref, kind and client (what accounting needs)."""
    out = []
    for record in records:
        try:
            event = json.loads(record.value)
            out.append(
                {
                    "event_id": event["event_id"],
                    "ref": "{source}:{entity}:{id}".format(**event["refs"][0]),
                    "kind": event["payload"]["kind"],
                    "client_id": event["client_id"],
                }
            )
        except (ValueError, KeyError, TypeError, IndexError):
            continue
    return out


def classifier_dead_letters(records: list[Record]) -> set[str]:
    """Event ids the classifier (not ingest) sent to the dead-letter topic."""
    return {
        r.headers[topics.H_EVENT_ID]
        for r in records
        if r.headers.get(topics.H_ERROR_STAGE, "ingest") != "ingest"
        and topics.H_EVENT_ID in r.headers
    }


def fetch_clients(classifier_url: str) -> list[dict[str, Any]]:
    try:
        url = f"{classifier_url.rstrip('/')}/v1/clients"
        response = local_http.get(
            url, timeout=30.0, trust_env=False, headers=_headers(classifier_url)
        )
        if (refusal := _refused(response, url)) is not None:
            raise refusal
        response.raise_for_status()
        clients = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise CollectError(f"GET {classifier_url}/v1/clients failed: {exc}") from None
    if not isinstance(clients, list):
        raise CollectError(f"GET {classifier_url}/v1/clients did not answer a list")
    return [c for c in clients if isinstance(c, dict)]
