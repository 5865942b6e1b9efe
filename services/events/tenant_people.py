"""Who is who in the tenant file: the clients, the technicians and the intake paths.

Models of `services/events/tenant.py` (split out for size); import them from there.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from services.events.models import Source


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


Email = Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+$")]


class AccountLead(_Strict):
    name: str
    email: Email


SourceIds = dict[Source, list[str]]


class CoManagedStaff(_Strict):
    """A co-managed client's own IT staff: they have PSA logins and enter their tickets
    themselves, which is their intake path, not going around the service desk."""

    emails: list[str] = Field(default_factory=list, description="Their email addresses.")
    identities: SourceIds = Field(
        default_factory=dict, description="Their PSA logins per source (member, resource id)."
    )


class Client(_Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$", description="Canonical client id.")
    name: str
    account_lead: AccountLead
    endpoints: int | None = Field(None, ge=0, description="Managed endpoints; else counted.")
    identities: SourceIds = Field(
        default_factory=dict,
        description="How each source names this client (CW company id or identifier, "
        "Autotask companyID, Halo client_id, NinjaOne organization id, Datto site_uid, "
        "Tactical client name).",
    )
    contacts: list[str] = Field(
        default_factory=list, description="Contact emails or ids known to belong to the client."
    )
    email_domains: list[str] = Field(default_factory=list)
    co_managed_staff: CoManagedStaff = Field(
        CoManagedStaff(), description="The client's own IT staff, when it is co-managed."
    )
    review_cadence: int | None = Field(
        None,
        ge=7,
        le=366,
        description="Days between the client's review meetings (90: quarterly). With it, a "
        "review that lapsed (none held for the cadence plus 14 days) is a skipped meeting.",
    )


class Person(_Strict):
    name: str
    email: Email | None = None
    identities: SourceIds = Field(default_factory=dict)


class IntakeIdentities(_Strict):
    """Identities that are a path into the service desk rather than a person."""

    emails: list[str] = Field(default_factory=list, description="Service-desk mailboxes.")
    identities: SourceIds = Field(default_factory=dict)
