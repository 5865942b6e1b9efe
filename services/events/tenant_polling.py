"""The tenant file's optional `polling:` section: which vendor APIs to poll, how.

Each source names its API base URL, its credentials (write them as `${ENV}`
references: the tenant loader expands them, and they are `SecretStr` here so
they never print), the entities to poll and the cadence. Only the sources
present are polled. See docs/connectors.md for what to create in each
vendor's admin.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Source(_Strict):
    base_url: str = Field(description="The vendor API's base URL (the zone / region / instance).")
    every_seconds: float = Field(300, gt=0, description="Cadence: seconds between two runs.")
    overlap_seconds: float = Field(
        600,
        ge=0,
        description="How far before the start of the last successful run the next one reads "
        "(records become visible in the API some time after their modified stamp).",
    )
    page_size: int | None = Field(None, ge=1, le=1000, description="Rows per page; vendor max.")
    entities: list[str] = Field(default_factory=list, description="Collections; empty: all.")

    ENTITIES: ClassVar[tuple[str, ...]] = ()

    @model_validator(mode="after")
    def _known_entities(self) -> _Source:
        unknown = [e for e in self.entities if e not in self.ENTITIES]
        if unknown:
            raise ValueError(
                f"unknown entities {unknown}: this source polls {', '.join(self.ENTITIES)}"
            )
        return self

    def polled(self) -> list[str]:
        return list(self.entities or self.ENTITIES)


class AutotaskPolling(_Source):
    """Autotask REST: an API-only user (API User security level) and its tracking code."""

    ENTITIES = (
        "Tickets",
        "TimeEntries",
        "ServiceCalls",
        "Appointments",
        "WebhookEventErrorLogs",
    )
    username: str = Field(description="The API user's user name (an email address).")
    secret: SecretStr
    integration_code: SecretStr = Field(description="The API tracking identifier.")
    max_share_of_threshold: float = Field(
        0.5, gt=0, le=1, description="Back off when the database's hourly usage is above this."
    )


class ConnectWisePolling(_Source):
    """ConnectWise PSA: an API member's public/private key pair and the integration's clientId."""

    ENTITIES = ("service/tickets", "time/entries", "schedule/entries", "sales/activities")
    company_id: str = Field(description="The company id used at log-in.")
    public_key: str
    private_key: SecretStr
    client_id: SecretStr = Field(description="From developer.connectwise.com (ClientId).")
    key_server_port: int = Field(
        0,
        ge=0,
        le=65535,
        description="Loopback port where the poller serves the key its callbacks are signed "
        "with (0: any free port); the tenant's webhooks.connectwise.key_url_hosts must allow "
        "127.0.0.1:<port> (or 127.0.0.1:*).",
    )


class HaloPolling(_Source):
    """HaloPSA: an API application with Client ID and Secret (Services) authentication."""

    ENTITIES = ("Tickets", "Actions", "Appointment")
    deleted_appointments_days: float = Field(
        14,
        ge=0,
        description="HaloPSA's API shows no deleted appointment: each run also lists the "
        "appointments starting from this many days back and compares them with the last "
        "run's, and one gone is posted deleted (a meeting cancelled, a visit removed). "
        "0: off.",
    )
    auth_url: str | None = Field(None, description="Authorisation server; default base_url/auth.")
    client_id: str
    client_secret: SecretStr
    tenant: str | None = Field(None, description="Hosted Halo: the tenant name for /auth/token.")
    scope: str = "all"


class NinjaPolling(_Source):
    """NinjaOne: an API client app (client credentials) with the monitoring scope."""

    ENTITIES = ("activities", "devices")
    client_id: str
    client_secret: SecretStr
    scope: str = "monitoring"


class DattoPolling(_Source):
    """Datto RMM: an API user's key and secret (Setup > Users > Generate API Keys)."""

    ENTITIES = ("alerts", "devices")
    api_key: str
    api_secret: SecretStr
    requests_per_minute: int = Field(
        300, ge=1, le=600, description="This poller's share of the account's 600 per 60 s."
    )


class TacticalPolling(_Source):
    """Tactical RMM: an API key (Settings > Global Settings > API Keys)."""

    ENTITIES = ("alerts", "agents")
    api_key: SecretStr


class PollingConfig(_Strict):
    """Which sources to poll; each one present is polled on its own cadence."""

    autotask: AutotaskPolling | None = None
    connectwise: ConnectWisePolling | None = None
    halopsa: HaloPolling | None = None
    ninjaone: NinjaPolling | None = None
    dattormm: DattoPolling | None = None
    tacticalrmm: TacticalPolling | None = None
    backfill_days: float = Field(
        7, ge=0, description="How far back the very first run of an entity reads."
    )

    def sources(self) -> dict[str, _Source]:
        names = ("autotask", "connectwise", "halopsa", "ninjaone", "dattormm", "tacticalrmm")
        return {n: s for n in names if (s := getattr(self, n)) is not None}


PollingSource = Literal["autotask", "connectwise", "halopsa", "ninjaone", "dattormm", "tacticalrmm"]
