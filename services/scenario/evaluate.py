"""`partnerpulse evaluate`: replay a scenario through a pipeline and score what it published.

By default the pipeline is one of its own (`stack.Stack`: the scenario's tenant
file, a temporary data directory, free ports); `--ingest-url`,
`--classifier-url` and `--bootstrap` point at one already running instead,
which must run with the scenario's tenant file (its secrets and clients).
"""

from __future__ import annotations

import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import yaml
from rich.console import Console

from services.events import topics
from services.scenario import ambiguity, collect, scoring
from services.scenario.files import ScenarioFiles
from services.scenario.polled import CatchUpError, PolledReplay
from services.scenario.printing import print_report
from services.scenario.replay import (
    KEY_FILE_ENV,
    Hooks,
    Outcome,
    ReplayStopped,
    key_urls,
    replay,
    vendor_key_urls,
    write_key_file,
)
from services.scenario.stack import Endpoints, Ports, Stack
from services.scenario.watch import Monitor
from services.scenario.watchdog import WatchPolicy

__all__ = ["EvaluationError", "evaluate", "own_stack", "print_report", "run", "score_run"]

WORK_KINDS = ("ticket", "time_entry", "visit")


class EvaluationError(RuntimeError):
    """The evaluation could not finish; the message says what happened and where to look."""


@dataclass(frozen=True)
class Run:
    """One replay through a pipeline, and what came out of it."""

    outcomes: list[Outcome]
    processed: collect.Processed
    accepted: list[str]


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


@dataclass(frozen=True)
class OwnStack:
    endpoints: Endpoints
    folder: Path
    stack: Stack
    polled: PolledReplay | None = None  # the scenario's api.jsonl, served and polled


def replay_tenant(tenant_file: Path, folder: Path, polled: PolledReplay | None = None) -> Path:
    """The scenario's tenant file for a replay: as written, but with ingest's event-time
    checks against the wall clock (webhooks.freshness) off. A scenario is recorded
    history: its deliveries carry their vendors' times of then (or of a simulated year
    that runs past today), which those checks compare with the moment of the replay."""
    raw = yaml.safe_load(tenant_file.read_text()) or {}
    webhooks = raw.setdefault("webhooks", {}) or {}
    raw["webhooks"] = webhooks
    freshness = webhooks.get("freshness") or {}
    freshness["max_event_age_hours"] = None
    freshness["max_event_ahead_hours"] = None
    webhooks["freshness"] = freshness
    if polled is not None:  # poll the stand-ins of the scenario's api.jsonl
        raw = polled.tenant_document(raw)
    path = folder / "tenant.replay.yaml"
    folder.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(raw, sort_keys=False, allow_unicode=True))
    return path


@contextmanager
def own_stack(
    files: ScenarioFiles,
    console: Console,
    *,
    ports: Ports | None = None,
    data_dir: Path | None = None,
    keep: bool = False,
    policy: WatchPolicy | None = None,
    serve_keys: bool = True,
) -> Iterator[OwnStack]:
    """Start `partnerpulse up` with the scenario's tenant file; stop it afterwards.

    The stack runs in its own session (Ctrl+C reaches it through us): a SIGTERM to
    this process stops it too, as Ctrl+C does, rather than leaving it running.
    Its ingest answers every ConnectWise key_url of the scenario (vendor hosts too)
    with the scenario's signing key, from a key file (`serve_keys`). A service that
    crash-loops while it starts ends the wait with its last errors. A scenario with an
    api.jsonl gets the vendor API stand-ins serving it and a poller polling them
    (`polled.PolledReplay`).
    """
    folder = data_dir or Path(tempfile.mkdtemp(prefix="partnerpulse-evaluate-"))
    env = {}
    if serve_keys and key_urls(files.deliveries):
        env[KEY_FILE_ENV] = str(write_key_file(files.deliveries, folder / "connectwise-keys.json"))
    polled = PolledReplay.start(files, folder) if files.api_file is not None else None
    if polled is not None:
        env |= polled.env
        console.print(
            f"api.jsonl: vendor API stand-ins at {polled.standins.url}, polled by the pipeline's "
            f"poller ({', '.join(sorted(polled.polling.sources()))})"
        )
    stack = Stack(replay_tenant(files.tenant_file, folder, polled), folder, ports, env=env)
    console.print(f"starting the pipeline (data and logs in {folder}) ...")
    failed = True
    main = threading.current_thread() is threading.main_thread()  # where handlers go
    previous = signal.signal(signal.SIGTERM, _interrupt) if main else None
    try:
        watcher = Monitor(console, policy=policy, data_dir=stack.data_dir)
        endpoints = stack.start(give_up=watcher.why_stop)
        console.print(
            f"pipeline up: ingest {endpoints.ingest_url}, classifier {endpoints.classifier_url}, "
            f"broker {endpoints.bootstrap}"
        )
        yield OwnStack(endpoints, folder, stack, polled)
        failed = False
    finally:
        stack.stop()
        if polled is not None:
            polled.stop()
        if main:
            signal.signal(signal.SIGTERM, previous or signal.SIG_DFL)
        if failed or keep:
            console.print(f"kept the pipeline's data and logs in {folder}")
        elif data_dir is None:
            shutil.rmtree(folder, ignore_errors=True)


def run(
    files: ScenarioFiles,
    endpoints: Endpoints,
    console: Console,
    *,
    concurrency: int = 8,
    timeout: float = 600.0,
    stack: Stack | None = None,
    policy: WatchPolicy | None = None,
    polled: PolledReplay | None = None,
) -> Run:
    """Replay every delivery, then wait until the classifier processed every accepted event.

    Watched all along (`watch.Monitor`): progress at least every few seconds, and a
    service of `stack` crash-looping or a source refused persistently ends the run
    with an `EvaluationError` that says which, its last errors and the counts. With
    `polled`, the replay drives the vendor APIs' clock; after it the pollers catch up
    with the end of the scenario, and their posts count like deliveries."""
    monitor = Monitor(
        console,
        policy=policy,
        data_dir=stack.data_dir if stack is not None else None,
        up_exit_code=stack.exit_code if stack is not None else None,
    )
    vendor = vendor_key_urls(files.deliveries)
    if vendor:
        monitor.hint = (
            f"the scenario's ConnectWise key_urls name vendor hosts (e.g. {vendor[0]}): the "
            f"pipeline must answer them with the scenario's key ({KEY_FILE_ENV}, which "
            "evaluate sets for a pipeline of its own)"
        )
    confirmer = collect.Confirmer(
        endpoints.classifier_url, feed=polled.receipt_ids() if polled is not None else None
    )
    hooks = Hooks(
        answered=monitor.answered,
        finished=monitor.finished,
        accepted=confirmer.add,
        abort=monitor.abort,
        sent=polled.advance if polled is not None else None,
    )
    try:
        with monitor:
            monitor.phase("deliveries sent", len(files.deliveries))
            # Events are confirmed while the replay and the poller's catch-up run (see
            # Confirmer): those of a long scenario asked about only at the end may have
            # been processed and forgotten (the classifier's retention).
            with confirmer:
                outcomes = replay(
                    files.deliveries,
                    files.tenant,
                    endpoints.ingest_url,
                    concurrency=concurrency,
                    hooks=hooks,
                )
                if polled is not None:
                    monitor.phase("polled collections caught up", len(polled.collections()))
                    polled.catch_up(endpoints.poll_url, timeout=timeout, progress=monitor.advance)
                    outcomes += polled.outcomes(max((o.seq for o in outcomes), default=0) + 1)
            accepted = list(dict.fromkeys(i for o in outcomes if o.answered for i in o.event_ids))
            left = confirmer.unconfirmed(accepted)
            monitor.phase("events processed", len(accepted))
            monitor.advance(len(accepted) - len(left))
            waited = collect.wait_processed(
                endpoints.classifier_url, left, timeout=timeout, progress=monitor.advance
            )
            processed = collect.Processed(
                waited.processed + len(accepted) - len(left), waited.missing, waited.waited
            )
            # Judgements that wait for event time to move on come with the next tick.
            collect.wait_judged(endpoints.classifier_url, after=time.time())
    except CatchUpError as exc:
        raise EvaluationError(str(exc)) from None
    except (KeyboardInterrupt, ReplayStopped):
        if monitor.verdict is not None:
            raise EvaluationError(monitor.verdict) from None
        raise
    refused = [o for o in outcomes if o.status == 401]
    if refused:
        first = refused[0]
        raise EvaluationError(
            f"ingest refused {len(refused)} delivery(ies) as unauthenticated (first: seq "
            f"{first.seq}, {first.source}: {first.error}); the pipeline must run with the "
            f"scenario's tenant file ({files.tenant_file})"
        )
    if processed.missing:
        console.print(
            f"[yellow]the classifier had processed {processed.processed} of {len(accepted)} "
            f"accepted events after {processed.waited:.0f}s; {len(processed.missing)} are "
            f"missing (e.g. {processed.missing[0]}): they count as lost. Its log: "
            "logs/classifier.log in the pipeline's data dir[/yellow]"
        )
    return Run(outcomes, processed, accepted)


def score_run(files: ScenarioFiles, endpoints: Endpoints, result: Run) -> scoring.Report:
    """Read the topics and the query API, and score them against the truth."""
    names = (topics.EVENTS, topics.WORK, topics.SIGNALS, topics.DLQ)
    with ThreadPoolExecutor(len(names)) as pool:  # each waits for its topic to settle
        records = pool.map(partial(collect.read_topic, endpoints.bootstrap), names)
        read = dict(zip(names, records, strict=True))
    events = collect.event_summary(read[topics.EVENTS])
    work_items, _ = collect.latest_work(read[topics.WORK])
    signals, _ = collect.latest_signals(read[topics.SIGNALS])
    dead = collect.classifier_dead_letters(read[topics.DLQ])
    clients = {c.get("client_id"): c for c in collect.fetch_clients(endpoints.classifier_url)}

    ours = set(result.accepted)
    truth = files.truth
    scenario_clients = set(truth.health) | {c.id for c in files.tenant.clients}
    published = [e["event_id"] for e in events if e["event_id"] in ours]
    work_refs = {e["ref"] for e in events if e["event_id"] in ours and e["kind"] in WORK_KINDS}
    accounting = scoring.account(
        result.outcomes,
        published=published,
        unprocessed=result.processed.missing,
        dead_lettered=dead,
        work_refs_published=work_refs & set(truth.work),
        labelled_refs=work_items,
        # With api.jsonl, work may reach the pipeline only through the poller: every
        # work record of the truth must come out, whichever path brought it.
        expected_work=set(truth.work) if files.api_file is not None else (),
    )
    report = scoring.score(
        truth,
        work={
            ref: scoring.PredictedWork(ref, item.work_class.value, item.rule)
            for ref, item in work_items.items()
        },
        signals=[
            scoring.PredictedSignal(
                signal_id=s.signal_id,
                client=s.client_id,
                behaviour=s.behaviour.value,
                evidence=frozenset(e.ref for e in s.evidence),
                status=s.status,
                explanation=s.explanation,
            )
            for s in signals
            if s.client_id in scenario_clients
        ],
        bands={c: _band(clients.get(c)) for c in truth.health},
        band_scores={c: _score(clients.get(c)) for c in truth.health},
        accounting=accounting,
    )
    report.ambiguity = ambiguity.analyse(
        truth,
        [
            ambiguity.Seen(
                client=s.client_id,
                behaviour=s.behaviour.value,
                signal_id=s.signal_id,
                evidence=tuple(
                    ambiguity.Evidence(e.ref, e.at.timestamp(), e.note) for e in s.evidence
                ),
                evidence_count=s.evidence_count,
            )
            for s in signals
            if s.client_id in scenario_clients
        ],
        files.tenant.classifier,
        ambiguity.facts_from_events((r.value for r in read[topics.EVENTS]), ours),
        _views(endpoints.classifier_url, clients, truth.health),
    )
    return report


def _views(
    classifier_url: str, rows: dict[Any, dict[str, Any]], judged: Iterable[str]
) -> dict[str, ambiguity.ClientView]:
    """Each judged client's band, score and score components (the query API's detail)."""
    out = {}
    with httpx.Client(timeout=10.0, trust_env=False) as http:
        for client in judged:
            components: dict[str, float] = {}
            try:
                detail = http.get(f"{classifier_url.rstrip('/')}/v1/clients/{client}").json()
                raw = (detail.get("health") or {}).get("components") or {}
                components = {str(k): float(v) for k, v in raw.items()}
            except (httpx.HTTPError, ValueError, AttributeError, TypeError):
                pass  # the band and score are still worth showing
            row = rows.get(client)
            out[client] = ambiguity.ClientView(_band(row), _score(row), components)
    return out


def _band(row: dict[str, Any] | None) -> str | None:
    band = row.get("band") if row else None
    return str(band) if band is not None else None


def _score(row: dict[str, Any] | None) -> float | None:
    value = row.get("score") if row else None
    return float(value) if isinstance(value, int | float) else None


def evaluate(
    files: ScenarioFiles,
    console: Console,
    *,
    endpoints: Endpoints | None = None,
    concurrency: int = 8,
    timeout: float = 600.0,
    keep: bool = False,
    ports: Ports | None = None,
    data_dir: Path | None = None,
    policy: WatchPolicy | None = None,
    serve_keys: bool = True,
) -> scoring.Report:
    if endpoints is not None:
        if vendor_key_urls(files.deliveries):
            folder = Path(tempfile.mkdtemp(prefix="partnerpulse-keys-"))
            keys = write_key_file(files.deliveries, folder / "connectwise-keys.json")
            console.print(
                "[yellow]the scenario's ConnectWise key_urls name vendor hosts: the pipeline "
                f"must run with {KEY_FILE_ENV}={keys} (evaluation only)[/yellow]"
            )
        if files.api_file is not None:
            console.print(
                "[yellow]api.jsonl is not evaluated against a pipeline someone else runs (its "
                "poller must poll the stand-ins evaluate starts): only the deliveries[/yellow]"
            )
        result = run(files, endpoints, console, concurrency=concurrency, timeout=timeout)
        return score_run(files, endpoints, result)
    with own_stack(
        files,
        console,
        keep=keep,
        ports=ports,
        data_dir=data_dir,
        policy=policy,
        serve_keys=serve_keys,
    ) as own:
        result = run(
            files,
            own.endpoints,
            console,
            concurrency=concurrency,
            timeout=timeout,
            stack=own.stack,
            policy=policy,
            polled=own.polled,
        )
        return score_run(files, own.endpoints, result)
