"""HaloPSA webhooks: HTTP Basic authentication, normalise ticket events.

A delivery is `{"event": "<notification event name>", "ticket": {...}, "action": {...}}`
(or a list of them when batching is on). Halo does not sign; the webhook is set
to Basic authentication with the tenant's username and one of its secrets.

Ticket field names follow Halo's API model (`tickettype_id`, `priority_id`,
`client_id`, `user_id`, `user_email`, `agent_id`, `dateoccurred`, `datecreated`,
`responsedate`, `dateclosed`, `takenby`, `source`, ...). `source`, `tickettype_id`,
`priority_id` and `status_id` are integer lookup ids of the instance, mapped by the
tenant file as strings ("1": email). `dateoccurred` defaults to the logged date: it
becomes `issue_started_at` (late-reporting evidence) only when it is earlier than
`datecreated`. `assets[]` become the ticket's devices (identity.py). Halo writes 0 for
an unset id; those are treated as absent.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from services.events.models import (
    Action,
    CanonicalEvent,
    Identity,
    Meeting,
    Nature,
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
    ref_ids,
    require,
    require_object,
    text,
)
from services.ingest.adapters.identity import halopsa_assets, with_text_hostnames
from services.ingest.adapters.purpose import TicketFacts, purpose_of, purpose_payload
from services.ingest.adapters.signatures import newest_secret, verify_basic_auth

SOURCE = Source.halopsa


def authenticate(delivery: Delivery, tenant: Tenant, remote_keys: Sequence[bytes]) -> None:
    config = tenant.webhooks.halopsa
    verify_basic_auth(delivery.header("authorization"), config.username, config.secrets)


def sign(body: bytes, tenant: Tenant, signing_key: bytes | None) -> dict[str, str]:
    config = tenant.webhooks.halopsa
    password = newest_secret(config.secrets, SOURCE, "no password to send").get_secret_value()
    token = base64.b64encode(f"{config.username}:{password}".encode()).decode()
    return {"authorization": f"Basic {token}"}


def normalise(delivery: Delivery, tenant: Tenant) -> Normalised:
    document = delivery.json()
    if isinstance(document, list):  # batching on: one delivery, several events
        items = [(require_object(item, f"[{i}]"), f"[{i}].") for i, item in enumerate(document)]
    else:
        items = [(require_object(document, "body"), "")]
    events = [
        event
        for item, where in items
        if (event := _event(item, where, delivery, tenant)) is not None
    ]
    return Normalised(events=events)


def _event(
    item: dict[str, Any], where: str, delivery: Delivery, tenant: Tenant
) -> CanonicalEvent | None:
    event_name = text(item.get("event"))
    if "ticket" not in item:
        if event_name is None:
            raise PayloadError(f"{where}ticket", "neither an event nor a ticket is present")
        return None  # an event about something else (client, asset, ...)
    ticket = require_object(item["ticket"], f"{where}ticket")
    halo_action = item.get("action")
    if halo_action is not None:
        halo_action = require_object(halo_action, f"{where}action")
    t = _Ticket(ticket, f"{where}ticket.", tenant)

    ticket_id = ref_id(require(ticket, "id", where=t.where))
    if ticket_id is None:
        raise PayloadError(f"{t.where}id", "expected the ticket id, got an empty reference")
    occurred = t.time("dateoccurred")
    created_at = t.time("datecreated") or occurred
    if created_at is None:
        raise PayloadError(f"{t.where}datecreated", "required timestamp is missing")
    issue_started_at = _issue_start(occurred, created_at)
    action = _action(event_name, ticket)

    entered_by = t.person("takenby")
    if entered_by is None and action is Action.created and halo_action is not None:
        entered_by = _Ticket(halo_action, f"{where}action.", tenant).person("who_agentid")
    assignee = t.person("agent_id")
    contact = tenant.identity(SOURCE, t.text("user_email") or t.id("user_id"), t.text("user_name"))

    if action is Action.created:
        occurred_at = created_at
    else:
        action_time = None
        if halo_action is not None:
            action_time = parse_time(
                halo_action.get("datetime"), f"{where}action.datetime", required=False
            )
        occurred_at = action_time or t.time("lastactiondate") or delivery.received_at
    # Halo has no last-updated stamp on the ticket: the version is its content,
    # plus the action that fired the event.
    version = record_version(ticket)
    if halo_action is not None and ref_id(halo_action.get("id")):
        version = f"action:{ref_id(halo_action.get('id'))}:{version}"

    purpose = purpose_of(tenant, SOURCE, [t.id("tickettype_id")])

    def payload() -> Ticket | Meeting | Recommendation:
        if purpose is not TicketPurpose.ticket:
            facts = TicketFacts(
                source=SOURCE,
                ticket_id=ticket_id,
                action=action,
                created_at=created_at,
                summary=t.text("summary"),
                status=t.id("status_id"),
                due_at=t.time("deadlinedate") or t.time("fixbydate"),
                closed_at=t.time("dateclosed"),
                updated_at=None if action is Action.created else occurred_at,
                organiser=assignee,
            )
            return purpose_payload(tenant, purpose, facts)
        return Ticket(
            ticket_id=ticket_id,
            summary=t.text("summary"),
            channel=tenant.map(SOURCE, "channel", t.text("source")),
            nature=t.nature(),
            priority=tenant.map(SOURCE, "priority", t.id("priority_id")),
            status=t.id("status_id"),
            board=t.text("team"),
            entered_by=entered_by,
            contact=contact,
            assigned_to=[assignee] if assignee else [],
            created_at=created_at,
            issue_started_at=issue_started_at,
            responded_at=t.time("responsedate"),
            closed_at=t.time("dateclosed"),
            device_ids=t.asset_ids(),
            devices=with_text_hostnames(
                halopsa_assets(ticket.get("assets")), tenant, t.text("summary"), t.text("details")
            ),
            site=t.text("site_name"),
        )

    def event() -> CanonicalEvent:
        return make_event(
            tenant=tenant,
            source=SOURCE,
            action=action,
            identity=f"ticket:{ticket_id}:{action}:{(event_name or '').casefold()}:{version}",
            occurred_at=occurred_at,
            received_at=delivery.received_at,
            source_client_ref=t.id("client_id"),
            refs=[SourceRef(source=SOURCE, entity="ticket", id=ticket_id)],
            payload=payload(),
            delivery_id=None,  # Halo sends no delivery id
        )

    return build_event(f"{where}ticket", event)


# Halo fills `dateoccurred` with the logged date unless someone sets it; within this of
# creation it is that default, not a stated start.
_DEFAULT_OCCURRED = timedelta(minutes=1)


def _issue_start(occurred: datetime | None, created_at: datetime) -> datetime | None:
    """`dateoccurred` as the issue start only where someone stated one: an earlier time
    than the ticket's creation. Equal to creation (Halo's default) says nothing, and a
    time after creation is no start of the issue reported."""
    if occurred is None or occurred > created_at - _DEFAULT_OCCURRED:
        return None
    return occurred


def _action(event_name: str | None, ticket: Mapping[str, Any]) -> Action:
    """The canonical action from Halo's notification event name ("New Ticket Logged",
    "Ticket Updated", ...), which are Halo's own, not tenant picklists."""
    name = (event_name or "").casefold()
    words = name.split()
    if ticket.get("deleted") is True or "deleted" in words:
        return Action.deleted
    if "new" in words or "logged" in words:
        return Action.created
    return Action.updated


class _Ticket:
    """Typed look-ups on a Halo object; errors name the JSON path."""

    def __init__(self, raw: Mapping[str, Any], where: str, tenant: Tenant) -> None:
        self.raw = raw
        self.where = where
        self.tenant = tenant

    def text(self, name: str) -> str | None:
        return text(self.raw.get(name))

    def id(self, name: str) -> str | None:
        value = ref_id(self.raw.get(name))
        return None if value in (None, "0") else value

    def person(self, name: str) -> Identity | None:
        return self.tenant.identity(SOURCE, self.id(name))

    def time(self, name: str) -> datetime | None:
        value = parse_time(self.raw.get(name), self.where + name, required=False)
        # Halo fills unset dates with 1900-01-01 (verify); no real ticket is that old.
        return None if value is None or value.year <= 1900 else value

    def nature(self) -> Nature:
        """tickettype_id, else the first of category_1..4 the tenant maps."""
        nature: Nature = self.tenant.map(SOURCE, "nature", self.id("tickettype_id"))
        for name in ("category_1", "category_2", "category_3", "category_4"):
            if nature is not Nature.unknown:
                break
            category = self.text(name)
            if category is not None:
                nature = self.tenant.map(SOURCE, "nature", category)
        return nature

    def asset_ids(self) -> list[str]:
        assets = ref_ids(self.raw.get("assets"), self.where + "assets")
        return [i for i in assets if i != "0"]


ADAPTER = VendorAdapter(
    source=SOURCE,
    authenticate_fn=authenticate,
    normalise_fn=normalise,
    sign_fn=sign,
)
