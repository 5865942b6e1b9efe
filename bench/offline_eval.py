"""Offline replay of a scenario: a cheap stand-in for `partnerpulse evaluate` while tuning.

Every delivery goes through ingest's real adapters (normalise only: no HTTP, no
signature check, no broker) and the classifier's real `Processor` (the same fold,
schedule join and judging as the agent, with in-memory ports and a fake clock), in
delivery order; the outputs are scored with `evaluate`'s own scoring and ambiguity
report. It is not the acceptance (that is `evaluate`, through the whole pipeline),
and it says nothing of loss or duplication: the accounting it prints is empty.

    .venv/bin/python -m bench.offline_eval var/acc-s3
    .venv/bin/python -m bench.offline_eval var/acc-s3 --judge-every 200   # judged paced

By default the clients are judged once, at the end (what a replay that outruns the
classifier's judge interval gets); `--judge-every N` judges the changed clients after
every N events, as a live classifier does while the replay trickles in.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from rich.console import Console

from services.classifier.domain.schedule_join import MemoryParking, ScheduleJoin
from services.classifier.metrics import ClassifierMetrics
from services.classifier.processor import Processor
from services.classifier.settings import ClassifierSettings
from services.classifier.states import ClientStates
from services.events import topics
from services.events.outputs import Signal, WorkItem
from services.events.tenant import Tenant
from services.ingest.adapters import ADAPTERS
from services.ingest.adapters.base import AdapterError, Delivery
from services.scenario import ambiguity, scoring
from services.scenario.files import ScenarioFiles, load_scenario
from services.scenario.printing import print_report


class _Outbox:
    def __init__(self) -> None:
        self.by_topic: dict[str, list[bytes]] = {}

    def add(self, topic: str, key: bytes | None, value: bytes, headers: Any = None) -> None:
        self.by_topic.setdefault(topic, []).append(value)


def normalise(files: ScenarioFiles) -> tuple[list[bytes], Counter[str]]:
    """The canonical events of every delivery, in delivery order, once each."""
    events: list[bytes] = []
    seen: set[str] = set()
    answers: Counter[str] = Counter()
    for d in files.deliveries:
        headers = {k.lower(): v for k, v in d.headers.items()}
        delivery = Delivery(d.source, d.body, headers, *([d.at] if d.at else []))
        try:
            out = ADAPTERS[d.source].normalise(delivery, files.tenant)
        except AdapterError as exc:
            answers[f"{exc.status_code}"] += 1
            continue
        answers["202"] += 1
        for event in out.events:
            if event.event_id not in seen:
                seen.add(event.event_id)
                events.append(event.model_dump_json().encode())
    return events, answers


def replay_tenant(tenant: Tenant) -> Tenant:
    """As `evaluate.replay_tenant`: ingest's event-time checks against the wall clock off
    (a scenario is recorded history)."""
    freshness = tenant.webhooks.freshness.model_copy(
        update={"max_event_age_hours": None, "max_event_ahead_hours": None}
    )
    webhooks = tenant.webhooks.model_copy(update={"freshness": freshness})
    return tenant.model_copy(update={"webhooks": webhooks})


def replay(files: ScenarioFiles, judge_every: int) -> tuple[Processor, _Outbox, list[bytes]]:
    clock = [1_000_000.0]
    tenant = replay_tenant(files.tenant)
    states = ClientStates({})
    outbox = _Outbox()
    settings = ClassifierSettings(classifier_judge_interval=1.0, classifier_live_judge_interval=1.0)
    proc = Processor(
        settings,
        tenant,
        states=states,
        join=ScheduleJoin(states, MemoryParking()),
        outbox=outbox,
        metrics=ClassifierMetrics([]),
        clock=lambda: clock[0],
    )
    proc.metrics.own(c.id for c in tenant.clients)
    events, _ = normalise(files)
    step = judge_every or len(events) or 1
    for i in range(0, len(events), step):
        clock[0] += 0.5  # below the judge interval: folded only
        for j in range(i, min(i + step, len(events)), 100):
            proc.handle(events[j : min(j + 100, i + step, len(events))], caught_up=False)
        clock[0] += 1.0
        proc.handle([], caught_up=True)  # judged
    clock[0] += settings.classifier_tick_seconds + 1.0
    proc.tick()
    return proc, outbox, events


def run(folder: Path, judge_every: int, console: Console) -> scoring.Report:
    files = load_scenario(folder)
    proc, outbox, events = replay(files, judge_every)
    best: dict[str, Signal] = {}
    for raw in outbox.by_topic.get(topics.SIGNALS, []):
        s = Signal.model_validate_json(raw)
        if s.signal_id not in best or s.version >= best[s.signal_id].version:
            best[s.signal_id] = s
    work: dict[str, WorkItem] = {}
    for raw in outbox.by_topic.get(topics.WORK, []):
        item = WorkItem.model_validate_json(raw)
        work[item.ref] = item
    views = {c: proc.views.get(c) or proc.quiet_view(c) for c in files.truth.health}
    truth = files.truth
    accounting = scoring.account(
        [], published=[], unprocessed=[], dead_lettered=[], work_refs_published=[], labelled_refs=[]
    )
    report = scoring.score(
        truth,
        work={r: scoring.PredictedWork(r, w.work_class.value, w.rule) for r, w in work.items()},
        signals=[
            scoring.PredictedSignal(
                s.signal_id,
                s.client_id,
                s.behaviour.value,
                frozenset(e.ref for e in s.evidence),
                s.status,
                s.explanation,
            )
            for s in best.values()
        ],
        bands={c: v.band for c, v in views.items()},
        band_scores={c: v.score for c, v in views.items()},
        accounting=accounting,
    )
    report.ambiguity = ambiguity.analyse(
        truth,
        [
            ambiguity.Seen(
                s.client_id,
                s.behaviour.value,
                s.signal_id,
                tuple(ambiguity.Evidence(e.ref, e.at.timestamp(), e.note) for e in s.evidence),
                s.evidence_count,
            )
            for s in best.values()
        ],
        files.tenant.classifier,
        ambiguity.facts_from_events(events),
        {c: ambiguity.ClientView(v.band, v.score, v.components) for c, v in views.items()},
    )
    print_report(report, console, folder)
    if proc.dead_letters:
        console.print(
            f"[red]{len(proc.dead_letters)} event(s) dead-lettered by the classifier[/red]"
        )
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", type=Path)
    parser.add_argument("--judge-every", type=int, default=0, help="events between judgements")
    args = parser.parse_args(argv)
    report = run(args.scenario, args.judge_every, Console(width=160))
    return 1 if [f for f in report.failures() if "band" not in f] else 0


if __name__ == "__main__":
    sys.exit(main())
