"""Autotask webhooks: verify the HMAC-SHA1 signature, normalise ticket callouts.

A callout is `{"Action":"Create|Update|Delete","Guid","EntityType","Id","Fields":{...},
"EventTime","SequenceNumber","PersonId"}` signed with
`X-Hook-Signature: sha1=<base64 HMAC-SHA1(secret, raw body)>`.

`Fields` holds only the subscribed and "display always" fields, so an Update is
usually partial: a missing field means "not sent", not "cleared". Field names are
matched case-insensitively (REST names are camelCase, some payloads use PascalCase).

`Guid` names the webhook (the subscription), not the callout: every delivery of
one webhook carries the same Guid, so the delivery id is Guid, Id, Action and
SequenceNumber (or EventTime) together.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from services.events.models import (
    Action,
    CanonicalEvent,
    Meeting,
    Recommendation,
    Source,
    SourceRef,
    Ticket,
)
from services.events.tenant import Tenant
from services.events.tenant_purpose import TicketPurpose
from services.ingest.adapters.base import (
    Delivery,
    Normalised,
    PayloadError,
    VendorAdapter,
    build_event,
    make_event,
    parse_time,
    record_version,
    ref_id,
    require,
    require_object,
    text,
)
from services.ingest.adapters.identity import autotask_ticket_device, with_text_hostnames
from services.ingest.adapters.purpose import TicketFacts, purpose_of, purpose_payload
from services.ingest.adapters.signatures import newest_secret, sign_hmac, verify_hmac

SOURCE = Source.autotask
SIGNATURE_HEADER = "x-hook-signature"
_PREFIX = "sha1="


def authenticate(delivery: Delivery, tenant: Tenant, remote_keys: Sequence[bytes]) -> None:
    presented = delivery.header(SIGNATURE_HEADER)
    if presented and presented.strip().lower().startswith(_PREFIX):
        presented = presented.strip()[len(_PREFIX) :]
    verify_hmac(
        delivery.body,
        presented,
        tenant.webhooks.autotask.secrets,
        digest="sha1",
        encoding="base64",
        header=SIGNATURE_HEADER,
    )


def sign(body: bytes, tenant: Tenant, signing_key: bytes | None) -> dict[str, str]:
    secret = newest_secret(tenant.webhooks.autotask.secrets, SOURCE, "nothing to sign with")
    signature = sign_hmac(body, secret, digest="sha1", encoding="base64")
    return {SIGNATURE_HEADER: _PREFIX + signature}


_ACTIONS = {"create": Action.created, "update": Action.updated, "delete": Action.deleted}


def normalise(delivery: Delivery, tenant: Tenant) -> Normalised:
    body = require_object(delivery.json(), "body")
    raw_action = text(require(body, "Action"))
    action = _ACTIONS.get((raw_action or "").casefold())
    if action is None:
        raise PayloadError("Action", f"expected Create, Update or Delete, got {raw_action!r}")
    record_id = ref_id(require(body, "Id"))
    if record_id is None:
        raise PayloadError("Id", "expected the record id, got an empty reference")
    sequence = text(body.get("SequenceNumber"))
    raw_event_time = text(body.get("EventTime"))
    guid = text(body.get("Guid"))
    callout = sequence or raw_event_time
    delivery_id = ":".join(p or "" for p in (guid, record_id, raw_action, callout))
    if (text(require(body, "EntityType")) or "").casefold() != "ticket":
        return Normalised(events=[], delivery_id=delivery_id)

    raw_fields = body.get("Fields")
    if raw_fields is None:
        raw_fields = {}
    fields = _Fields(require_object(raw_fields, "Fields"))
    event_time = parse_time(raw_event_time, "EventTime", required=False)
    # Fields carries createDate only when it is subscribed or "display always";
    # without it (typically on Update) the callout's EventTime stands in, which is
    # exact for a Create and an upper bound otherwise.
    created_at = fields.time("createDate") or event_time
    if created_at is None:
        raise PayloadError("Fields.createDate", "missing, and no EventTime to fall back on")
    version = ":".join(p for p in (sequence, raw_event_time) if p) or record_version(fields.raw)

    creator = fields.text("creatorResourceID")
    if creator is None and action is Action.created:
        creator = text(body.get("PersonId"))  # who performed the Create
    assignee = tenant.identity(SOURCE, fields.text("assignedResourceID"))
    device = fields.text("configurationItemID")
    if device == "0":
        device = None
    named = autotask_ticket_device(fields.field_or_udf)

    queue, ticket_type = fields.text("queueID"), fields.text("ticketType")
    purpose = purpose_of(
        tenant, SOURCE, [queue and f"queue:{queue}", queue, ticket_type and f"type:{ticket_type}"]
    )

    def payload() -> Ticket | Meeting | Recommendation:
        if purpose is not TicketPurpose.ticket:
            facts = TicketFacts(
                source=SOURCE,
                ticket_id=record_id,
                action=action,
                created_at=created_at,
                summary=fields.text("title"),
                status=fields.text("status"),
                due_at=fields.time("dueDateTime"),
                closed_at=fields.time("completedDate") or fields.time("resolvedDateTime"),
                updated_at=event_time or fields.time("lastActivityDate"),
                organiser=assignee,
            )
            return purpose_payload(tenant, purpose, facts)
        return Ticket(
            ticket_id=record_id,
            number=fields.text("ticketNumber"),
            summary=fields.text("title"),
            channel=tenant.map(SOURCE, "channel", fields.text("source")),
            nature=tenant.map(SOURCE, "nature", fields.text("ticketType")),
            priority=tenant.map(SOURCE, "priority", fields.text("priority")),
            status=fields.text("status"),
            board=fields.text("queueID"),
            entered_by=tenant.identity(SOURCE, creator),
            contact=tenant.identity(SOURCE, fields.text("contactID")),
            assigned_to=[assignee] if assignee else [],
            created_at=created_at,
            responded_at=fields.time("firstResponseDateTime"),
            resolved_at=fields.time("resolvedDateTime"),
            closed_at=fields.time("completedDate"),
            device_ids=[device] if device else [],
            devices=with_text_hostnames(
                [named] if named else [], tenant, fields.text("title"), fields.text("description")
            ),
            rmm_alert_id=fields.text("rmmAlertID") or fields.text("monitorID"),
        )

    def event() -> CanonicalEvent:
        return make_event(
            tenant=tenant,
            source=SOURCE,
            action=action,
            identity=f"ticket:{record_id}:{action}:{version}",
            occurred_at=event_time or created_at,
            received_at=delivery.received_at,
            source_client_ref=fields.text("companyID"),
            refs=[SourceRef(source=SOURCE, entity="ticket", id=record_id)],
            payload=payload(),
            delivery_id=delivery_id,
        )

    return Normalised(
        events=[build_event("Fields", event)], delivery_id=delivery_id, sent_at=event_time
    )


class _Fields:
    """`Fields` with case-insensitive look-up; errors name the field as documented."""

    def __init__(self, raw: dict[str, Any]) -> None:
        self.raw = raw
        self._by_name = {str(k).casefold(): v for k, v in raw.items()}
        udfs = self._by_name.get("userdefinedfields")
        self._udfs = {
            str(u.get("name")).casefold(): u.get("value")
            for u in (udfs if isinstance(udfs, list) else [])
            if isinstance(u, dict) and u.get("name") is not None
        }

    def text(self, name: str) -> str | None:
        return text(self._by_name.get(name.casefold()))

    def field_or_udf(self, name: str) -> str | None:
        """A field, else a user-defined field of that name (`userDefinedFields`)."""
        return self.text(name) or text(self._udfs.get(name.casefold()))

    def time(self, name: str) -> datetime | None:
        return parse_time(self._by_name.get(name.casefold()), f"Fields.{name}", required=False)


ADAPTER = VendorAdapter(
    source=SOURCE,
    authenticate_fn=authenticate,
    normalise_fn=normalise,
    sign_fn=sign,
)
