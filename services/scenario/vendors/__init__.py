"""Each vendor's webhook bodies for the simulated records (one module per vendor family).

`emissions` turns every record into the bodies its system would send, at the
vendor-side time of each change; nothing after the end of the scenario is
sent. With `api`, what no webhook carries (Autotask and HaloPSA time entries and
visits) goes only to the vendors' APIs (api.jsonl, `apis`), with the API side of every
webhook; without, a pretend poller posts those as canonical events (scenarios of
before api.jsonl). Business reviews kept as Autotask / HaloPSA tickets go out as ticket
webhooks (`reviews`). Which channels a PSA can express is part of its format: `CHANNELS`.
"""

from __future__ import annotations

from typing import Any

from services.events.models import Channel, Nature, Source
from services.scenario.model import Records
from services.scenario.vendors import (
    apis,
    autotask,
    canonical,
    connectwise,
    halopsa,
    reviews,
    rmm,
)
from services.scenario.vendors.common import Emission, WriterSettings, iso_z

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


def emissions(
    settings: WriterSettings, records: Records, *, api: bool = False
) -> tuple[list[Emission], list[apis.Line]]:
    """The webhook bodies, and (with `api`) the api.jsonl lines."""
    out: list[Emission] = []
    polled: list[tuple[Any, str, dict[str, Any]]] = []
    held: list[apis.Line] = []
    for ticket in records.tickets:
        out += _PSA_TICKETS[ticket.source](ticket, settings)
    for entry in records.time_entries:
        if entry.source is Source.connectwise:
            out += connectwise.time_entry(entry, settings)
        elif api:
            held += apis.time_entry(entry)
        else:
            polled.append(canonical.polled_time_entry(entry))
    for visit in records.visits:
        if visit.source is Source.connectwise:
            out += connectwise.visit(visit, settings)
        elif api:
            held += apis.visit(visit, settings.end)
        else:
            polled += canonical.polled_visit(visit)
    for meeting in records.meetings:
        if meeting.source is Source.connectwise:
            out += connectwise.meeting(meeting, settings)
        elif meeting.source in (Source.autotask, Source.halopsa):
            out += reviews.qbr_ticket(meeting, settings)
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
    if api:
        sent = apis.ninja_in_time_order(sent)
        held += [line for e in sent for line in apis.api_from_emission(e)]
        return sent, [h for h in held if h["at"] <= iso_z(settings.end)]
    return sent + canonical.poller_batches(polled, settings.end), []
