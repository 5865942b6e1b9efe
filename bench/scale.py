"""`make bench-scale`: the classifier at an MSP's scale, drained by 1 and by 3 workers.

A history of `--clients` clients over `--days` days (five of them large: 2,500
endpoints, 300 events a day; the others an ordinary small client's day) sits on
the embedded broker's events topic. It is drained by one classifier worker, then,
in a fresh consumer group, by three. Reported:

- events/s of each, and 3 workers / 1 worker;
- the largest client-state record either wrote (the workers' own gauge);
- peak RSS of each worker (VmHWM), and the live state: the bytes of the latest
  record per key of the state changelog (what compaction keeps), and the data dirs;
- recovery: with the three workers caught up and events arriving at `--rate`/s,
  one worker is killed with SIGKILL; the time until the two left have processed
  everything produced up to then (its clients recovered from the changelog);
- the whole embedded stack restarted: a new memory-only broker, the real relay
  replaying ingest's journal of the history into it (leaving out what the worker's
  store covers), and the worker back on its data dir under the new broker's
  incarnation; the time until caught up.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from bench.classifier import AUTH, env_for, write_tenant
from bench.classifier import client_day as small_client_day
from bench.docs import update_section
from services.events import topics
from services.events.models import CanonicalEvent
from services.ingest.journal import Journal, Record
from services.ingest.metrics import RelayMetrics
from services.ingest.relay import Relay
from services.ingest.relay_journal import RelayJournal
from services.ingest.relay_keep import Housekeeping
from services.platform import local_http
from services.platform.process import spawn, stop_processes
from services.runtime import covered
from services.runtime.broker import EmbeddedBroker, free_port
from services.runtime.kafka import ensure_topics
from tests.unit.classifier.streams import large_client_day

REPO = Path(__file__).resolve().parents[1]
MARK_START, MARK_END = "<!-- bench-scale:start -->", "<!-- bench-scale:end -->"
LARGE = 5


def say(message: str) -> None:
    print(f"[bench-scale] {message}", flush=True)


def history(clients: int, days: range, per_day: int, seed: int) -> list[CanonicalEvent]:
    """Every client's events of these days, day by day, from 2026-01-05."""
    rng = random.Random(seed)
    start = datetime(2026, 1, 5, tzinfo=UTC)
    out: list[CanonicalEvent] = []
    for day in days:
        for i in range(clients):
            client = f"c{i:03d}"
            if i < LARGE:  # the test factory's day 0 is 2026-03-02, 56 days after the start
                out += large_client_day(client, day, per_day, 2500, start_day=-56)
            else:
                out += small_client_day(client, day, start, rng)
    return out


def journal_history(path: Path, events: list[CanonicalEvent]) -> None:
    """The history as ingest would have journaled it (one row per accepted event)."""
    journal = Journal(path, max_pending=len(events) + 1, synchronous="NORMAL").open()
    try:
        for start in range(0, len(events), 5000):
            chunk = events[start : start + 5000]
            records = [
                Record(
                    topic=topics.EVENTS,
                    value=e.model_dump_json().encode(),
                    source=e.source.value,
                    key=e.client_id.encode(),
                    event_id=e.event_id,
                )
                for e in chunk
            ]
            asyncio.run(journal.append(records, check_capacity=False))
    finally:
        journal.close()


class JournalRelay:
    """The real relay (in process) over the bench's journal: what `up` starts."""

    _shared_metrics: RelayMetrics | None = None  # one set of collectors per process

    def __init__(self, path: Path) -> None:
        self.journal = RelayJournal(path, synchronous="NORMAL").open()
        if JournalRelay._shared_metrics is None:
            JournalRelay._shared_metrics = RelayMetrics()
        self.metrics = JournalRelay._shared_metrics

    def replay(self, bootstrap: str, data_dir: Path | None, incarnation: str) -> int:
        """Into a new broker, leaving out what the worker's store covers; the rows sent."""
        cover = covered.for_replay(data_dir) if data_dir is not None else None
        self.journal.requeue_all(cover, topic=topics.EVENTS, incarnation=incarnation)
        pending = self.journal.count_pending()
        relay = Relay(self.journal, bootstrap, self.metrics, housekeeping=Housekeeping(0))
        relay.start()
        try:
            while self.journal.count_pending():
                if not relay.alive():
                    raise RuntimeError(f"the relay stopped: {relay.last_error}")
                time.sleep(0.1)
        finally:
            relay.stop()
        return pending

    def close(self) -> None:
        self.journal.close()


def produce(bootstrap: str, values: list[tuple[bytes, bytes]]) -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5, batch_size=65536)
    for key, value in values:
        producer.send(topics.EVENTS, key=key, value=value)
    producer.flush()
    producer.close()


class Group:
    """Classifier workers of one consumer group."""

    def __init__(
        self,
        bootstrap: str,
        tenant: Path,
        work: Path,
        app_id: str,
        ports: list[int],
        incarnation: str,
    ) -> None:
        self.procs: list[subprocess.Popen[bytes]] = []
        self.urls: list[str] = []
        self.dirs: list[Path] = []
        self.ports = ports
        for i, port in enumerate(ports):
            data = work / f"{app_id}-{i}"  # the same app and port: the same RocksDB
            env = env_for(
                data,
                tenant,
                PARTNERPULSE_KAFKA_BOOTSTRAP=bootstrap,
                PARTNERPULSE_CLASSIFIER_PORT=str(port),
                PARTNERPULSE_CLASSIFIER_APP_ID=app_id,
                PARTNERPULSE_BROKER_INCARNATION=incarnation,
                # What `up --classifier-workers N` gives each worker.
                PARTNERPULSE_CLASSIFIER_STANDBY_REPLICAS=str(max(1, len(ports) - 1)),
            )
            self.procs.append(
                spawn(
                    [sys.executable, "-m", "services.cli", "classifier"],
                    cwd=REPO,
                    env=env,
                    log_file=work / f"{app_id}-{i}.log",
                )
            )
            self.urls.append(f"http://127.0.0.1:{port}")
            self.dirs.append(data)

    def status(self, i: int, *, local: bool = False) -> dict[str, Any]:
        headers = {**AUTH, "X-Partnerpulse-Local": "1"} if local else AUTH
        try:
            answer = local_http.get(
                f"{self.urls[i]}/v1/status", headers=headers, trust_env=False, timeout=10
            )
            return dict(answer.json()) if answer.status_code == 200 else {}
        except httpx.HTTPError:
            return {}

    def processed(self, i: int = 0) -> int:
        return int(self.status(i).get("events_processed", 0))

    def missing(self, ids: list[str], via: int = 0) -> list[str]:
        """Which of these events the group has not processed (any worker answers)."""
        try:
            answer = local_http.post(
                f"{self.urls[via]}/v1/processed",
                json={"event_ids": ids},
                headers=AUTH,
                trust_env=False,
                timeout=30,
            )
            return list(answer.json()["missing"]) if answer.status_code == 200 else ids
        except httpx.HTTPError:
            return ids

    def alive(self) -> list[int]:
        return [i for i, p in enumerate(self.procs) if p.poll() is None]

    def wait(self, expect: int, timeout: float, via: int = 0) -> float:
        """Seconds from the first event processed to `expect` processed."""
        first = 0.0
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            done = self.processed(via)
            now = time.monotonic()
            if done and not first:
                first = now
            if done >= expect:
                return now - first
            if not self.alive():
                raise RuntimeError("every worker stopped")
            time.sleep(0.1)
        raise RuntimeError(f"not drained in {timeout:.0f} s ({self.processed(via)} of {expect})")

    def caught_up(self, timeout: float) -> None:
        """Until the group has processed every event of its partitions."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.status(0).get("behind") == 0:
                return
            time.sleep(0.2)
        raise RuntimeError(f"not caught up in {timeout:.0f} s: {self.status(0)}")

    def largest_record(self, i: int) -> float:
        text = local_http.get(f"{self.urls[i]}/metrics", timeout=10).text
        for line in text.splitlines():
            if line.startswith("partnerpulse_classifier_state_record_max_bytes "):
                return float(line.split()[1])
        return 0.0

    def peak_rss(self, i: int) -> int:
        for line in Path(f"/proc/{self.procs[i].pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
        return 0

    def stop(self) -> None:
        stop_processes(self.procs, 60)


@contextmanager
def group(
    bootstrap: str, tenant: Path, work: Path, app_id: str, ports: list[int], incarnation: str
) -> Iterator[Group]:
    g = Group(bootstrap, tenant, work, app_id, ports, incarnation)
    try:
        yield g
    finally:
        g.stop()


def live_state_bytes(bootstrap: str, app_id: str) -> tuple[int, int]:
    """Bytes and records of the latest value per key of the state changelog."""
    topic = f"{app_id}-client-state-changelog"
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, consumer_timeout_ms=5000)
    partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
    consumer.assign(partitions)
    consumer.seek_to_beginning()
    ends = consumer.end_offsets(partitions)
    latest: dict[bytes, int] = {}
    for record in consumer:
        if record.value is None:
            latest.pop(record.key, None)
        else:
            latest[record.key] = len(record.value)
        if all(consumer.position(tp) >= ends[tp] for tp in partitions):
            break
    consumer.close()
    return sum(latest.values()), len(latest)


def dir_bytes(paths: list[Path]) -> int:
    return sum(f.stat().st_size for p in paths if p.exists() for f in p.rglob("*") if f.is_file())


def kill_recovery(
    bootstrap: str, g: Group, live: list[tuple[bytes, bytes]], ids: list[str], rate: int
) -> float:
    """Events arrive at `rate`/s; one worker is killed; seconds until the others have
    processed every event produced up to 2 s after the kill (those of the killed worker's
    partitions wait for the group to notice, and for their new owners to recover its
    clients from the changelog)."""
    sent = 0
    stop = threading.Event()

    def feed() -> None:
        nonlocal sent
        producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
        for key, value in live:
            if stop.is_set():
                break
            producer.send(topics.EVENTS, key=key, value=value)
            sent += 1
            time.sleep(1 / rate)
        producer.flush()
        producer.close()

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    time.sleep(10)
    victim = max(g.alive())
    g.procs[victim].kill()
    killed_at = time.monotonic()
    time.sleep(2)  # events that reach the dead worker's partitions wait for their new owner
    wanted = ids[:sent]
    say(f"killed worker {victim + 1} with SIGKILL ({len(wanted)} live events to see processed)")
    try:
        deadline = killed_at + 300
        while time.monotonic() < deadline:
            if not g.missing(wanted):
                return time.monotonic() - killed_at
            time.sleep(0.2)
        raise RuntimeError("the group did not catch up within 300 s of the kill")
    finally:
        stop.set()
        feeder.join(30)


def render(r: dict[str, Any], args: argparse.Namespace) -> str:
    mb = 1024 * 1024
    rows = "\n".join(
        f"| {name} | {d['rate']:.0f} | {d['largest'] / 1024:.1f} KiB | "
        f"{', '.join(f'{x / mb:.0f}' for x in d['rss'])} MiB | {d['state'] / mb:.1f} MiB "
        f"in {d['records']} records | {d['disk'] / mb:.1f} MiB |"
        for name, d in (("1 worker", r["one"]), ("3 workers", r["three"]))
    )
    return f"""{MARK_START}
## Scale (`make bench-scale`)

Measured {r["when"]} on this project's 2-core machine with
`python -m bench.scale --clients {args.clients} --days {args.days} --large-per-day {args.per_day} --rate {args.rate}`
(what `make bench-scale` runs): {r["events"]} events of {args.clients} clients over {args.days}
days, {LARGE} of them with 2,500 endpoints and {args.per_day} events a day, on the embedded
broker.

| drained by | events/s | largest state record | peak RSS per worker | live state (changelog, compacted) | data dirs |
|---|---|---|---|---|---|
{rows}

**3 workers / 1 worker: {r["three"]["rate"] / r["one"]["rate"]:.2f}.** Three workers share
this machine's two cores with the broker and the benchmark itself, so the figure says
what a group costs and gains on one small machine (rebalances, standby replicas reading
the changelog), not what three machines would give.

**Recovery after a SIGKILL** of one of the three workers while events arrive at
{args.rate}/s: the two left had processed everything produced up to 2 s after the kill
{r["kill"]:.1f} s after it (the dead member's session times out after 10 s; its partitions
are recovered from the changelog by their new owners).

**Whole embedded stack restarted**: a new memory-only broker (every topic empty), the
real relay replaying ingest's journal of the history into it (leaving out the rows the
worker's RocksDB store covers, services/runtime/covered.py: {r["replayed"]} of
{r["events"]} rows sent), and the worker back on its data dir under the new broker's
incarnation: caught up {r["restart"]:.1f} s after the worker started, {r["refolded"]}
events folded again
{MARK_END}"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=500)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--large-per-day", dest="per_day", type=int, default=300)
    parser.add_argument("--rate", type=int, default=200, help="live events/s during the kill")
    parser.add_argument("--write", type=Path, help="Update this markdown file's section.")
    parser.add_argument(
        "--work", type=Path, help="keep the data dirs and the workers' logs here (else a temp dir)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        work = args.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        tenant = write_tenant(work / "tenant.yaml", args.clients, large=LARGE)
        say(f"generating {args.days} days of {args.clients} clients")
        events = history(args.clients, range(args.days), args.per_day, seed=1)
        values = [(e.client_id.encode(), e.model_dump_json().encode()) for e in events]
        after = range(args.days, args.days + 2)  # the days after: live traffic
        later = history(args.clients, after, args.per_day, seed=2)
        live = [(e.client_id.encode(), e.model_dump_json().encode()) for e in later]
        live_ids = [e.event_id for e in later]
        say(f"{len(values)} events; producing them")
        result: dict[str, Any] = {"events": len(values)}
        say("journaling them as ingest would")
        journal_history(work / "journal.sqlite3", events)
        relay = JournalRelay(work / "journal.sqlite3")
        with EmbeddedBroker(free_port()) as broker:
            ensure_topics(broker.bootstrap, topics.ALL)
            relay.replay(broker.bootstrap, None, "first")  # `up`'s first start: all of it
            one_ports = [free_port()]
            for name, n in (("one", 1), ("three", 3)):
                app_id = f"scale-{n}"
                ports = one_ports if n == 1 else [free_port() for _ in range(n)]
                with group(broker.bootstrap, tenant, work, app_id, ports, "first") as g:
                    seconds = g.wait(len(values), timeout=3600)
                    rate = len(values) / seconds
                    say(f"{n} worker(s): {rate:.0f} events/s")
                    time.sleep(6)  # a checkpoint after the last batch
                    state, records = live_state_bytes(broker.bootstrap, app_id)
                    result[name] = {
                        "rate": rate,
                        "largest": max(g.largest_record(i) for i in g.alive()),
                        "rss": [g.peak_rss(i) for i in g.alive()],
                        "state": state,
                        "records": records,
                        "disk": dir_bytes(g.dirs),
                    }
                    if n == 3:
                        result["kill"] = kill_recovery(
                            broker.bootstrap, g, live, live_ids, args.rate
                        )
                        say(f"caught up {result['kill']:.1f} s after the kill")
        # The whole embedded stack restarted: a new (empty) broker, the relay's replay of
        # the journal into it (leaving out what the worker's store covers), and the one
        # worker back on its data dir (RocksDB) under the new incarnation.
        with EmbeddedBroker(free_port()) as broker:
            ensure_topics(broker.bootstrap, topics.ALL)
            started = time.monotonic()
            with group(broker.bootstrap, tenant, work, "scale-1", one_ports, "second") as g:
                result["replayed"] = relay.replay(broker.bootstrap, work / "scale-1-0", "second")
                g.caught_up(timeout=3600)
                result["restart"] = time.monotonic() - started
                result["refolded"] = g.processed(0)
            say(
                f"whole stack restarted: caught up in {result['restart']:.1f} s, "
                f"{result['replayed']} journal rows replayed, "
                f"{result['refolded']} events folded again"
            )
        relay.close()
    result["when"] = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    section = render(result, args)
    print(section)
    if args.write:
        update_section(args.write, section)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    sys.exit(main())
