"""A scenario's api.jsonl in `evaluate`: the vendors' APIs it holds, polled by the real poller.

`PolledReplay.start` serves the records through the stand-ins (`services.vendorapi`) on
a replay clock and writes the `polling:` section of the replay tenant so that `partnerpulse
up` runs `partnerpulse poll` against them: the base URLs are the stand-ins', the
credentials `${ENV}` references whose values go to the pipeline's environment only.

The replay clock follows the replay: each delivery sets it to its `at` (never back), so
a poll during the replay sees what the vendor's API held when the vendor sent that
delivery. At the end the clock moves to the end of the scenario and `catch_up` waits until
every polled collection has finished a run that started at or after it (the poller's
`partnerpulse_poll_last_success_timestamp_seconds`): from then on everything the APIs hold
has been posted. The poller appends ingest's answer to each post to a receipts file
(`PARTNERPULSE_POLL_RECEIPTS_FILE`), which `outcomes` turns into the same `Outcome`s as a
delivery, so the accounting (lost, duplicated) treats a polled record like a webhook.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import yaml
from prometheus_client.parser import text_string_to_metric_families

from services.events.tenant_polling import PollingConfig
from services.scenario.files import RecordedDelivery, ScenarioFiles
from services.scenario.replay import Outcome
from services.scenario.scoring import POLLED
from services.vendorapi.records import ApiRecords, ReplayClock
from services.vendorapi.server import RunningStandIns, pointed_at, start_standins

SECRET_ENV = "PARTNERPULSE_EVAL_POLL_SECRET"
RECEIPTS_ENV = "PARTNERPULSE_POLL_RECEIPTS_FILE"
EVERY_SECONDS = 1.0  # the replay clock runs hours per real second: poll often
LAST_SUCCESS = "partnerpulse_poll_last_success_timestamp_seconds"

# What each vendor's stand-in accepts; the secret is one throw-away value per evaluation.
_CREDENTIALS: dict[str, dict[str, str]] = {
    "autotask": {"username": "poll@standin", "secret": "$S", "integration_code": "$S"},
    "connectwise": {
        "company_id": "standin",
        "public_key": "poll",
        "private_key": "$S",
        "client_id": "$S",
    },
    "halopsa": {"client_id": "poll", "client_secret": "$S"},
    "ninjaone": {"client_id": "poll", "client_secret": "$S"},
    "dattormm": {"api_key": "poll", "api_secret": "$S"},
    "tacticalrmm": {"api_key": "$S"},
}


class CatchUpError(RuntimeError):
    """The pollers did not reach the end of the replay clock in time."""


@dataclass
class PolledReplay:
    clock: ReplayClock
    standins: RunningStandIns
    polling: PollingConfig  # what the poller runs with, credentials expanded
    section: dict[str, Any]  # the replay tenant's `polling:`, credentials as ${ENV}
    env: dict[str, str]  # for the pipeline: the credentials and the receipts file
    receipts: Path
    end: datetime

    @classmethod
    def start(cls, files: ScenarioFiles, folder: Path) -> PolledReplay:
        if files.api_file is None:
            raise ValueError(f"{files.folder} has no api.jsonl")
        records = ApiRecords.load(files.api_file)
        span = records.span()
        times = [d.at for d in files.deliveries if d.at is not None]
        if span is not None:
            times += list(span)
        if not times:
            raise ValueError(f"{files.api_file}: holds no record")
        begin, end = min(times) - timedelta(seconds=1), max(times) + timedelta(seconds=1)
        clock = ReplayClock(begin, speed=0)
        receipts = folder / "poll-receipts.jsonl"
        receipts.unlink(missing_ok=True)
        backfill = (end - begin).total_seconds() / 86400 + 2  # the first run reads it all
        standins = start_standins(records, clock, None)
        try:
            own = files.tenant.polling
            if own is not None and own.sources():
                polling, section, env = _scenario_polling(files, own, standins, backfill)
            else:
                polling, section, env = _throwaway_polling(records.sources(), standins, backfill)
        except BaseException:
            standins.stop()
            raise
        standins.state.polling = polling  # the stand-ins accept exactly these credentials
        env[RECEIPTS_ENV] = str(receipts)
        return cls(clock, standins, polling, section, env, receipts, end)

    def tenant_document(self, raw: dict[str, Any]) -> dict[str, Any]:
        """The replay tenant with this `polling:`; ConnectWise callbacks the poller signs
        name a loopback key_url, which the tenant must allow."""
        raw["polling"] = self.section
        if "connectwise" in self.section:
            webhooks = raw.setdefault("webhooks", {}) or {}
            raw["webhooks"] = webhooks
            cw = webhooks.setdefault("connectwise", {}) or {}
            webhooks["connectwise"] = cw
            hosts = list(cw.get("key_url_hosts") or [])
            if "127.0.0.1:*" not in hosts:
                hosts.append("127.0.0.1:*")
            cw["key_url_hosts"] = hosts
        return raw

    def collections(self) -> list[tuple[str, str]]:
        return sorted(
            (name, entity)
            for name, config in self.polling.sources().items()
            for entity in config.polled()
        )

    def advance(self, delivery: RecordedDelivery) -> None:
        """The replay sends `delivery`: the vendors' clock is at least its time."""
        if delivery.at is not None and delivery.at > self.clock():
            self.clock.set(delivery.at)

    def catch_up(
        self, poll_url: str, *, timeout: float, progress: Callable[[int], None] | None = None
    ) -> float:
        """Move the clock to the end and wait until every collection has run from there.
        Returns the seconds waited; `CatchUpError` names the collections still behind."""
        self.clock.set(self.end)
        wanted = self.collections()
        target = self.end.timestamp()
        started = time.monotonic()
        done: set[tuple[str, str]] = set()
        seen: dict[tuple[str, str], float] = {}
        problem = "no answer yet"
        with httpx.Client(timeout=5.0, trust_env=False) as http:
            while True:
                try:
                    seen = last_successes(http.get(f"{poll_url.rstrip('/')}/metrics").text)
                    problem = ""
                except httpx.HTTPError as exc:
                    problem = f"{type(exc).__name__}: {exc}"
                now_done = {c for c in wanted if seen.get(c, 0.0) >= target}
                if progress is not None and len(now_done - done):
                    progress(len(now_done - done))
                done |= now_done
                waited = time.monotonic() - started
                if len(done) == len(wanted):
                    return waited
                if waited > timeout:
                    behind = [f"{s} {e}" for s, e in wanted if (s, e) not in done]
                    raise CatchUpError(
                        "the poller had not caught up with the replay clock "
                        f"({self.end.isoformat()}) after {waited:.0f}s: {', '.join(behind)} behind"
                        + (f" ({poll_url}: {problem})" if problem else "")
                        + "; its log: logs/poll.log in the pipeline's data dir"
                    )
                time.sleep(0.5)

    def receipt_ids(self) -> ReceiptIds:
        """The event ids of the poller's posts, read as they come (`ReceiptIds`)."""
        return ReceiptIds(self.receipts)

    def outcomes(self, first_seq: int) -> list[Outcome]:
        """Ingest's answers to the poller's posts, as outcomes numbered from `first_seq`."""
        if not self.receipts.is_file():
            return []
        out = []
        lines = self.receipts.read_text(encoding="utf-8").splitlines()
        for seq, text in enumerate((t for t in lines if t.strip()), start=first_seq):
            try:
                line = json.loads(text)
            except json.JSONDecodeError:
                continue  # a line cut short by a killed poller: its post is re-done
            out.append(
                Outcome(
                    seq=seq,
                    source=f"{POLLED}{line.get('route')}",
                    status=int(line.get("status") or 0),
                    event_ids=tuple(str(i) for i in line.get("event_ids") or ()),
                    accepted=int(line.get("accepted") or 0),
                    body_sha256=str(line.get("body_sha256") or ""),
                    error=line.get("error"),
                )
            )
        return out

    def stop(self) -> None:
        self.standins.stop()


class ReceiptIds:
    """Called, the event ids of the poller's posts appended to its receipts file since the
    last call (whole lines only): the `Confirmer` asks about them while the replay and the
    catch-up run, before the classifier's retention forgets events of long ago."""

    def __init__(self, receipts: Path) -> None:
        self.receipts = receipts
        self._offset = 0

    def __call__(self) -> list[str]:
        if not self.receipts.is_file():
            return []
        with self.receipts.open("rb") as f:
            f.seek(self._offset)
            data = f.read()
        whole = data[: data.rfind(b"\n") + 1]  # a line still being written waits
        self._offset += len(whole)
        ids: list[str] = []
        for text in whole.splitlines():
            try:
                line = json.loads(text)
            except json.JSONDecodeError:
                continue  # cut short by a killed poller: its post is re-done
            ids.extend(str(i) for i in line.get("event_ids") or ())
        return ids


def last_successes(metrics_text: str) -> dict[tuple[str, str], float]:
    """(source, entity) -> start of its last successful run, from the poller's /metrics."""
    out = {}
    for family in text_string_to_metric_families(metrics_text):
        if family.name != LAST_SUCCESS:
            continue
        for sample in family.samples:
            labels = sample.labels
            out[(labels.get("source", ""), labels.get("entity", ""))] = float(sample.value)
    return out


def _throwaway_polling(
    sources: set[str], standins: RunningStandIns, backfill: float
) -> tuple[PollingConfig, dict[str, Any], dict[str, str]]:
    """Every source api.jsonl holds, with throw-away credentials passed by environment."""
    secret = secrets.token_urlsafe(18)
    section: dict[str, Any] = {}
    expanded: dict[str, Any] = {}
    for name in sorted(sources & set(_CREDENTIALS)):
        common = {"base_url": standins.base_urls[name], "every_seconds": EVERY_SECONDS}
        creds = _CREDENTIALS[name]
        section[name] = common | {
            k: v.replace("$S", f"${{{SECRET_ENV}}}") for k, v in creds.items()
        }
        expanded[name] = common | {k: v.replace("$S", secret) for k, v in creds.items()}
    section["backfill_days"] = expanded["backfill_days"] = round(backfill, 3)
    return PollingConfig.model_validate(expanded), section, {SECRET_ENV: secret}


def _scenario_polling(
    files: ScenarioFiles, own: PollingConfig, standins: RunningStandIns, backfill: float
) -> tuple[PollingConfig, dict[str, Any], dict[str, str]]:
    """The scenario tenant's own `polling:` (its credentials, as its file writes them,
    from the caller's environment), pointed at the stand-ins and run fast."""
    raw = yaml.safe_load(files.tenant_file.read_text()) or {}
    section = dict(raw.get("polling") or {})
    for name in own.sources():
        config = dict(section[name])
        config["base_url"] = standins.base_urls[name]
        config["every_seconds"] = EVERY_SECONDS
        section[name] = config
    section["backfill_days"] = round(max(backfill, own.backfill_days), 3)
    polling = pointed_at(own, standins.base_urls)
    updates = {
        name: config.model_copy(update={"every_seconds": EVERY_SECONDS})
        for name, config in polling.sources().items()
    }
    return polling.model_copy(update=updates), section, {}
