"""What is polled, per vendor collection: how its changes are found and its records keyed.

Three ways to find what changed:

- `modified`: the collection filters on a last-modified stamp (Autotask, ConnectWise,
  HaloPSA). The watermark is the start of the last successful run minus an overlap;
  a record is identified by (stamp, id), which is also the order pages are read in.
- `activity_id`: NinjaOne's activity log, an id cursor (`newerThan`).
- `snapshot`: a list with no change filter (Datto RMM open alerts and devices, Tactical
  RMM alerts and agents, NinjaOne devices): each run reads it whole and diffs it
  against what the previous run saw; what is gone was resolved or removed.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from services.events.models import Source


class Cursor(StrEnum):
    modified = "modified"
    activity_id = "activity_id"
    snapshot = "snapshot"


@dataclass(frozen=True)
class EntitySpec:
    source: Source
    entity: str  # the vendor's collection, spelled as in its REST path (and api.jsonl)
    cursor: Cursor
    # The record's last-modified field(s); the first is what the query filters on.
    time_fields: tuple[str, ...] = ()
    id_field: str = "id"
    # Where a webhook exists for this record, the poller posts the vendor's own
    # webhook body; else a canonical event (source `canonical`).
    webhook: bool = True
    # A collection whose API drops a deleted record without trace (HaloPSA appointments):
    # the start-time field a sweep lists it by, to find what vanished (poller.py).
    sweep_field: str | None = None


_S = Source
SPECS: dict[tuple[Source, str], EntitySpec] = {
    (s.source, s.entity): s
    for s in (
        EntitySpec(_S.autotask, "Tickets", Cursor.modified, ("lastActivityDate", "createDate")),
        EntitySpec(
            _S.autotask,
            "TimeEntries",
            Cursor.modified,
            ("lastModifiedDateTime", "createDateTime"),
            webhook=False,
        ),
        EntitySpec(
            _S.autotask,
            "ServiceCalls",
            Cursor.modified,
            ("lastModifiedDateTime", "createDateTime"),
            webhook=False,
        ),
        # Callouts Autotask failed to deliver, kept 30 days with their payload.
        EntitySpec(_S.autotask, "WebhookEventErrorLogs", Cursor.modified, ("createDateTime",)),
        EntitySpec(
            _S.autotask,
            "Appointments",
            Cursor.modified,
            ("lastModifiedDateTime", "updateDateTime", "createDateTime"),
            webhook=False,
        ),
        *(
            EntitySpec(_S.connectwise, e, Cursor.modified, ("_info.lastUpdated",))
            for e in ("service/tickets", "time/entries", "schedule/entries", "sales/activities")
        ),
        EntitySpec(_S.halopsa, "Tickets", Cursor.modified, ("last_update", "lastactiondate")),
        EntitySpec(
            _S.halopsa,
            "Actions",
            Cursor.modified,
            ("last_update", "actiondatecreated", "datetime"),
            webhook=False,
        ),
        EntitySpec(
            _S.halopsa,
            "Appointment",
            Cursor.modified,
            ("last_update", "start_date"),
            webhook=False,
            sweep_field="start_date",
        ),
        EntitySpec(_S.ninjaone, "activities", Cursor.activity_id, ("activityTime",)),
        EntitySpec(_S.ninjaone, "devices", Cursor.snapshot, webhook=False),
        EntitySpec(_S.dattormm, "alerts", Cursor.snapshot, id_field="alertUid"),
        EntitySpec(_S.dattormm, "devices", Cursor.snapshot, id_field="uid", webhook=False),
        EntitySpec(_S.tacticalrmm, "alerts", Cursor.snapshot),
        EntitySpec(_S.tacticalrmm, "agents", Cursor.snapshot, id_field="agent_id", webhook=False),
    )
}


# The order a source's entities run in: tickets first, so records that point at a
# ticket find its client in the link table.
def entities_of(source: Source, wanted: list[str]) -> list[EntitySpec]:
    order = [spec for (s, _), spec in SPECS.items() if s is source]
    return [spec for spec in order if spec.entity in wanted]


def spec_for(source: Source | str, entity: str) -> EntitySpec:
    try:
        return SPECS[(Source(source), entity)]
    except (KeyError, ValueError):
        raise KeyError(f"{source} has no polled collection {entity!r}") from None
