"""The tenant file: what one MSP decides, validated at start-up.

It names the clients (with account leads and how each source system names
them), the technicians, the service-desk intake identities, the picklist
mappings per source, the webhook secrets, the classifier's thresholds and
the alert policy (`alert_policy.py`). Every service loads it with
`load_tenant(path)`; a mistake fails start-up with a `TenantConfigError` that
names the file, the key and the fix.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from enum import StrEnum
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from services.events.alert_policy import AlertPolicy
from services.events.models import (
    AlertSeverity,
    Channel,
    ChargeTo,
    Identity,
    IdentityRole,
    Location,
    MeetingKind,
    MeetingStatus,
    Nature,
    Priority,
    RecommendationStatus,
    Source,
)
from services.events.policy import ClassifierPolicy
from services.events.tenant_branding import Branding
from services.events.tenant_people import (
    AccountLead,
    Client,
    CoManagedStaff,
    Email,
    IntakeIdentities,
    Person,
    SourceIds,
)
from services.events.tenant_polling import PollingConfig
from services.events.tenant_purpose import TicketPurpose, purpose_key_problem
from services.events.tenant_reports import ReportDelivery
from services.events.tenant_webhooks import (
    BasicAuth,
    ConnectWiseWebhook,
    Freshness,
    HeaderSecret,
    HmacSecret,
    Webhooks,
)

__all__ = [
    "AccountLead",
    "BasicAuth",
    "Client",
    "CoManagedStaff",
    "ConnectWiseWebhook",
    "Email",
    "Freshness",
    "HeaderSecret",
    "HmacSecret",
    "IntakeIdentities",
    "Person",
    "SourceIds",
    "Webhooks",
]

# The picklist fields a mapping may name, and the canonical vocabulary of each.
PICKLIST_FIELDS: dict[str, type[StrEnum]] = {
    "channel": Channel,
    "nature": Nature,
    "priority": Priority,
    "location": Location,
    "meeting_status": MeetingStatus,
    "meeting_kind": MeetingKind,
    "severity": AlertSeverity,
    "charge_to": ChargeTo,
    "work_type": Nature,
    # Tickets that are review meetings or recommendations (tenant_purpose.py).
    "ticket_purpose": TicketPurpose,
    "ticket_meeting_status": MeetingStatus,
    "recommendation_status": RecommendationStatus,
}

# What an unmapped value becomes when neither the tenant nor the shipped mappings write a
# `default`: "unknown" where the vocabulary has it, else its neutral value.
IMPLICIT_DEFAULTS: dict[str, str] = {
    name: "unknown" if "unknown" in vocabulary.__members__ else next(iter(vocabulary)).value
    for name, vocabulary in PICKLIST_FIELDS.items()
}
IMPLICIT_DEFAULTS.update(meeting_status="scheduled", meeting_kind="meeting", severity="info")
IMPLICIT_DEFAULTS.update(ticket_meeting_status="scheduled", recommendation_status="open")

VENDOR_SOURCES = [s for s in Source if s is not Source.canonical]


class TenantConfigError(ValueError):
    """The tenant file is unusable; the message names file, key and fix."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Picklist(_Strict):
    """Vendor value -> canonical value, matched case-insensitively, with a default."""

    values: dict[str, str] = Field(default_factory=dict)
    default: str = "unknown"

    @field_validator("values", mode="before")
    @classmethod
    def _ids_as_text(cls, value: Any) -> Any:
        """Integer lookup ids written unquoted (HaloPSA `1: email`) are the key "1"."""
        if isinstance(value, Mapping):
            return {
                str(k) if isinstance(k, int) and not isinstance(k, bool) else k: v
                for k, v in value.items()
            }
        return value


class Tenant(_Strict):
    tenant: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$", description="The MSP's id.")
    clients: list[Client] = Field(min_length=1)
    technicians: list[Person] = Field(default_factory=list)
    service_desk: IntakeIdentities = IntakeIdentities()
    automation: IntakeIdentities = Field(
        IntakeIdentities(), description="RMM integrations and recurring-ticket engines."
    )
    mappings: dict[Source, dict[str, Picklist]] = Field(default_factory=dict)
    remote_tools: list[str] = Field(
        default_factory=list, description="Remote-access tool names that count as a new tool."
    )
    webhooks: Webhooks = Webhooks()
    classifier: ClassifierPolicy = Field(
        ClassifierPolicy(), description="Thresholds, windows and weights of the classifier."
    )
    alerts: AlertPolicy = Field(
        AlertPolicy(), description="Who hears of a risk, through which channels, and when."
    )
    branding: Branding = Field(
        Branding(), description="The MSP's name, logo and colours on the partnership review."
    )
    reports: ReportDelivery = Field(
        ReportDelivery(), description="When each client's review is emailed to its lead."
    )
    polling: PollingConfig | None = Field(
        None,
        description="Vendor APIs to poll for what webhooks do not deliver (docs/connectors.md).",
    )

    @field_validator("mappings")
    @classmethod
    def _known_picklists(
        cls, value: dict[Source, dict[str, Picklist]]
    ) -> dict[Source, dict[str, Picklist]]:
        for source, fields in value.items():
            for name, picklist in fields.items():
                vocabulary = PICKLIST_FIELDS.get(name)
                if vocabulary is None:
                    raise ValueError(
                        f"mappings.{source}.{name}: unknown picklist; "
                        f"use one of {sorted(PICKLIST_FIELDS)}"
                    )
                allowed = {v.value for v in vocabulary}
                if name == "ticket_purpose":
                    for key in picklist.values:
                        if (problem := purpose_key_problem(source, key)) is not None:
                            raise ValueError(f"mappings.{source}.ticket_purpose: {problem}")
                # The implicit default ("unknown") is not checked: a picklist that writes no
                # `default` keeps the shipped one (meeting_status and meeting_kind have no
                # "unknown"); only a default the tenant writes must be of the vocabulary.
                written = "default" in picklist.model_fields_set
                written_default = [("default", picklist.default)] if written else []
                for vendor_value, canonical in [*picklist.values.items(), *written_default]:
                    if canonical not in allowed:
                        raise ValueError(
                            f"mappings.{source}.{name}.{vendor_value}: {canonical!r} is not a "
                            f"{name}; use one of {sorted(allowed)}"
                        )
        return value

    @model_validator(mode="after")
    def _unique(self) -> Tenant:
        seen: dict[tuple[Source, str], str] = {}
        ids = [c.id for c in self.clients]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(
                f"clients: duplicate client id(s) {dupes}; give each client its own id"
            )
        for client in self.clients:
            for source, refs in client.identities.items():
                for ref in refs:
                    key = (source, _norm(ref))
                    if key in seen and seen[key] != client.id:
                        raise ValueError(
                            f"clients.{client.id}.identities.{source}: {ref!r} also names "
                            f"client {seen[key]!r}; a source id must name one client"
                        )
                    seen[key] = client.id
        unknown = sorted(set(self.alerts.clients) - set(ids))
        if unknown:
            raise ValueError(
                f"alerts.clients: {unknown} name no client of this file; use a client id "
                f"from `clients` (known: {sorted(ids)})"
            )
        if (unknown_report_clients := self.reports.unknown_clients(ids)) is not None:
            raise ValueError(unknown_report_clients)
        return self

    # -- look-ups used by the adapters and the classifier ----------------------

    @cached_property
    def _client_index(self) -> dict[tuple[Source, str], str]:
        return {
            (source, _norm(ref)): client.id
            for client in self.clients
            for source, refs in client.identities.items()
            for ref in refs
        }

    @cached_property
    def _identity_index(self) -> dict[tuple[Source | None, str], tuple[IdentityRole, str | None]]:
        index: dict[tuple[Source | None, str], tuple[IdentityRole, str | None]] = {}
        for contact_client in self.clients:
            for contact in contact_client.contacts:
                index[(None, _norm(contact))] = (IdentityRole.client_contact, None)
        for email in self.automation.emails:
            index[(None, _norm(email))] = (IdentityRole.automation, None)
        for source, refs in self.automation.identities.items():
            for ref in refs:
                index[(source, _norm(ref))] = (IdentityRole.automation, None)
        for email in self.service_desk.emails:
            index[(None, _norm(email))] = (IdentityRole.service_desk, None)
        for source, refs in self.service_desk.identities.items():
            for ref in refs:
                index[(source, _norm(ref))] = (IdentityRole.service_desk, None)
        for tech in self.technicians:
            if tech.email:
                index[(None, _norm(tech.email))] = (IdentityRole.technician, tech.name)
            for source, refs in tech.identities.items():
                for ref in refs:
                    index[(source, _norm(ref))] = (IdentityRole.technician, tech.name)
        # Last: a co-managed client's IT person is that, even with a technician's PSA login.
        for client in self.clients:
            staff = client.co_managed_staff
            for email in staff.emails:
                index[(None, _norm(email))] = (IdentityRole.co_managed_staff, None)
            for source, refs in staff.identities.items():
                for ref in refs:
                    index[(source, _norm(ref))] = (IdentityRole.co_managed_staff, None)
        return index

    @cached_property
    def _client_domains(self) -> dict[str, str]:
        return {_norm(d): c.id for c in self.clients for d in c.email_domains}

    @cached_property
    def _merged_mappings(self) -> dict[Source, dict[str, Picklist]]:
        merged: dict[Source, dict[str, Picklist]] = {}
        for source in Source:
            fields = dict(DEFAULT_MAPPINGS.get(source, {}))
            for name, picklist in self.mappings.get(source, {}).items():
                base = fields.get(name, Picklist(default=IMPLICIT_DEFAULTS[name]))
                fields[name] = Picklist(
                    values={**base.values, **picklist.values},
                    default=picklist.default
                    if "default" in picklist.model_fields_set
                    else base.default,
                )
            merged[source] = {
                name: Picklist(values={_norm(k): v for k, v in p.values.items()}, default=p.default)
                for name, p in fields.items()
            }
        return merged

    def client_for(self, source: Source, ref: str | None) -> str | None:
        """The canonical client id a source's client reference names, if any."""
        if ref is None:
            return None
        return self._client_index.get((source, _norm(ref)))

    def client(self, client_id: str) -> Client | None:
        return next((c for c in self.clients if c.id == client_id), None)

    def identity(self, source: Source, ref: str | None, name: str | None = None) -> Identity | None:
        """Resolve a source's person or system reference to an `Identity` with its role."""
        if ref is None or not str(ref).strip():
            return None
        ref = str(ref).strip()
        found = self._identity_index.get((source, _norm(ref))) or self._identity_index.get(
            (None, _norm(ref))
        )
        if found is None and "@" in ref:
            domain = _norm(ref.rsplit("@", 1)[1])
            if domain in self._client_domains:
                found = (IdentityRole.client_contact, None)
        role, known_name = found or (IdentityRole.unknown, None)
        return Identity(id=ref, role=role, name=name or known_name)

    def map(self, source: Source, field: str, value: object) -> Any:
        """Map a vendor picklist value to the canonical vocabulary (default if unknown)."""
        vocabulary = PICKLIST_FIELDS[field]
        picklist = self._merged_mappings.get(source, {}).get(field)
        if picklist is None:
            return vocabulary(IMPLICIT_DEFAULTS[field])
        if value is None or str(value).strip() == "":
            return vocabulary(picklist.default)
        return vocabulary(picklist.values.get(_norm(str(value)), picklist.default))

    def picklist(self, source: Source, field: str) -> Picklist | None:
        """The merged picklist (shipped defaults, then the tenant's), keys case-folded."""
        return self._merged_mappings.get(source, {}).get(field)

    def is_remote_tool(self, name: str | None) -> bool:
        if not name:
            return False
        lowered = name.lower()
        return any(tool.lower() in lowered for tool in self.remote_tools)


def _norm(value: str) -> str:
    return str(value).strip().casefold()


def _load_default_mappings() -> dict[Source, dict[str, Picklist]]:
    text = resources.files("services.events").joinpath("default_mappings.yaml").read_text()
    raw = yaml.safe_load(text)
    return {
        Source(source): {name: Picklist(**p) for name, p in fields.items()}
        for source, fields in raw.items()
    }


DEFAULT_MAPPINGS = _load_default_mappings()

_ENV_REF = re.compile(r"\$\{([A-Z_][A-Z0-9_]*)\}")

_FIXES = {
    "missing": "add this key",
    "extra_forbidden": "remove it or check its spelling",
    "enum": "use one of the listed values",
    "string_pattern_mismatch": "use lower-case letters, digits, '.', '_' or '-'",
    "value_error": "correct the value as described",
    "too_short": "add at least one entry",
}


def _expand_env(node: Any, path: str, file: Path) -> Any:
    """Expand ${VAR} in strings, so secrets can stay out of the file."""
    if isinstance(node, dict):
        return {k: _expand_env(v, f"{path}.{k}" if path else str(k), file) for k, v in node.items()}
    if isinstance(node, list):
        return [_expand_env(v, f"{path}[{i}]", file) for i, v in enumerate(node)]
    if isinstance(node, str):

        def sub(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in os.environ:
                raise TenantConfigError(
                    f"{file}: {path}: environment variable {name} is not set; "
                    f"export it or write the value in the file"
                )
            return os.environ[name]

        return _ENV_REF.sub(sub, node)
    return node


def _loc(loc: tuple[int | str, ...], data: Any) -> str:
    """A readable key path; list items of clients are named by their id."""
    parts: list[str] = []
    node = data
    for item in loc:
        if isinstance(item, int):
            label = f"[{item}]"
            if isinstance(node, list) and item < len(node):
                element = node[item]
                if isinstance(element, dict) and "id" in element:
                    label = f"[{item}:{element['id']}]"
                node = element
            else:
                node = None
            parts.append(label)
        else:
            parts.append(("." if parts else "") + str(item))
            node = node.get(item) if isinstance(node, dict) else None
    return "".join(parts) or "(top level)"


def parse_tenant(data: Mapping[str, Any], file: Path | str = "<tenant>") -> Tenant:
    file = Path(file)
    if not isinstance(data, Mapping):
        raise TenantConfigError(f"{file}: the file must hold a mapping with 'tenant' and 'clients'")
    expanded = _expand_env(dict(data), "", file)
    try:
        return Tenant.model_validate(expanded)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            fix = _FIXES.get(err["type"], "correct the value")
            message = err["msg"].removeprefix("Value error, ")
            lines.append(f"  {_loc(err['loc'], expanded)}: {message} (fix: {fix})")
        raise TenantConfigError(
            f"{file}: invalid tenant configuration:\n" + "\n".join(lines)
        ) from None


def load_tenant(path: Path | str) -> Tenant:
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise TenantConfigError(
            f"{file}: no such tenant file; set PARTNERPULSE_TENANT_FILE or pass --tenant"
        ) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        at = f" at line {where.line + 1}, column {where.column + 1}" if where else ""
        raise TenantConfigError(f"{file}: not valid YAML{at}: {exc}") from None
    return parse_tenant(data, file)
