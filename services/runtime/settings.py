"""Settings every service shares. Each field reads `PARTNERPULSE_<NAME>`.

A settings file (YAML) may hold the same keys; it is named by
`PARTNERPULSE_SETTINGS_FILE` (default `partnerpulse.yaml` in the working
directory, used only if it exists). Environment variables win over the file.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, field_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from services.runtime.auth import ApiToken

DEFAULT_TENANT_FILE = Path("deploy/tenant.example.yaml")


def settings_file() -> Path:
    return Path(os.environ.get("PARTNERPULSE_SETTINGS_FILE", "partnerpulse.yaml"))


class CommonSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PARTNERPULSE_", extra="ignore")

    broker_incarnation: str = Field(
        "",
        description="Set by `partnerpulse up` for each embedded broker it starts (memory "
        "only): stream positions recorded under another incarnation are not offsets of this "
        "broker, so the classifier reads its topics from the start (deduplicating).",
    )
    kafka_bootstrap: str | None = Field(
        None,
        description="Kafka bootstrap servers (host:port,...). Unset: `partnerpulse up` starts "
        "the embedded broker and sets it for the services it starts.",
    )
    tenant_file: Path = Field(DEFAULT_TENANT_FILE, description="The tenant configuration (YAML).")
    data_dir: Path = Field(Path("var"), description="Where services keep local state.")
    log_level: str = Field("INFO", description="Python logging level.")
    topic_partitions: int = Field(
        4, ge=1, description="Partitions of topics created by `partnerpulse up` / `topics`."
    )
    broker_port: int = Field(
        19092,
        ge=1,
        le=65535,
        description="Port of the embedded broker `partnerpulse up` starts when no "
        "kafka_bootstrap is configured.",
    )
    api_tokens: Annotated[list[ApiToken], NoDecode] = Field(
        default_factory=list,
        description="API tokens of the query, report and alerts APIs, as "
        "`name:scope:sha256:<hex>` entries (scope read or ack; `partnerpulse token NAME` "
        "makes one): a JSON list, or entries separated by commas or spaces. Several at once "
        "for rotation. None: those APIs answer 401 to everyone.",
    )
    metrics_require_token: bool = Field(
        False,
        description="Ask for an API token (scope read) on /metrics too. Off: /metrics is open "
        "to whoever reaches the port (keep the port internal; see docs/security.md).",
    )
    allow_example_tenant: bool = Field(
        False,
        description="Development switch: let a service start with the example tenant or its "
        "public demo secrets. `partnerpulse up` sets it on loopback; never in production.",
    )

    @field_validator("api_tokens", mode="before")
    @classmethod
    def _token_entries(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [entry for entry in re.split(r"[,\s]+", text) if entry]
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        path = settings_file()
        if path.is_file():
            sources.append(YamlConfigSettingsSource(settings_cls, yaml_file=path))
        return tuple(sources)

    def bootstrap(self) -> str:
        if not self.kafka_bootstrap:
            raise RuntimeError(
                "no Kafka broker configured: set PARTNERPULSE_KAFKA_BOOTSTRAP, or run "
                "`partnerpulse up`, which starts the embedded broker"
            )
        return self.kafka_bootstrap
