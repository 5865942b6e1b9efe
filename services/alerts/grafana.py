"""Grafana's webhook contact point: verify and parse a notification (pure, no I/O).

Grafana posts `{"receiver", "status", "alerts": [{"status", "labels",
"annotations", "startsAt", "endsAt", "fingerprint", "generatorURL", ...}],
"groupKey", ...}`. With an HMAC secret configured on the contact point it
sends `X-Grafana-Alerting-Signature`: the hex HMAC-SHA256 of the raw body, or
of `<timestamp>:<body>` when a timestamp header is configured too. There is no
delivery id: an alert is identified by its fingerprint and start time, and
its status says whether it fires or is resolved.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from pydantic import SecretStr

from services.platform.signatures import SignatureError, verify_hmac


class GrafanaRejected(ValueError):
    """The notification is refused; `status` is the HTTP answer, the message says why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class GrafanaAlert:
    fingerprint: str
    status: str  # firing | resolved
    starts_at: str
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    ends_at: str | None = None
    generator_url: str | None = None
    receiver: str | None = None

    @property
    def name(self) -> str:
        return self.labels.get("alertname", "grafana alert")

    @property
    def key(self) -> str:
        return f"grafana:{self.fingerprint}:{self.starts_at}"

    def to_json(self) -> dict[str, Any]:
        """The alert in Grafana's own words: how it is stored and shown by the API."""
        return {
            "fingerprint": self.fingerprint,
            "status": self.status,
            "startsAt": self.starts_at,
            "endsAt": self.ends_at,
            "labels": self.labels,
            "annotations": self.annotations,
            "generatorURL": self.generator_url,
            "receiver": self.receiver,
        }

    @classmethod
    def from_json(cls, data: Any) -> GrafanaAlert:
        """Read back what `to_json` wrote, checked as the webhook checks it
        (GrafanaRejected(422) naming the field if it does not hold)."""
        if not isinstance(data, dict):
            raise GrafanaRejected(422, "a Grafana alert must be a JSON object")
        receiver = data.get("receiver")
        return _alert(data, "alert", receiver if isinstance(receiver, str) else None)


def verify(
    body: bytes,
    headers: Mapping[str, str],
    secrets: Sequence[SecretStr],
    *,
    signature_header: str,
    timestamp_header: str | None,
    now: float,
    max_skew: float,
) -> None:
    """Raise GrafanaRejected(401) unless one of `secrets` signed `body` (no secrets: pass;
    the alerts service refuses every notification before this when none is configured).
    Every secret is tried, in constant time: the one verifier, services.platform.signatures."""
    if not secrets:
        return
    signature = headers.get(signature_header.lower(), "").strip().lower()
    if not signature:
        raise GrafanaRejected(401, f"missing {signature_header} header")
    message = body
    if timestamp_header:
        stamp = headers.get(timestamp_header.lower(), "").strip()
        try:
            signed_at = float(stamp)
        except ValueError:
            raise GrafanaRejected(
                401, f"{timestamp_header} header missing or not a Unix time"
            ) from None
        if abs(now - signed_at) > max_skew:
            raise GrafanaRejected(
                401, f"{timestamp_header} is more than {max_skew:.0f}s from now (replayed?)"
            )
        message = stamp.encode() + b":" + body
    try:
        verify_hmac(
            message, signature, secrets, digest="sha256", encoding="hex", header=signature_header
        )
    except SignatureError as exc:
        raise GrafanaRejected(401, str(exc)) from None


def _strings(value: Any, where: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(
        isinstance(v, str | int | float | bool) for v in value.values()
    ):
        raise GrafanaRejected(422, f"{where}: must be an object of strings")
    return {str(k): str(v) for k, v in value.items()}


def parse(body: bytes) -> list[GrafanaAlert]:
    """The alerts of a notification. orjson refuses nesting deeper than 1024 and integers
    beyond 64 bits as parse errors (400), where the standard library would recurse."""
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise GrafanaRejected(400, f"the body is not JSON: {exc}") from None
    if not isinstance(document, dict):
        raise GrafanaRejected(422, "the body must be a JSON object with an 'alerts' list")
    alerts = document.get("alerts")
    if not isinstance(alerts, list):
        raise GrafanaRejected(422, "alerts: missing or not a list (is this Grafana's webhook?)")
    receiver = document.get("receiver")
    return [
        _alert(item, f"alerts[{i}]", receiver if isinstance(receiver, str) else None)
        for i, item in enumerate(alerts)
    ]


def _alert(item: Any, where: str, receiver: str | None) -> GrafanaAlert:
    if not isinstance(item, dict):
        raise GrafanaRejected(422, f"{where}: must be an object")
    fingerprint, status, starts_at = (
        item.get("fingerprint"),
        item.get("status"),
        item.get("startsAt"),
    )
    if not isinstance(fingerprint, str) or not fingerprint:
        raise GrafanaRejected(422, f"{where}.fingerprint: missing")
    if status not in ("firing", "resolved"):
        raise GrafanaRejected(422, f"{where}.status: {status!r} is not firing or resolved")
    if not isinstance(starts_at, str):
        raise GrafanaRejected(422, f"{where}.startsAt: missing")
    try:
        datetime.fromisoformat(starts_at.replace("Z", "+00:00"))
    except ValueError:
        raise GrafanaRejected(
            422, f"{where}.startsAt: {starts_at!r} is not an RFC 3339 time"
        ) from None
    ends_at, generator_url = item.get("endsAt"), item.get("generatorURL")
    return GrafanaAlert(
        fingerprint=fingerprint,
        status=status,
        starts_at=starts_at,
        labels=_strings(item.get("labels"), f"{where}.labels"),
        annotations=_strings(item.get("annotations"), f"{where}.annotations"),
        ends_at=ends_at if isinstance(ends_at, str) else None,
        generator_url=generator_url if isinstance(generator_url, str) else None,
        receiver=receiver,
    )
