"""The signals a client's episodes become: stable ids, versions, explanations.

An episode that shares evidence with a signal emitted before keeps that signal's id;
its version moves on only when its evidence, status or severity changed. A signal
whose evidence no longer stands is withdrawn. Pure functions of the state.
"""

from __future__ import annotations

from services.classifier.domain import detectors as det
from services.classifier.domain.state import DAY, ClientState, EmittedSignal
from services.classifier.domain.times import dt
from services.events.outputs import Behaviour, Evidence, Signal, SignalStatus
from services.events.policy import DetectorPolicy
from services.events.wording import WORDS

EVIDENCE_SHOWN = 20  # evidence items a signal carries (the count covers all)


def signal_of(
    state: ClientState,
    tenant: str,
    name: str | None,
    episode: det.Episode,
    policy: DetectorPolicy,
    watermark: float,
    now: float,
) -> tuple[Signal, bool]:
    refs = [f.ref for f in episode.evidence]
    ref_set = set(refs)
    known = next(
        (
            s
            for s in state.signals.values()
            if s.behaviour == episode.behaviour.value and ref_set.intersection(s.evidence)
        ),
        None,
    )
    signal_id = (
        known.signal_id
        if known
        else det.signal_id(state.client_id, episode.behaviour, episode.evidence[0].ref)
    )
    status = SignalStatus.open if episode.open else SignalStatus.resolved
    severity = det.severity(episode, policy)
    changed = known is None or (known.evidence, known.status, known.severity) != (
        refs,
        status.value,
        severity.value,
    )
    version = (known.version if known else 0) + (1 if changed else 0)
    state.signals[signal_id] = EmittedSignal(
        signal_id=signal_id,
        behaviour=episode.behaviour.value,
        version=version,
        evidence=refs,
        status=status.value,
        severity=severity.value,
        first=episode.first,
        last=episode.last,
    )
    signal = Signal(
        tenant=tenant,
        client_id=state.client_id,
        client_name=name,
        signal_id=signal_id,
        version=version,
        behaviour=episode.behaviour,
        severity=severity,
        status=status,
        explanation=explain(episode, name or state.client_id, policy),
        evidence=[
            Evidence(ref=f.ref, at=dt(f.at), note=f.note)
            for f in episode.evidence[-EVIDENCE_SHOWN:]
        ],
        evidence_count=len(episode.evidence),
        first_seen_at=dt(episode.first),
        last_seen_at=dt(episode.last),
        detected_at=dt(now),
    )
    return signal, changed


def withdrawn(
    state: ClientState, tenant: str, name: str | None, gone: EmittedSignal, now: float
) -> Signal:
    return Signal(
        tenant=tenant,
        client_id=state.client_id,
        client_name=name,
        signal_id=gone.signal_id,
        version=gone.version + 1,
        behaviour=Behaviour(gone.behaviour),
        severity=gone.severity,
        status=SignalStatus.withdrawn,
        explanation="Withdrawn: later events showed the evidence did not hold.",
        evidence=[],
        evidence_count=0,
        first_seen_at=dt(gone.first),
        last_seen_at=dt(gone.last),
        detected_at=dt(now),
    )


def explain(episode: det.Episode, client: str, policy: DetectorPolicy) -> str:
    n = len(episode.evidence)
    days = max(1, round((episode.last - episode.first) / DAY))
    span = f"in {days} days" if n > 1 else f"on {dt(episode.last):%Y-%m-%d}"
    latest = episode.evidence[-1].note
    times = "once" if n == 1 else f"{n} times"
    return f"{client}: {WORDS[episode.behaviour].what} ({times} {span}); latest: {latest}."
