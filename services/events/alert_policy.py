"""The `alerts:` section of the tenant file: who hears of a risk, how, and when.

Each MSP decides where alerts go (the client's account lead by email, a chat
channel, an ops or owner contact for escalations), how often a lead may be
told about the same thing (cooldown), when nobody should be disturbed (quiet
hours, in the MSP's time zone), and whether lesser risks wait for a daily
digest. Every field has a default, so a tenant file without `alerts:` sends
each risk to the client's account lead by email, at once, with no escalation.
"""

from __future__ import annotations

from datetime import time
from enum import StrEnum
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from services.events.outputs import Severity

Email = Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ChatFormat(StrEnum):
    slack = "slack"  # Slack incoming webhook
    teams = "teams"  # Microsoft Teams incoming webhook (Workflows), adaptive card


class ChatWebhook(_Strict):
    """An incoming-webhook URL of a chat channel. The URL is a secret: write `${ENV_VAR}`.

    The alerts service checks at start that it is an http(s) URL (`bad_chat_urls`); a
    check here would refuse a masked dump of the tenant read back.
    """

    format: ChatFormat
    url: SecretStr = Field(description="The incoming-webhook URL (https).")


class Channels(_Strict):
    """How one person or client is told: by email, and/or in named chat channels."""

    email: bool = Field(True, description="Send email (to the lead's or contact's address).")
    chat: list[str] = Field(
        default_factory=list, description="Names of `alerts.chat_webhooks` to post to."
    )


class Contact(_Strict):
    name: str
    email: Email | None = None
    chat: list[str] = Field(
        default_factory=list, description="Names of `alerts.chat_webhooks` to post to."
    )


class Escalation(_Strict):
    contact: Contact | None = Field(
        None, description="The ops or owner contact escalations go to; none: no escalation."
    )
    on_red: bool = Field(True, description="Tell the contact at once when a client turns red.")
    unacknowledged_after_minutes: float | None = Field(
        240,
        gt=0,
        description="Tell the contact when a risk stays unacknowledged this long after the "
        "lead was told; null: never.",
    )


class QuietHours(_Strict):
    """Notifications due in this span wait until it ends (in `alerts.timezone`)."""

    start: time = Field(description="Local time quiet hours begin, e.g. '19:00'.")
    end: time = Field(description="Local time they end, e.g. '07:30' (the next day if earlier).")
    hold_escalations: bool = Field(
        True, description="Escalations wait too; false: they go out at any hour."
    )

    @model_validator(mode="after")
    def _not_empty(self) -> QuietHours:
        if self.start == self.end:
            raise ValueError("quiet_hours: start and end are equal; remove quiet_hours instead")
        return self


class Digest(_Strict):
    enabled: bool = Field(False, description="Gather lesser risks into one message a day.")
    at: time = Field(time(8, 0), description="Local time the digest is sent.")
    severities: list[Severity] = Field(
        default_factory=lambda: [Severity.info, Severity.warning],
        description="Risks of these severities wait for the digest; others go at once.",
    )


class AlertPolicy(_Strict):
    timezone: str = Field("UTC", description="IANA time zone of quiet hours and the digest.")
    chat_webhooks: dict[str, ChatWebhook] = Field(
        default_factory=dict, description="Named chat channels (the only URLs alerts post to)."
    )
    leads: dict[Email, Channels] = Field(
        default_factory=dict,
        description="Channels per account lead (by the lead's email); default: email only.",
    )
    clients: dict[str, Channels] = Field(
        default_factory=dict,
        description="Channels per client id for its lead's alerts; wins over `leads`.",
    )
    escalation: Escalation = Escalation()
    cooldown_minutes: float = Field(
        60,
        ge=0,
        description="At most one message per client and risk in this time: updates in "
        "between are gathered into the next one.",
    )
    remind_every_minutes: float | None = Field(
        None, gt=0, description="Remind the lead of an unacknowledged risk this often; null: never."
    )
    quiet_hours: QuietHours | None = None
    digest: Digest = Digest()

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r}; use an IANA name such as 'Europe/London'"
            ) from None
        return value

    @model_validator(mode="after")
    def _chat_names(self) -> AlertPolicy:
        named = [(f"leads.{k}", v.chat) for k, v in self.leads.items()]
        named += [(f"clients.{k}", v.chat) for k, v in self.clients.items()]
        if self.escalation.contact is not None:
            contact = self.escalation.contact
            named.append(("escalation.contact", contact.chat))
            if not contact.email and not contact.chat:
                raise ValueError("escalation.contact: give it an email or a chat channel")
        for where, names in named:
            for name in names:
                if name not in self.chat_webhooks:
                    raise ValueError(
                        f"{where}.chat: {name!r} is not in alerts.chat_webhooks; "
                        f"define it there (known: {sorted(self.chat_webhooks)})"
                    )
        return self

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def bad_chat_urls(self) -> list[str]:
        """`alerts.chat_webhooks.<name>.url` of each webhook whose URL is not http(s)."""
        return [
            f"alerts.chat_webhooks.{name}.url"
            for name, hook in self.chat_webhooks.items()
            if not hook.url.get_secret_value().startswith(("https://", "http://"))
        ]
