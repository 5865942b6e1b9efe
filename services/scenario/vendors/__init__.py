"""Each vendor's webhook bodies for the simulated records (one module per vendor family).

`emissions` turns every record into the bodies its system would send, at the
vendor-side time of each change; nothing after the end of the scenario is
sent. Which channels a PSA can express is part of its format: `CHANNELS`.
"""

from __future__ import annotations

from typing import Any

from services.events.models import Channel, Nature, Source
from services.scenario.model import Records
from services.scenario.vendors import autotask, canonical, connectwise, halopsa, rmm
from services.scenario.vendors.common import Emission, WriterSettings

__all__ = ["CHANNELS", "Emission", "WriterSettings", "emissions", "encoded_nature"]

CHANNELS: dict[Source, frozenset[Channel]] = {
    Source.connectwise: frozenset(connectwise.CHANNELS),
    Source.autotask: frozenset(autotask.CHANNELS),
    Source.halopsa: frozenset(halopsa.CHANNELS),
}


def encoded_nature(source: Source, nature: Nature) -> Nature:
    """The nature the PSA's adapter reads back (Autotask has no planned-work types)."""
    return autotask.encoded_nature(nature) if source is Source.autotask else nature


_PSA_TICKETS = {
    Source.connectwise: connectwise.tickets,
    Source.autotask: autotask.tickets,
    Source.halopsa: halopsa.tickets,
}


def emissions(settings: WriterSettings, records: Records) -> list[Emission]:
    out: list[Emission] = []
    polled: list[tuple[Any, str, dict[str, Any]]] = []
    for ticket in records.tickets:
        out += _PSA_TICKETS[ticket.source](ticket, settings)
    for entry in records.time_entries:
        if entry.source is Source.connectwise:
            out += connectwise.time_entry(entry, settings)
        else:
            polled.append(canonical.polled_time_entry(entry))
    for visit in records.visits:
        if visit.source is Source.connectwise:
            out += connectwise.visit(visit, settings)
        else:
            polled += canonical.polled_visit(visit)
    for meeting in records.meetings:
        if meeting.source is Source.connectwise:
            out += connectwise.meeting(meeting, settings)
        else:
            out += canonical.meeting(meeting)
    for recommendation in records.recommendations:
        out += canonical.recommendation(recommendation)
    for alert in records.alerts:
        out += rmm.alert(alert)
    for change in records.device_changes:
        out += rmm.ninja_device_change(change)
    for activity in records.activities:
        out += rmm.ninja_activity(activity)
    sent = [e for e in out if e.at <= settings.end]
    return sent + canonical.poller_batches(polled, settings.end)
