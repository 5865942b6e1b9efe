"""How each vendor's webhooks authenticate, and the event-time bounds ingest holds them to.

Models of `services/events/tenant.py` (split out for size); import them from there.
"""

from __future__ import annotations

import fnmatch
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class HeaderSecret(_Strict):
    """A secret sent as-is in a custom header (NinjaOne, Datto RMM, Tactical RMM)."""

    header: str = "x-partnerpulse-secret"
    secrets: list[SecretStr] = Field(default_factory=list)


class HmacSecret(_Strict):
    secrets: list[SecretStr] = Field(default_factory=list)


class BasicAuth(_Strict):
    username: str = "partnerpulse"
    secrets: list[SecretStr] = Field(default_factory=list, description="Accepted passwords.")


class ConnectWiseWebhook(_Strict):
    key_url_hosts: list[str] = Field(
        default_factory=lambda: ["*.myconnectwise.net"],
        description="Hosts (host or host:port, shell wildcards) key_url may point at.",
    )

    def allows(self, url: str) -> bool:
        parts = urlsplit(url)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            return False
        host = parts.hostname.lower()
        host_port = f"{host}:{parts.port}" if parts.port else host
        for pattern in self.key_url_hosts:
            pattern = pattern.lower()
            if ":" in pattern:
                if fnmatch.fnmatchcase(host_port, pattern):
                    return True
            elif fnmatch.fnmatchcase(host, pattern) and (
                parts.scheme == "https" or host in ("127.0.0.1", "localhost", "::1")
            ):
                return True
        return False


class Freshness(_Strict):
    """Event-time bounds ingest holds every delivery to (docs/security.md)."""

    max_event_age_hours: float | None = Field(
        168.0,
        gt=0,
        description="Freshness (replay) check: a vendor delivery whose own time (Autotask "
        "EventTime, ConnectWise _info.lastUpdated, NinjaOne activityTime, ...) is older than "
        "this is refused (422). null turns the check off (backfills).",
    )
    max_event_ahead_hours: float | None = Field(
        6.0,
        gt=0,
        description="An event dated more than this ahead of its receive time is refused "
        "(422, dead-lettered as future_event_time). null turns the check off.",
    )


class Webhooks(_Strict):
    connectwise: ConnectWiseWebhook = ConnectWiseWebhook()
    autotask: HmacSecret = HmacSecret()
    halopsa: BasicAuth = BasicAuth()
    ninjaone: HeaderSecret = HeaderSecret()
    dattormm: HeaderSecret = HeaderSecret()
    tacticalrmm: HeaderSecret = HeaderSecret()
    canonical: HmacSecret = HmacSecret()
    freshness: Freshness = Field(
        Freshness(), description="Event-time bounds: stale deliveries, events from the future."
    )
