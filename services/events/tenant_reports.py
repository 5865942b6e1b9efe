"""When each client's partnership review goes to its account lead: the `reports:` section.

Optional. Without it no review is emailed (the report is still made on request). With
it, the alerts service emails the PDF of the period just ended to the client's account
lead, once per period, on the client's cadence: `schedule` for every client, or the
client's own entry in `clients` (its review cadence). Periods are calendar months or
quarters in the tenant's `alerts.timezone`; the mail goes `send_after_hours` after the
period ends, so events reported a little late are in it.

```yaml
reports:
  schedule: quarterly        # monthly | quarterly | off (the default)
  send_after_hours: 6
  clients:                   # a client's own review cadence
    acme: monthly
    initech: off
```
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class Cadence(StrEnum):
    monthly = "monthly"
    quarterly = "quarterly"
    off = "off"


class ReportDelivery(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    schedule: Cadence = Field(
        Cadence.off,
        description="How often every client's review is emailed to its account lead: "
        "monthly, quarterly or off.",
    )
    clients: dict[str, Cadence] = Field(
        default_factory=dict,
        description="A client's own review cadence (client id -> monthly, quarterly or off), "
        "instead of `schedule`.",
    )
    send_after_hours: float = Field(
        6.0,
        ge=0,
        le=14 * 24,
        description="Hours after a period's end before its review is made and sent, so "
        "late-reported events are in it.",
    )

    def cadence(self, client_id: str) -> Cadence:
        return self.clients.get(client_id, self.schedule)

    def unknown_clients(self, ids: list[str]) -> str | None:
        """A message naming entries of `clients` that are not client ids, or None."""
        unknown = sorted(set(self.clients) - set(ids))
        if not unknown:
            return None
        return (
            f"reports.clients: {unknown} name no client of this file; use a client id "
            "from clients[].id"
        )
