"""Helpers shared by the adapter unit tests."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from pydantic import SecretStr

from services.events.models import Source
from services.events.tenant import HeaderSecret, Tenant, parse_tenant
from services.ingest.adapters.base import Delivery

TENANT_FILE = Path(__file__).parents[2] / "fixtures" / "tenant.yaml"


def raw(source: str, payloads: Path, name: str) -> bytes:
    return (payloads / source / f"{name}.json").read_bytes()


def make_delivery(
    source: Source,
    received: datetime,
    body: bytes,
    headers: dict[str, str] | None = None,
    received_at: datetime | None = None,
    *,
    lowercase: bool = True,
) -> Delivery:
    headers = headers or {}
    if lowercase:
        headers = {k.lower(): v for k, v in headers.items()}
    return Delivery(source=source, body=body, headers=headers, received_at=received_at or received)


def replace_fields(body: bytes, changes: dict[str, Any], **dumps: Any) -> bytes:
    """A JSON body with fields replaced (None removes the field)."""
    data = json.loads(body)
    for key, value in changes.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    return json.dumps(data, **dumps).encode()


def with_header_secrets(tenant: Tenant, source: str, secrets: list[str]) -> Tenant:
    config = HeaderSecret(
        header=getattr(tenant.webhooks, source).header, secrets=[SecretStr(s) for s in secrets]
    )
    webhooks = tenant.webhooks.model_copy(update={source: config})
    return tenant.model_copy(update={"webhooks": webhooks})


def tenant_with(change: Callable[[dict[str, Any]], None]) -> Tenant:
    data = yaml.safe_load(TENANT_FILE.read_text())
    change(data)
    return parse_tenant(data, TENANT_FILE)


def one_event(result: Any) -> Any:
    assert len(result.events) == 1
    return result.events[0]
