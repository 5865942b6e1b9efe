"""ConnectWise PSA callbacks: verify, then normalise tickets, time, schedule and activities.

One callback is one POST of
`{"MessageId","Action":"added|updated|deleted","Type","ID","Entity":"<record as a JSON string>",
"Metadata":{"key_url"},...}`. The signature header `x-content-signature` is
base64(HMAC-SHA256(key=SHA-256(signing_key), message=raw body)); the signing key
is fetched by the HTTP layer from `Metadata.key_url`, which `key_url` below checks
against the tenant's allow-list first (the URL comes from an unauthenticated body).

Record shapes follow the REST API 3.0 models: a ticket's `dateEntered` and
`enteredBy` live in `_info` (top-level is accepted too), `resources` is a
comma-separated string of member identifiers, `company` is
`{"id","identifier","name"}`. A deleted record arrives with `Entity: null`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from services.events.models import (
    Action,
    CanonicalEvent,
    ChargeTo,
    Identity,
    Meeting,
    MeetingKind,
    MeetingStatus,
    Nature,
    Source,
    SourceRef,
    Ticket,
    TimeEntry,
    Visit,
)
from services.events.tenant import Tenant
from services.events.tenant_purpose import TicketPurpose
from services.ingest.adapters.base import (
    Delivery,
    Normalised,
    PayloadError,
    VendorAdapter,
    build_event,
    decode_json,
    get_path,
    make_event,
    parse_time,
    record_version,
    ref_id,
    ref_ids,
    require,
    require_object,
    text,
)
from services.ingest.adapters.connectwise_auth import authenticate, key_url, sign
from services.ingest.adapters.identity import connectwise_configurations, with_text_hostnames
from services.ingest.adapters.purpose import TicketFacts, purpose_of, purpose_payload

SOURCE = Source.connectwise

# -- normalisation --------------------------------------------------------------------

_ACTIONS = {"added": Action.created, "updated": Action.updated, "deleted": Action.deleted}
ENTITY = "Entity."


def normalise(delivery: Delivery, tenant: Tenant) -> Normalised:
    body = require_object(delivery.json(), "body")
    delivery_id = text(body.get("MessageId"))
    raw_action = text(require(body, "Action"))
    action = _ACTIONS.get((raw_action or "").casefold())
    if action is None:
        raise PayloadError("Action", f"expected added, updated or deleted, got {raw_action!r}")
    entity_type = (text(require(body, "Type")) or "").casefold()
    build = _BUILDERS.get(entity_type)
    if build is None:
        return Normalised(events=[], delivery_id=delivery_id)

    raw_entity = body.get("Entity")
    if raw_entity is None or (isinstance(raw_entity, str) and not raw_entity.strip()):
        if action is Action.deleted:
            return Normalised(events=[], delivery_id=delivery_id)
        raise PayloadError("Entity", f"required for an {raw_action} callback")
    if not isinstance(raw_entity, str):
        raise PayloadError(
            "Entity", f"expected the record as a JSON string, got {type(raw_entity).__name__}"
        )
    entity = require_object(decode_json(raw_entity, "Entity"), "Entity")
    if not entity:
        if action is Action.deleted:
            return Normalised(events=[], delivery_id=delivery_id)
        raise PayloadError("Entity", "the record is empty")

    record = _Record(tenant, delivery, body, entity, entity_type, action, delivery_id)
    event = build(record)
    return Normalised(
        events=[] if event is None else [event],
        delivery_id=delivery_id,
        sent_at=record.last_updated or record.date_entered,
    )


class _Record:
    """One decoded callback: the envelope, the record and what every builder needs."""

    def __init__(
        self,
        tenant: Tenant,
        delivery: Delivery,
        body: dict[str, Any],
        entity: dict[str, Any],
        entity_type: str,
        action: Action,
        delivery_id: str | None,
    ) -> None:
        self.tenant = tenant
        self.delivery = delivery
        self.entity = entity
        self.entity_type = entity_type
        self.action = action
        self.delivery_id = delivery_id
        record_id = ref_id(entity.get("id")) or ref_id(body.get("ID"))
        if record_id is None:
            raise PayloadError("Entity.id", "required field is missing or empty")
        self.id = record_id
        self.last_updated = self.time("_info.lastUpdated")
        self.date_entered = self.time("dateEntered") or self.time("_info.dateEntered")

    def get(self, path: str) -> Any:
        return get_path(self.entity, path)

    def time(self, path: str) -> datetime | None:
        return parse_time(self.get(path), ENTITY + path, required=False)

    def required_time(self, path: str) -> datetime:
        return parse_time(self.get(path), ENTITY + path)

    def map(self, picklist: str, path: str) -> Any:
        return self.tenant.map(SOURCE, picklist, text(self.get(path)))

    def member(self, path: str) -> Identity | None:
        """A member reference ({"id","identifier","name"}) or a bare identifier."""
        value = self.get(path)
        if isinstance(value, Mapping):
            ref = text(value.get("identifier")) or ref_id(value.get("id"))
            return self.tenant.identity(SOURCE, ref, text(value.get("name")))
        return self.tenant.identity(SOURCE, text(value))

    def occurred_at(self, fallback: datetime) -> datetime:
        """Creation time for an added record, the last update otherwise."""
        if self.action is Action.created:
            return self.date_entered or fallback
        return self.last_updated or self.date_entered or fallback

    def ref(self, entity: str | None = None, record_id: str | None = None) -> SourceRef:
        """The record itself by default, else a related record (e.g. "ticket", its id)."""
        return SourceRef(source=SOURCE, entity=entity or self.entity_type, id=record_id or self.id)

    def event(
        self, payload_fn: Callable[[], Any], occurred_at: datetime, refs: list[SourceRef]
    ) -> CanonicalEvent:
        company = self.get("company")
        company_ref = ref_id(company)
        identifier = text(company.get("identifier")) if isinstance(company, Mapping) else None
        version = record_version(self.entity, self.get("_info.lastUpdated"))
        return build_event(
            "Entity",
            lambda: make_event(
                tenant=self.tenant,
                source=SOURCE,
                action=self.action,
                identity=f"{self.entity_type}:{self.id}:{self.action}:{version}",
                occurred_at=occurred_at,
                received_at=self.delivery.received_at,
                source_client_ref=company_ref,
                client_refs=[identifier] if identifier else [],
                refs=refs,
                payload=payload_fn(),
                delivery_id=self.delivery_id,
            ),
        )


def _ticket(r: _Record) -> CanonicalEvent:
    created_at = r.date_entered
    if created_at is None:
        raise PayloadError("Entity._info.dateEntered", "required timestamp is missing")
    purpose = purpose_of(r.tenant, SOURCE, [text(r.get("board.name"))])
    if purpose is not TicketPurpose.ticket:
        facts = TicketFacts(
            source=SOURCE,
            ticket_id=r.id,
            action=r.action,
            created_at=created_at,
            summary=text(r.get("summary")),
            status=text(r.get("status.name")),
            due_at=r.time("requiredDate"),
            starts_at=r.time("estimatedStartDate"),
            closed_at=r.time("closedDate") or r.time("dateResolved"),
            updated_at=r.last_updated,
            organiser=r.member("owner"),
        )
        return r.event(
            lambda: purpose_payload(r.tenant, purpose, facts), r.occurred_at(created_at), [r.ref()]
        )
    nature = r.map("nature", "type.name")
    if nature is Nature.unknown and r.get("board.name") is not None:
        nature = r.map("nature", "board.name")
    entered_by = r.member("enteredBy") or r.member("_info.enteredBy")
    contact_ref = text(r.get("contactEmailAddress")) or ref_id(r.get("contact"))
    contact = r.tenant.identity(
        SOURCE, contact_ref, text(r.get("contactName")) or text(r.get("contact.name"))
    )
    assigned = _assigned(r)
    device_ids = ref_ids(r.get("configurations"), ENTITY + "configurations")

    def payload() -> Ticket:
        return Ticket(
            ticket_id=r.id,
            summary=text(r.get("summary")),
            channel=r.map("channel", "source.name"),
            nature=nature,
            priority=r.map("priority", "priority.name"),
            status=text(r.get("status.name")),
            board=text(r.get("board.name")),
            entered_by=entered_by,
            contact=contact,
            assigned_to=assigned,
            created_at=created_at,
            responded_at=r.time("dateResponded"),
            resolved_at=r.time("dateResolved"),
            closed_at=r.time("closedDate"),
            location=r.map("location", "serviceLocation.name"),
            device_ids=device_ids,
            devices=with_text_hostnames(
                connectwise_configurations(r.get("configurations")),
                r.tenant,
                text(r.get("summary")),
                text(r.get("initialDescription")),
            ),
            site=text(r.get("siteName")) or text(r.get("site.name")),
        )

    return r.event(payload, r.occurred_at(created_at), [r.ref()])


def _assigned(r: _Record) -> list[Identity]:
    """The owner, then the members in `resources` ("stech, ronsite"), without repeats."""
    people: list[Identity] = []
    owner = r.member("owner")
    if owner is not None:
        people.append(owner)
    resources = r.get("resources")
    if resources is not None and not isinstance(resources, str):
        raise PayloadError("Entity.resources", "expected a comma-separated string of members")
    for ref in (resources or "").split(","):
        person = r.tenant.identity(SOURCE, ref)
        if person is not None and all(p.id.casefold() != person.id.casefold() for p in people):
            people.append(person)
    return people


def _time(r: _Record) -> CanonicalEvent:
    started_at = r.required_time("timeStart")
    ended_at = r.time("timeEnd")
    hours = _hours(r, started_at, ended_at)
    charge_to = r.map("charge_to", "chargeToType")
    on_ticket = charge_to in (ChargeTo.ticket, ChargeTo.project)
    ticket_id = ref_id(r.get("chargeToId")) if on_ticket else None
    refs = [r.ref()]
    if ticket_id:
        refs.append(r.ref("ticket", ticket_id))

    def payload() -> TimeEntry:
        return TimeEntry(
            entry_id=r.id,
            technician=r.member("member"),
            charge_to=charge_to,
            ticket_id=ticket_id,
            work_type=text(r.get("workType.name")),
            nature=r.map("work_type", "workType.name"),
            started_at=started_at,
            ended_at=ended_at,
            hours=hours,
            notes=text(r.get("notes")),
        )

    return r.event(payload, r.occurred_at(started_at), refs)


_MAX_HOURS = 24 * 31


def _hours(r: _Record, started_at: datetime, ended_at: datetime | None) -> float:
    raw = r.get("actualHours")
    if raw is None:
        if ended_at is None:
            raise PayloadError("Entity.actualHours", "missing, and no timeEnd to derive it from")
        hours = (ended_at - started_at).total_seconds() / 3600
        where = "Entity.timeEnd"
    else:
        if isinstance(raw, bool) or not isinstance(raw, int | float | str):
            raise PayloadError("Entity.actualHours", f"not a number: {raw!r}")
        try:
            hours = float(raw)
        except ValueError:
            raise PayloadError("Entity.actualHours", f"not a number: {raw!r}") from None
        where = "Entity.actualHours"
    if not 0 <= hours <= _MAX_HOURS:
        raise PayloadError(where, f"{hours:g} hours is outside 0 to {_MAX_HOURS}")
    return hours


def _schedule(r: _Record) -> CanonicalEvent:
    starts_at = r.required_time("dateStart")
    ends_at = r.time("dateEnd")
    kind = r.map("meeting_kind", "type.name")
    location = r.map("location", "where.name")
    occurred_at = r.occurred_at(starts_at)
    if r.get("meetingFlag") is True or kind in (MeetingKind.review, MeetingKind.call):
        status = r.map("meeting_status", "status.name")
        return r.event(
            lambda: Meeting(
                meeting_id=r.id,
                meeting_kind=kind,
                title=text(r.get("name")),
                status=status,
                changed_at=_changed_at(r, status),
                starts_at=starts_at,
                ends_at=ends_at,
                booked_at=r.date_entered,
                organiser=r.member("member"),
                location=location,
            ),
            occurred_at,
            [r.ref()],
        )
    # objectId is the record the entry is booked against: the ticket for service
    # and project schedule types.
    ticket_id = ref_id(r.get("objectId"))
    refs = [r.ref()]
    if ticket_id:
        refs.append(r.ref("ticket", ticket_id))
    return r.event(
        lambda: Visit(
            visit_id=r.id,
            technician=r.member("member"),
            location=location,
            ticket_id=ticket_id,
            starts_at=starts_at,
            ends_at=ends_at,
            booked_at=r.date_entered,
            status=text(r.get("status.name")),
            done=r.get("doneFlag") is True,
        ),
        occurred_at,
        refs,
    )


def _changed_at(r: _Record, status: MeetingStatus) -> datetime | None:
    """The notice time of a cancellation, no-show or reschedule: the last update."""
    return None if status is MeetingStatus.scheduled else r.last_updated


def _activity(r: _Record) -> CanonicalEvent | None:
    starts_at = r.time("dateStart")
    if starts_at is None:
        return None  # an undated activity is a to-do, not a meeting
    status = r.map("meeting_status", "status.name")
    refs = [r.ref()]
    ticket_id = ref_id(r.get("ticket"))
    if ticket_id:
        refs.append(r.ref("ticket", ticket_id))
    return r.event(
        lambda: Meeting(
            meeting_id=r.id,
            meeting_kind=r.map("meeting_kind", "type.name"),
            title=text(r.get("name")),
            status=status,
            changed_at=_changed_at(r, status),
            starts_at=starts_at,
            ends_at=r.time("dateEnd"),
            booked_at=r.date_entered,
            organiser=r.member("assignTo"),
            location=r.map("location", "where.name"),
        ),
        r.occurred_at(starts_at),
        refs,
    )


_BUILDERS: dict[str, Callable[[_Record], CanonicalEvent | None]] = {
    "ticket": _ticket,
    "time": _time,
    "schedule": _schedule,
    "activity": _activity,
}

ADAPTER = VendorAdapter(
    source=SOURCE,
    authenticate_fn=authenticate,
    normalise_fn=normalise,
    sign_fn=sign,
    key_url_fn=key_url,
)
