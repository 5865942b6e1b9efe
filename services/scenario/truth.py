"""The right answers of a scenario, written from what the personas meant.

Nothing here reads the generated records the way a classifier would, and
nothing comes from the classifier or its policy (no thresholds, windows or
episode gaps): the answers are the intents the play recorded.

- work: every ticket, time entry and visit with the class of what the work was
  (`model.ticket_class`: planned, maintenance, review and project work is
  proactive; break/fix reactive; a request or change proactive only when the
  MSP scheduled it; a visit the class of its ticket, else planned or not);
- signals: one per habit a persona showed (kept or since dropped), with the
  records of every lapse of that habit as evidence; an isolated slip of a
  client without the habit is no signal;
- health: the band an account manager gives from the persona's relationship
  (`Persona.band_for`): no habit kept green, one mild habit yellow, two or
  more or a severe one red; a client with no events at all is green.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from services.events.outputs import Band, Behaviour, WorkClass
from services.scenario.model import Evidence, Records


@dataclass(frozen=True)
class SignalEpisode:
    """A habit a persona showed: one true signal, with the evidence of every lapse."""

    client: str
    behaviour: Behaviour
    evidence: tuple[str, ...]
    first_at: datetime
    last_at: datetime


def signals(evidence: Iterable[Evidence]) -> list[SignalEpisode]:
    """One signal per (client, habit) the persona showed; slips are left out."""
    groups: dict[tuple[str, Behaviour], list[Evidence]] = defaultdict(list)
    for item in evidence:
        if item.habit:
            groups[(item.client, item.behaviour)].append(item)
    out = []
    for (client, behaviour), items in sorted(groups.items()):
        items.sort(key=lambda e: (e.at, e.refs))
        refs = tuple(dict.fromkeys(ref for e in items for ref in e.refs))
        out.append(SignalEpisode(client, behaviour, refs, items[0].at, items[-1].at))
    return out


def shown_habits(evidence: Iterable[Evidence]) -> dict[str, frozenset[Behaviour]]:
    """Per client, the habits it actually showed (a habit its play found no room for in a
    short scenario is not held against it)."""
    shown: dict[str, set[Behaviour]] = defaultdict(set)
    for item in evidence:
        if item.habit:
            shown[item.client].add(item.behaviour)
    return {client: frozenset(behaviours) for client, behaviours in shown.items()}


def work_labels(records: Records) -> dict[str, WorkClass]:
    work: dict[str, WorkClass] = {}
    for ticket in records.tickets:
        if ticket.known_client:
            work[ticket.ref] = ticket.work_class
    for entry in records.time_entries:
        work[entry.ref] = entry.work_class
    for visit in records.visits:
        work[visit.ref] = visit.work_class
    return work


def truth_document(
    *,
    work: dict[str, WorkClass],
    signals: list[SignalEpisode],
    health: dict[str, Band],
    personas: dict[str, str],
) -> dict[str, Any]:
    """truth.json: the format's three keys, plus `personas` (what each client was
    simulated as; an extension evaluators may ignore)."""
    return {
        "work": {ref: str(work[ref]) for ref in sorted(work)},
        "signals": [
            {"client": s.client, "behaviour": str(s.behaviour), "evidence": list(s.evidence)}
            for s in sorted(signals, key=lambda s: (s.client, s.behaviour, s.first_at))
        ],
        "health": {client: str(band) for client, band in sorted(health.items())},
        "personas": dict(sorted(personas.items())),
    }
