"""One run of one polled collection: read from the watermark (or the checkpoint of an
interrupted run), post every record, checkpoint after each page, move the watermark
only when the whole run succeeded.

A swept collection (HaloPSA appointments: the API drops a deleted one without trace)
is also listed by start time each run, before the changes are read, and compared
with what earlier runs saw starting in that window: a record gone from the listing,
not read as changed, and answered 404 when asked for by id was deleted, and is posted
so (its last body, `deleted: true`, at the run's time)."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from services.events.tenant import Tenant
from services.poll.adapters.ingest import IngestPoster, Posted
from services.poll.adapters.store import Checkpoint, PollStore
from services.poll.adapters.vendor import VendorClient
from services.poll.domain.requests import (
    Request,
    first_request,
    read_page,
    snapshot_requests,
    sweep_request,
)
from services.poll.domain.specs import Cursor, EntitySpec
from services.poll.domain.window import (
    in_order,
    iso_z,
    next_watermark,
    parse_stamp,
    read_from,
    record_id,
)
from services.poll.metrics import PollMetrics
from services.poll.outgoing import Resolver, snapshot_delivery

log = logging.getLogger("partnerpulse.poll")
# A vendor clock this far from ours on the very first run: read again from its time.
_SKEW = timedelta(minutes=5)


@dataclass
class RunResult:
    pages: int = 0
    posted: int = 0
    new: int = 0
    repeated: int = 0  # read again within the overlap, unchanged: not posted again


class CollectionPoller:
    def __init__(
        self,
        tenant: Tenant,
        spec: EntitySpec,
        *,
        client: VendorClient,
        poster: IngestPoster,
        store: PollStore,
        resolver: Resolver,
        metrics: PollMetrics,
        overlap: timedelta,
        backfill: timedelta,
        page_size: int | None = None,
        sweep: timedelta | None = None,
    ) -> None:
        self.tenant, self.spec = tenant, spec
        # How far back a swept collection is listed by start time (None: not swept).
        self.sweep = sweep if spec.sweep_field is not None else None
        self.client, self.poster, self.store = client, poster, store
        self.resolver, self.metrics = resolver, metrics
        self.overlap, self.backfill, self.page_size = overlap, backfill, page_size
        self._labels = (str(spec.source), spec.entity)
        # Bodies ingest took (new or duplicate) in the last run and in this one: the
        # overlap reads them again, and the same body is the same event, so it is not
        # posted twice. In memory only: after a restart they are re-posted (duplicates).
        self._posted_before: set[bytes] = set()
        self._posted_now: set[bytes] = set()

    def run_once(self) -> RunResult:
        if self.spec.cursor is Cursor.snapshot:
            return self._snapshot()
        return self._incremental()

    def _post(self, outgoing: list[Any], result: RunResult, *, once: bool = False) -> None:
        for out in outgoing:
            digest = hashlib.sha256(out.body).digest() if once else b""
            if once and (digest in self._posted_now or digest in self._posted_before):
                result.repeated += 1
                continue
            answer = self.poster.post(out)
            result.posted += 1
            result.new += answer is Posted.new
            self.metrics.records.labels(*self._labels, str(answer)).inc()
            if once and answer is not Posted.rejected:
                self._posted_now.add(digest)

    # -- modified-stamp and id cursors ----------------------------------------------------

    def _incremental(self) -> RunResult:
        src, ent = self._labels
        checkpoint = self.store.checkpoint(src, ent)
        watermark = self.store.watermark(src, ent)
        result = RunResult()
        listed: dict[str, dict[str, Any]] | None = None  # a swept collection's listing
        request: Request | None
        if checkpoint is not None:
            run_started, request = checkpoint.run_started_at, checkpoint.next_request
            result.pages = checkpoint.pages
            log.info("%s %s: resuming at page %d", src, ent, checkpoint.pages + 1)
        else:
            run_started = self.client.now()
            if self.sweep is not None:
                # Listed before the changes are read (see _deleted).
                starts_from = run_started - self.sweep
                listed = self._list_window(starts_from)
                run_started = self.client.now()  # the vendor's clock, learnt by the listing
            request = self._first(watermark.since, watermark.cursor, run_started)
        read: set[str] = set()
        high = watermark.cursor
        first_answer = checkpoint is None and self.client.server_offset is None
        while request is not None:
            answer = self.client.call(request, f"{ent} page {result.pages + 1}")
            if first_answer:
                first_answer = False
                vendor_now = self.client.now()
                if abs(vendor_now - run_started) > _SKEW:  # the vendor's clock differs
                    run_started = vendor_now
                    request = self._first(watermark.since, watermark.cursor, run_started)
                    continue
            page = read_page(self.spec, request, answer)
            records = in_order(self.spec, page.records)
            self._post(self.resolver.deliveries(self.spec, records), result, once=True)
            if self.sweep is not None:
                read |= self._watch(records)
            result.pages += 1
            high = page.high or high
            if page.next is not None:
                self.store.save_checkpoint(
                    src, ent, Checkpoint(run_started, page.next, result.pages)
                )
            request = page.next
        if listed is not None:
            self._deleted(listed, read, starts_from, run_started, result)
        since = (
            next_watermark(run_started, self.overlap)
            if self.spec.cursor is Cursor.modified
            else None
        )
        self.store.finish_run(src, ent, since=since, cursor=high, run_started_at=run_started)
        self._posted_before, self._posted_now = self._posted_now, set()
        return result

    # -- sweeps: what vanished from a collection that keeps no trace of deletions -----------

    def _list_window(self, starts_from: datetime) -> dict[str, dict[str, Any]]:
        """Every record of the collection starting after `starts_from`, by id."""
        listed: dict[str, dict[str, Any]] = {}
        request: Request | None = sweep_request(
            self.spec, starts_from=starts_from, page_size=self.page_size
        )
        while request is not None:
            answer = self.client.call(request, f"{self.spec.entity} by start time")
            page = read_page(self.spec, request, answer)
            for record in page.records:
                listed[record_id(self.spec, record)] = record
            request = page.next
        return listed

    def _starts(self, record: dict[str, Any]) -> datetime | None:
        return parse_stamp(record.get(self.spec.sweep_field or ""))

    def _watch(self, records: list[dict[str, Any]]) -> set[str]:
        """Remember the records just read (their latest body and start); their ids."""
        src, ent = self._labels
        ids = set()
        for record in records:
            rid = record_id(self.spec, record)
            ids.add(rid)
            self.store.remember(src, ent, rid, _small(record))
        return ids

    def _deleted(
        self,
        listed: dict[str, dict[str, Any]],
        read: set[str],
        starts_from: datetime,
        now: datetime,
        result: RunResult,
    ) -> None:
        """Post as deleted each record known to start in the window that the listing lacks
        and the vendor no longer has. The listing came before this run read the changes:
        a record moved out of the window since was still listed, and one moved before it
        was read as changed (its new start remembered), so neither looks deleted; one the
        listing skipped (paging shifted by a deletion) is still there when asked for."""
        src, ent = self._labels
        known = self.store.inventory(src, ent)
        for rid, before in sorted(known.items()):
            starts = self._starts(before)
            if starts is None or starts <= starts_from:
                self.store.forget(src, ent, rid)  # left the window: no longer watched
                continue
            if rid in listed or rid in read:
                if _GONE_AT in before:  # back after all: watched afresh
                    self.store.remember(src, ent, rid, _small(listed.get(rid, before)))
                continue
            request = Request("GET", f"api/{ent}/{rid}")
            current = self.client.call(request, f"{ent} {rid}", missing_ok=True)
            if isinstance(current, dict):
                self.store.remember(src, ent, rid, _small(current))  # skipped, not gone
                continue
            # When it was found gone, kept until it is posted: a run that fails after the
            # post posts the same event again (one id: ingest takes it once).
            gone_at = str(before.get(_GONE_AT) or iso_z(now))
            if _GONE_AT not in before:
                self.store.remember(src, ent, rid, before | {_GONE_AT: gone_at})
            last = {k: v for k, v in before.items() if k != _GONE_AT}
            gone = last | {"deleted": True, self.spec.time_fields[0]: gone_at}
            self._post(self.resolver.deliveries(self.spec, [gone]), result)
            self.store.forget(src, ent, rid)
        for rid, record in listed.items():
            if rid not in known and rid not in read:
                starts = self._starts(record)
                if starts is not None and starts > starts_from:
                    self.store.remember(src, ent, rid, _small(record))

    def _first(self, since: datetime | None, cursor: str | None, now: datetime) -> Request:
        return first_request(
            self.spec,
            since=read_from(since, now, self.backfill),
            after_id=cursor,
            page_size=self.page_size,
        )

    # -- snapshots: diff against the last run ---------------------------------------------

    def _snapshot(self) -> RunResult:
        src, ent = self._labels
        result = RunResult()
        current: dict[str, dict[str, Any]] = {}
        for first in snapshot_requests(self.spec, self.page_size):
            request: Request | None = first
            while request is not None:
                page = read_page(self.spec, request, self.client.call(request, f"{ent} page"))
                for record in page.records:
                    rid = record_id(self.spec, record)
                    # Resolved between the open and the resolved list: resolved wins.
                    if not (current.get(rid) or {}).get("resolved"):
                        current[rid] = record
                result.pages += 1
                request = page.next
        run_started = self.client.now()
        known = self.store.inventory(src, ent)
        is_alerts = ent == "alerts"
        announce = is_alerts or self.store.has_baseline(src, ent)
        horizon = run_started - self.backfill
        for item_id, record in sorted(current.items()):
            resolved = bool(record.get("resolved"))
            before = known.get(item_id)
            out = []
            if before is None and is_alerts and resolved and _resolved_before(record, horizon):
                pass  # resolved before the backfill window: history, not news
            else:
                if before is None and announce:
                    out.append(self._change(record, gone=False, resolved=False, now=run_started))
                if is_alerts and resolved and not (before or {}).get("resolved"):
                    out.append(self._change(record, gone=False, resolved=True, now=run_started))
            self._post(out, result)
            if before is None or (is_alerts and resolved != bool(before.get("resolved"))):
                self.store.remember(src, ent, item_id, {"resolved": resolved, **_small(record)})
        for item_id in sorted(set(known) - set(current)):
            before = known[item_id]
            if not (is_alerts and before.get("resolved")):
                self._post(
                    [self._change(before, gone=True, resolved=True, now=run_started)], result
                )
            self.store.forget(src, ent, item_id)
        self.store.set_baseline(src, ent)
        self.store.finish_run(src, ent, since=None, cursor=None, run_started_at=run_started)
        return result

    def _change(self, record: dict[str, Any], *, gone: bool, resolved: bool, now: datetime) -> Any:
        return snapshot_delivery(
            self.tenant, self.spec, record, gone=gone, resolved=resolved, now=now
        )


def _resolved_before(record: dict[str, Any], horizon: datetime) -> bool:
    """An alert whose resolution (Datto `resolvedOn`, Tactical `resolved_on`) is older
    than `horizon`."""
    stamp = parse_stamp(record.get("resolvedOn") or record.get("resolved_on"))
    return stamp is not None and stamp < horizon


_GONE_AT = "_partnerpulse_gone_at"  # in a swept record's memory: when it was found gone


def _small(record: dict[str, Any]) -> dict[str, Any]:
    """What a later 'resolved' or 'removed' delivery needs of the record."""
    return {k: v for k, v in record.items() if not isinstance(v, list)}
