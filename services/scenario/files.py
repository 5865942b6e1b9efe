"""Scenario folders on disk: the contract of ../shared/scenario-format.md.

Writing is deterministic (same scenario, same bytes). Reading accepts any
scenario that follows the format, whoever wrote it, and refuses one that does
not with a `ScenarioError` naming the file, the line or key, and the problem.
Unknown keys are ignored, so the format can be extended compatibly.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from services.events.models import Source
from services.events.outputs import Band, Behaviour, WorkClass
from services.events.tenant import Tenant, TenantConfigError, load_tenant

TENANT = "tenant.yaml"
DELIVERIES = "deliveries.jsonl"
TRUTH = "truth.json"
API = "api.jsonl"  # optional: what the vendors' REST APIs hold (see scenario-format.md)

TENANT_HEADER = (
    "# Tenant file of a simulated scenario (partnerpulse simulate). Secrets are test values.\n"
)


class ScenarioError(ValueError):
    """The scenario folder does not follow the format; the message says where and why."""


@dataclass(frozen=True)
class RecordedDelivery:
    seq: int
    at: datetime | None
    source: Source
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True)
class TrueSignal:
    client: str
    behaviour: Behaviour
    evidence: frozenset[str]


@dataclass(frozen=True)
class Truth:
    work: dict[str, WorkClass]
    signals: list[TrueSignal]
    health: dict[str, Band]
    personas: dict[str, str]


@dataclass(frozen=True)
class ScenarioFiles:
    folder: Path
    tenant_file: Path
    tenant: Tenant
    deliveries: list[RecordedDelivery]
    truth: Truth
    api_file: Path | None = None  # api.jsonl, when the scenario has one


# -- writing ----------------------------------------------------------------------------


def write_scenario(
    folder: Path,
    tenant: dict[str, Any],
    deliveries: list[dict[str, Any]],
    truth: dict[str, Any],
    api: list[dict[str, Any]] | None = None,
) -> None:
    """The scenario's files; `api` (records the vendors' APIs hold) goes to api.jsonl,
    which is removed when there is none (a folder written again without it)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / TENANT).write_text(
        TENANT_HEADER + yaml.safe_dump(tenant, sort_keys=False, allow_unicode=True, width=100),
        encoding="utf-8",
    )
    with (folder / DELIVERIES).open("w", encoding="utf-8") as out:
        for delivery in deliveries:
            out.write(json.dumps(delivery, ensure_ascii=False, separators=(",", ":")) + "\n")
    (folder / TRUTH).write_text(json.dumps(truth, indent=1) + "\n", encoding="utf-8")
    if not api:
        (folder / API).unlink(missing_ok=True)
        return
    with (folder / API).open("w", encoding="utf-8") as out:
        for record in api:
            out.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n")


# -- reading ----------------------------------------------------------------------------


def load_scenario(folder: Path) -> ScenarioFiles:
    if not folder.is_dir():
        raise ScenarioError(f"{folder}: no such scenario folder")
    for name in (TENANT, DELIVERIES, TRUTH):
        if not (folder / name).is_file():
            raise ScenarioError(
                f"{folder}: {name} is missing (a scenario holds {TENANT}, {DELIVERIES}, {TRUTH})"
            )
    try:
        tenant = load_tenant(folder / TENANT)
    except TenantConfigError as exc:
        raise ScenarioError(str(exc)) from None
    return ScenarioFiles(
        folder=folder,
        tenant_file=folder / TENANT,
        tenant=tenant,
        deliveries=read_deliveries(folder / DELIVERIES),
        truth=read_truth(folder / TRUTH),
        api_file=folder / API if (folder / API).is_file() else None,
    )


def read_deliveries(path: Path) -> list[RecordedDelivery]:
    sources = [s.value for s in Source]
    out = []
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            where = f"{path}: line {number}"
            try:
                item = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ScenarioError(f"{where}: not valid JSON ({exc})") from None
            if not isinstance(item, dict):
                raise ScenarioError(f"{where}: expected a JSON object, got {type(item).__name__}")
            source = item.get("source")
            if source not in sources:
                raise ScenarioError(
                    f"{where}: unknown source {source!r}; evaluate replays {', '.join(sources)}"
                )
            body = item.get("body")
            if not isinstance(body, str):
                raise ScenarioError(f"{where}: 'body' must be the raw body as a JSON string")
            seq = item.get("seq", number)
            if not isinstance(seq, int) or isinstance(seq, bool):
                raise ScenarioError(f"{where}: 'seq' must be an integer, got {seq!r}")
            headers = item.get("headers") or {}
            if not isinstance(headers, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in headers.items()
            ):
                raise ScenarioError(f"{where}: 'headers' must map header names to strings")
            out.append(
                RecordedDelivery(
                    seq=seq,
                    at=_time(item.get("at"), where),
                    source=Source(source),
                    headers={k.lower(): v for k, v in headers.items()},
                    body=body.encode("utf-8"),
                )
            )
    if not out:
        raise ScenarioError(f"{path}: holds no delivery")
    return out


def _time(value: Any, where: str) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise ScenarioError(f"{where}: 'at' is not an ISO 8601 time: {value!r}") from None


def read_truth(path: Path) -> Truth:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ScenarioError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(document, dict):
        raise ScenarioError(f"{path}: expected an object with work, signals and health")
    work_doc = _mapping(document, "work", path)
    work = {}
    classes = [c.value for c in WorkClass]
    for ref, label in work_doc.items():
        if ref.count(":") < 2:
            raise ScenarioError(f"{path}: work.{ref}: a reference is source:entity:id")
        if label not in classes:
            raise ScenarioError(f"{path}: work.{ref}: {label!r} is not one of {classes}")
        work[ref] = WorkClass(label)
    signals = []
    behaviours = [b.value for b in Behaviour]
    raw_signals = document.get("signals", [])
    if not isinstance(raw_signals, list):
        raise ScenarioError(f"{path}: 'signals' must be a list")
    for index, item in enumerate(raw_signals):
        where = f"{path}: signals[{index}]"
        if not isinstance(item, dict):
            raise ScenarioError(f"{where}: expected an object")
        if item.get("behaviour") not in behaviours:
            raise ScenarioError(
                f"{where}: behaviour {item.get('behaviour')!r} is not one of {behaviours}"
            )
        evidence = item.get("evidence")
        if (
            not isinstance(evidence, list)
            or not evidence
            or not all(isinstance(r, str) for r in evidence)
        ):
            raise ScenarioError(f"{where}: 'evidence' must be a non-empty list of references")
        if not isinstance(item.get("client"), str):
            raise ScenarioError(f"{where}: 'client' must be a client id")
        signals.append(
            TrueSignal(item["client"], Behaviour(item["behaviour"]), frozenset(evidence))
        )
    health = {}
    bands = [b.value for b in Band]
    for client, band in _mapping(document, "health", path).items():
        if band not in bands:
            raise ScenarioError(f"{path}: health.{client}: {band!r} is not one of {bands}")
        health[client] = Band(band)
    personas = document.get("personas") or {}
    return Truth(
        work=work,
        signals=signals,
        health=health,
        personas={str(k): str(v) for k, v in personas.items()}
        if isinstance(personas, dict)
        else {},
    )


def _mapping(document: dict[str, Any], key: str, path: Path) -> dict[str, Any]:
    value = document.get(key, {})
    if not isinstance(value, dict):
        raise ScenarioError(f"{path}: '{key}' must be an object")
    return value
