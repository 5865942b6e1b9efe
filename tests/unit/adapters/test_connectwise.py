"""ConnectWise PSA callbacks: signature, key_url allow-list, normalisation of every Type."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from services.classifier.domain.devices import ticket_keys
from services.events.models import (
    Action,
    Channel,
    ChargeTo,
    IdentityRole,
    Location,
    Meeting,
    MeetingKind,
    MeetingStatus,
    Nature,
    Priority,
    Source,
    Ticket,
    TimeEntry,
    Visit,
)
from services.events.tenant import Tenant
from services.ingest.adapters.base import AuthenticationError, Delivery, PayloadError
from services.ingest.adapters.connectwise import ADAPTER
from tests.unit.adapters import helpers

RECEIVED = datetime(2026, 3, 2, 14, 5, 12, tzinfo=UTC)
SIGNING_KEY = b"d4f1c0b2-4c5e-4a8f-9b1e-northwind-callback-key"
TENANT_FILE = Path(__file__).parents[2] / "fixtures" / "tenant.yaml"


def signature(body: bytes, signing_key: bytes) -> str:
    """What ConnectWise sends, computed here independently of the adapter."""
    key = hashlib.sha256(signing_key).digest()
    return base64.b64encode(hmac.new(key, body, hashlib.sha256).digest()).decode()


raw = partial(helpers.raw, "connectwise")

delivery = partial(helpers.make_delivery, Source.connectwise, RECEIVED, lowercase=False)


def signed(body: bytes, signing_key: bytes = SIGNING_KEY) -> Delivery:
    return delivery(body, {"x-content-signature": signature(body, signing_key)})


def mutated(
    payloads: Path,
    name: str,
    envelope: Callable[[dict[str, Any]], None] | None = None,
    entity: Callable[[dict[str, Any]], None] | None = None,
) -> bytes:
    """A fixture with its envelope or its (string-encoded) Entity changed."""
    body = json.loads(raw(payloads, name))
    if entity is not None:
        record = json.loads(body["Entity"])
        entity(record)
        body["Entity"] = json.dumps(record, separators=(",", ":"))
    if envelope is not None:
        envelope(body)
    return json.dumps(body, separators=(",", ":")).encode()


def normalise(tenant: Tenant, body: bytes, received_at: datetime = RECEIVED) -> Any:
    return ADAPTER.normalise(delivery(body, received_at=received_at), tenant)


def one(tenant: Tenant, body: bytes) -> Any:
    return helpers.one_event(normalise(tenant, body))


tenant_with = helpers.tenant_with

# -- signature -------------------------------------------------------------------------


def test_good_signature_over_the_raw_bytes_is_accepted(tenant: Tenant, payloads: Path) -> None:
    body = raw(payloads, "ticket_added")
    ADAPTER.authenticate(signed(body), tenant, [SIGNING_KEY])
    with pytest.raises(AuthenticationError):  # the same bytes under another key: refused
        ADAPTER.authenticate(signed(body), tenant, [b"another-key"])


def test_the_key_document_as_served_by_key_url_is_accepted(tenant: Tenant, payloads: Path) -> None:
    body = raw(payloads, "ticket_added")
    served = json.dumps({"signing_key": SIGNING_KEY.decode()}).encode()
    ADAPTER.authenticate(signed(body), tenant, [served])
    other = json.dumps({"signing_key": "another-key"}).encode()
    with pytest.raises(AuthenticationError):
        ADAPTER.authenticate(signed(body), tenant, [other])


def test_rotated_key_second_in_the_list_is_accepted(tenant: Tenant, payloads: Path) -> None:
    body = raw(payloads, "ticket_added")
    new_key = b"rotated-signing-key"
    ADAPTER.authenticate(signed(body, new_key), tenant, [SIGNING_KEY, new_key])
    with pytest.raises(AuthenticationError):  # the rotated key is not in the list: refused
        ADAPTER.authenticate(signed(body, new_key), tenant, [SIGNING_KEY])


def test_wrong_key_is_refused(tenant: Tenant, payloads: Path) -> None:
    body = raw(payloads, "ticket_added")
    with pytest.raises(AuthenticationError, match="does not match"):
        ADAPTER.authenticate(signed(body, b"someone-elses-key"), tenant, [SIGNING_KEY])


def test_signature_made_with_the_raw_key_instead_of_its_digest_is_refused(
    tenant: Tenant, payloads: Path
) -> None:
    body = raw(payloads, "ticket_added")
    plain = base64.b64encode(hmac.new(SIGNING_KEY, body, hashlib.sha256).digest()).decode()
    with pytest.raises(AuthenticationError):
        ADAPTER.authenticate(delivery(body, {"x-content-signature": plain}), tenant, [SIGNING_KEY])


def test_reserialised_body_no_longer_verifies(tenant: Tenant, payloads: Path) -> None:
    body = raw(payloads, "ticket_added")
    header = {"x-content-signature": signature(body, SIGNING_KEY)}
    pretty = json.dumps(json.loads(body), indent=2).encode()
    with pytest.raises(AuthenticationError):
        ADAPTER.authenticate(delivery(pretty, header), tenant, [SIGNING_KEY])


def test_missing_signature_header_is_refused(tenant: Tenant, payloads: Path) -> None:
    with pytest.raises(AuthenticationError, match="missing x-content-signature"):
        ADAPTER.authenticate(delivery(raw(payloads, "ticket_added")), tenant, [SIGNING_KEY])


def test_signature_that_is_not_base64_is_refused(tenant: Tenant, payloads: Path) -> None:
    body = raw(payloads, "ticket_added")
    with pytest.raises(AuthenticationError, match="base64"):
        ADAPTER.authenticate(
            delivery(body, {"x-content-signature": "not*base64"}), tenant, [SIGNING_KEY]
        )


def test_no_fetched_key_is_refused(tenant: Tenant, payloads: Path) -> None:
    with pytest.raises(AuthenticationError, match="no signing key"):
        ADAPTER.authenticate(signed(raw(payloads, "ticket_added")), tenant, [])


def test_sign_produces_what_connectwise_sends(tenant: Tenant, payloads: Path) -> None:
    body = raw(payloads, "time_ticket")
    assert ADAPTER.sign(body, tenant, SIGNING_KEY) == {
        "x-content-signature": signature(body, SIGNING_KEY)
    }
    with pytest.raises(ValueError):
        ADAPTER.sign(body, tenant, None)


# -- key_url: checked before anything is fetched --------------------------------------


def key_url_of(url: Any) -> bytes:
    return json.dumps({"MessageId": "m", "Metadata": {"key_url": url}}).encode()


def test_key_url_on_the_allow_list_is_returned(tenant: Tenant, payloads: Path) -> None:
    assert ADAPTER.key_url_fn is not None
    url = ADAPTER.key_url_fn(signed(raw(payloads, "ticket_added")), tenant)
    assert url.startswith("https://api-na.myconnectwise.net/v4_6_release/system/callbackkey/")


def test_loopback_key_server_with_a_port_is_allowed(tenant: Tenant) -> None:
    assert ADAPTER.key_url_fn is not None
    url = "http://127.0.0.1:18765/v4_6_release/system/callbackkey/index.rails?id=1"
    assert ADAPTER.key_url_fn(signed(key_url_of(url)), tenant) == url


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example.com/callbackkey",
        "http://api-na.myconnectwise.net/callbackkey",  # plain http to a public host
        "https://api-na.myconnectwise.net.evil.example/callbackkey",
        "https://evil.example/?host=api-na.myconnectwise.net",
        "https://myconnectwise.net@evil.example/callbackkey",
        "ftp://api-na.myconnectwise.net/callbackkey",
        "http://127.0.0.1/callbackkey",  # loopback only with an explicit port
        "http://169.254.169.254/latest/meta-data/",
        "not a url",
        "",
        None,
        42,
        ["https://api-na.myconnectwise.net/"],
    ],
)
def test_key_url_off_the_allow_list_is_refused_without_fetching(tenant: Tenant, url: Any) -> None:
    assert ADAPTER.key_url_fn is not None
    with pytest.raises(AuthenticationError, match="key_url"):
        ADAPTER.key_url_fn(signed(key_url_of(url)), tenant)


@pytest.mark.parametrize(
    "body", [b"{not json", b"[]", json.dumps({"MessageId": "m"}).encode(), b'{"Metadata":"x"}']
)
def test_key_url_missing_or_unreadable_is_refused(tenant: Tenant, body: bytes) -> None:
    assert ADAPTER.key_url_fn is not None
    with pytest.raises(AuthenticationError):
        ADAPTER.key_url_fn(signed(body), tenant)


def test_unsigned_delivery_is_refused_before_any_key_fetch(tenant: Tenant, payloads: Path) -> None:
    assert ADAPTER.key_url_fn is not None
    with pytest.raises(AuthenticationError, match="missing x-content-signature"):
        ADAPTER.key_url_fn(delivery(raw(payloads, "ticket_added")), tenant)


def test_key_served_by_an_attacker_host_never_authenticates(tenant: Tenant) -> None:
    attacker_key = b"attacker-key"
    body = key_url_of("https://keys.attacker.example/k")
    with pytest.raises(AuthenticationError, match="key_url"):
        ADAPTER.authenticate(signed(body, attacker_key), tenant, [attacker_key])


# -- tickets ---------------------------------------------------------------------------


def test_ticket_added_maps_every_field(tenant: Tenant, payloads: Path) -> None:
    result = normalise(tenant, raw(payloads, "ticket_added"))
    assert result.delivery_id == "6dd82302-5e46-47c0-8c84-702868125b76"
    [event] = result.events
    assert event.source is Source.connectwise
    assert event.action is Action.created
    assert event.client_id == "acme" and event.client_known
    assert event.source_client_ref == "250"
    assert [str(r) for r in event.refs] == ["connectwise:ticket:48211"]
    assert event.delivery_id == result.delivery_id
    assert event.received_at == RECEIVED
    ticket = event.payload
    assert isinstance(ticket, Ticket)
    assert ticket.ticket_id == "48211"
    assert ticket.summary == "Front desk PC will not boot"
    assert ticket.channel is Channel.email
    assert ticket.nature is Nature.incident
    assert ticket.priority is Priority.high
    assert ticket.location is Location.onsite
    assert ticket.status == "New" and ticket.board == "Service Desk"
    assert ticket.entered_by is not None
    assert ticket.entered_by.role is IdentityRole.service_desk
    assert ticket.contact is not None
    assert ticket.contact.id == "dana@acmedental.example"
    assert ticket.contact.role is IdentityRole.client_contact
    assert ticket.contact.name == "Dana Reyes"
    assert ticket.assigned_to == []
    assert ticket.created_at == datetime(2026, 3, 2, 14, 5, 9, tzinfo=UTC)
    assert event.occurred_at == ticket.created_at
    assert ticket.site == "Main"


def test_ticket_updated_uses_last_updated_and_collects_owner_and_resources(
    tenant: Tenant, payloads: Path
) -> None:
    event = one(tenant, raw(payloads, "ticket_updated"))
    assert event.action is Action.updated
    assert event.occurred_at == datetime(2026, 3, 2, 14, 20, tzinfo=UTC)
    ticket = event.payload
    assert ticket.created_at == datetime(2026, 3, 2, 14, 5, 9, tzinfo=UTC)
    assert ticket.responded_at == datetime(2026, 3, 2, 14, 19, 40, tzinfo=UTC)
    assert [(p.id, p.role, p.name) for p in ticket.assigned_to] == [
        ("stech", IdentityRole.technician, "Sam Tech"),
        ("ronsite", IdentityRole.technician, "Rita Onsite"),
    ]
    assert ticket.status == "In Progress"


def test_a_retry_of_the_same_delivery_keeps_the_event_id(tenant: Tenant, payloads: Path) -> None:
    body = raw(payloads, "ticket_updated")
    first = normalise(tenant, body).events[0]
    retry = normalise(tenant, body, received_at=datetime(2026, 3, 2, 14, 20, 4, tzinfo=UTC))
    assert retry.events[0].event_id == first.event_id
    assert retry.delivery_id == first.delivery_id


def test_the_same_record_version_from_another_callback_keeps_the_event_id(
    tenant: Tenant, payloads: Path
) -> None:
    body = raw(payloads, "ticket_updated")

    def other_message(envelope: dict[str, Any]) -> None:
        envelope["MessageId"] = "0d6c1d53-0000-4000-8000-000000000001"
        envelope["CallbackObjectRecId"] = 26605

    duplicate = mutated(payloads, "ticket_updated", envelope=other_message)
    assert one(tenant, duplicate).event_id == one(tenant, body).event_id


def test_two_updates_get_different_event_ids(tenant: Tenant, payloads: Path) -> None:
    ids = {
        one(tenant, raw(payloads, name)).event_id
        for name in ("ticket_added", "ticket_updated", "ticket_updated_again")
    }
    assert len(ids) == 3


def test_without_last_updated_the_version_is_the_record_content(
    tenant: Tenant, payloads: Path
) -> None:
    def no_stamp(summary: str) -> Callable[[dict[str, Any]], None]:
        def change(record: dict[str, Any]) -> None:
            del record["_info"]["lastUpdated"]
            record["summary"] = summary

        return change

    a = one(tenant, mutated(payloads, "ticket_updated", entity=no_stamp("A")))
    a_again = one(tenant, mutated(payloads, "ticket_updated", entity=no_stamp("A")))
    b = one(tenant, mutated(payloads, "ticket_updated", entity=no_stamp("B")))
    assert a.event_id == a_again.event_id != b.event_id
    assert a.occurred_at == a.payload.created_at  # no lastUpdated: falls back to dateEntered


def test_ticket_entered_by_a_technician_direct(tenant: Tenant, payloads: Path) -> None:
    event = one(tenant, raw(payloads, "ticket_direct_by_tech"))
    ticket = event.payload
    assert ticket.channel is Channel.direct_email
    assert ticket.entered_by is not None
    assert (ticket.entered_by.id, ticket.entered_by.role) == ("stech", IdentityRole.technician)
    assert ticket.nature is Nature.incident  # no type: the board "Break/Fix" decides
    assert ticket.priority is Priority.critical
    assert ticket.location is Location.remote
    assert ticket.device_ids == ["5512"]
    # company id 9999 is unknown, its identifier AcmeDental is not
    assert event.client_id == "acme" and event.client_known
    assert event.source_client_ref == "9999"


def test_unknown_client_is_flagged_not_refused(tenant: Tenant, payloads: Path) -> None:
    event = one(tenant, raw(payloads, "ticket_unknown_client"))
    assert event.client_known is False
    assert event.client_id == "unknown:connectwise:777"
    assert event.source_client_ref == "777"


def test_unknown_picklist_values_map_to_the_defaults(tenant: Tenant, payloads: Path) -> None:
    ticket = one(tenant, raw(payloads, "ticket_unknown_client")).payload
    assert ticket.channel is Channel.unknown
    assert ticket.nature is Nature.unknown
    assert ticket.priority is Priority.unknown
    assert ticket.location is Location.unknown


def test_the_tenant_mapping_decides_not_the_code(payloads: Path) -> None:
    def pigeons_are_walk_ins(data: dict[str, Any]) -> None:
        data["mappings"] = {"connectwise": {"channel": {"values": {"Carrier Pigeon": "walk_in"}}}}

    custom = tenant_with(pigeons_are_walk_ins)
    ticket = one(custom, raw(payloads, "ticket_unknown_client")).payload
    assert ticket.channel is Channel.walk_in


def test_ticket_with_only_the_required_fields(tenant: Tenant, payloads: Path) -> None:
    event = one(tenant, raw(payloads, "ticket_minimal"))
    assert event.client_id == "globex"
    ticket = event.payload
    assert (ticket.channel, ticket.nature, ticket.priority) == (
        Channel.unknown,
        Nature.unknown,
        Priority.unknown,
    )
    assert ticket.contact is None and ticket.assigned_to == [] and ticket.status is None
    assert ticket.entered_by is not None
    assert ticket.entered_by.role is IdentityRole.service_desk  # "Portal"


def test_deleted_with_a_null_entity_carries_nothing(tenant: Tenant, payloads: Path) -> None:
    result = normalise(tenant, raw(payloads, "ticket_deleted"))
    assert result.events == []
    assert result.delivery_id == "824d99d2-33c0-4c56-9ded-d99d895a90e3"


@pytest.mark.parametrize("entity", ["", "{}"])
def test_deleted_with_an_empty_entity_carries_nothing(
    tenant: Tenant, payloads: Path, entity: str
) -> None:
    def empty(envelope: dict[str, Any]) -> None:
        envelope["Entity"] = entity

    assert normalise(tenant, mutated(payloads, "ticket_deleted", envelope=empty)).events == []


def test_deleted_with_the_record_is_a_deleted_event(tenant: Tenant, payloads: Path) -> None:
    def deleted(envelope: dict[str, Any]) -> None:
        envelope["Action"] = "deleted"

    event = one(tenant, mutated(payloads, "ticket_updated", envelope=deleted))
    assert event.action is Action.deleted
    assert event.event_id != one(tenant, raw(payloads, "ticket_updated")).event_id


def test_a_type_we_do_not_handle_carries_nothing(tenant: Tenant, payloads: Path) -> None:
    result = normalise(tenant, raw(payloads, "company_updated"))
    assert result.events == []
    assert result.delivery_id == "8b9c0d1e-2f3a-4b5c-8d7e-8f9a0b1c2d34"


# -- time entries ----------------------------------------------------------------------


def test_time_on_a_ticket(tenant: Tenant, payloads: Path) -> None:
    event = one(tenant, raw(payloads, "time_ticket"))
    assert [str(r) for r in event.refs] == ["connectwise:time:90001", "connectwise:ticket:48211"]
    assert event.client_id == "acme"
    assert event.action is Action.created
    assert event.occurred_at == datetime(2026, 3, 3, 10, 40, tzinfo=UTC)  # dateEntered
    entry = event.payload
    assert isinstance(entry, TimeEntry)
    assert entry.entry_id == "90001"
    assert entry.charge_to is ChargeTo.ticket and entry.ticket_id == "48211"
    assert entry.technician is not None
    assert (entry.technician.id, entry.technician.role) == ("ronsite", IdentityRole.technician)
    assert entry.work_type == "Onsite Support" and entry.nature is Nature.incident
    assert entry.started_at == datetime(2026, 3, 3, 9, 5, tzinfo=UTC)
    assert entry.ended_at == datetime(2026, 3, 3, 10, 35, tzinfo=UTC)
    assert entry.hours == 1.5
    assert entry.notes == "Replaced PSU"


def test_time_on_a_charge_code_has_no_ticket(tenant: Tenant, payloads: Path) -> None:
    event = one(tenant, raw(payloads, "time_chargecode"))
    entry = event.payload
    assert entry.charge_to is ChargeTo.charge_code
    assert entry.ticket_id is None
    assert [str(r) for r in event.refs] == ["connectwise:time:90002"]
    assert entry.hours == 0.25  # no actualHours: from timeStart and timeEnd
    assert event.client_id == "globex"


def test_time_on_a_project_ticket_points_at_the_ticket(tenant: Tenant, payloads: Path) -> None:
    def project(record: dict[str, Any]) -> None:
        record["chargeToType"] = "ProjectTicket"
        record["workType"] = {"id": 7, "name": "Project"}

    event = one(tenant, mutated(payloads, "time_ticket", entity=project))
    assert event.payload.charge_to is ChargeTo.project
    assert event.payload.ticket_id == "48211"
    assert event.payload.nature is Nature.project
    assert str(event.refs[1]) == "connectwise:ticket:48211"


# -- schedule entries and activities ---------------------------------------------------


def test_schedule_entry_is_a_visit_for_its_ticket(tenant: Tenant, payloads: Path) -> None:
    event = one(tenant, raw(payloads, "schedule_visit"))
    assert [str(r) for r in event.refs] == [
        "connectwise:schedule:9123",
        "connectwise:ticket:48211",
    ]
    visit = event.payload
    assert isinstance(visit, Visit)
    assert visit.visit_id == "9123" and visit.ticket_id == "48211"
    assert visit.location is Location.onsite
    assert visit.technician is not None and visit.technician.id == "ronsite"
    assert visit.starts_at == datetime(2026, 3, 3, 9, tzinfo=UTC)
    assert visit.ends_at == datetime(2026, 3, 3, 11, tzinfo=UTC)
    assert visit.booked_at == datetime(2026, 3, 2, 14, 30, tzinfo=UTC)
    assert visit.status == "Firm" and visit.done is False
    # a schedule entry names no company: the classifier joins it to its ticket
    assert event.client_known is False


def test_schedule_entry_of_a_review_type_is_a_meeting(tenant: Tenant, payloads: Path) -> None:
    event = one(tenant, raw(payloads, "schedule_meeting"))
    meeting = event.payload
    assert isinstance(meeting, Meeting)
    assert meeting.meeting_kind is MeetingKind.review
    assert meeting.status is MeetingStatus.no_show
    assert meeting.changed_at == datetime(2026, 3, 10, 9, 20, tzinfo=UTC)
    assert meeting.booked_at == datetime(2026, 2, 20, 16, tzinfo=UTC)
    assert meeting.organiser is not None and meeting.organiser.id == "stech"
    assert meeting.location is Location.remote
    assert [str(r) for r in event.refs] == ["connectwise:schedule:9130"]


def test_schedule_entry_with_meeting_flag_is_a_meeting(tenant: Tenant, payloads: Path) -> None:
    def flagged(record: dict[str, Any]) -> None:
        record["meetingFlag"] = True
        record["status"] = {"id": 2, "name": "Firm"}

    meeting = one(tenant, mutated(payloads, "schedule_visit", entity=flagged)).payload
    assert isinstance(meeting, Meeting)
    assert meeting.meeting_kind is MeetingKind.meeting  # type "Service" is no review
    assert meeting.status is MeetingStatus.scheduled
    assert meeting.changed_at is None


def test_activity_is_a_meeting(tenant: Tenant, payloads: Path) -> None:
    event = one(tenant, raw(payloads, "activity_meeting"))
    assert event.action is Action.updated
    assert event.client_id == "acme"
    assert [str(r) for r in event.refs] == [
        "connectwise:activity:7001",
        "connectwise:ticket:48211",
    ]
    meeting = event.payload
    assert meeting.meeting_kind is MeetingKind.review
    assert meeting.status is MeetingStatus.cancelled
    assert meeting.changed_at == datetime(2026, 3, 12, 8, 5, tzinfo=UTC)
    assert meeting.starts_at == datetime(2026, 3, 12, 14, tzinfo=UTC)
    assert meeting.title == "Quarterly business review"
    assert meeting.organiser is not None
    assert meeting.organiser.role is IdentityRole.technician
    assert meeting.location is Location.onsite


def test_undated_activity_is_not_a_meeting(tenant: Tenant, payloads: Path) -> None:
    def undated(record: dict[str, Any]) -> None:
        del record["dateStart"], record["dateEnd"]

    assert normalise(tenant, mutated(payloads, "activity_meeting", entity=undated)).events == []


# -- malformed deliveries --------------------------------------------------------------


def payload_error(tenant: Tenant, body: bytes) -> PayloadError:
    with pytest.raises(PayloadError) as caught:
        normalise(tenant, body)
    return caught.value


@pytest.mark.parametrize("body", [b"{oops", b"\xff\xfe", b""])
def test_body_that_is_not_json(tenant: Tenant, body: bytes) -> None:
    assert payload_error(tenant, body).field == "body"


def test_body_that_is_not_an_object(tenant: Tenant) -> None:
    assert payload_error(tenant, b"[1, 2]").field == "body"


def set_envelope(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(envelope: dict[str, Any]) -> None:
        if value is ...:
            del envelope[key]
        else:
            envelope[key] = value

    return change


@pytest.mark.parametrize(
    ("key", "value", "field", "problem"),
    [
        ("Entity", {"id": 48211}, "Entity", "JSON string"),
        ("Entity", "{not json", "Entity", "not valid JSON"),
        ("Entity", "[1, 2]", "Entity", "JSON object"),
        ("Entity", None, "Entity", "required"),
        ("Entity", "{}", "Entity", "empty"),
        ("Action", "exploded", "Action", "added, updated or deleted"),
        ("Action", ..., "Action", "missing"),
        ("Type", ..., "Type", "missing"),
    ],
)
def test_malformed_envelope_names_the_field(
    tenant: Tenant, payloads: Path, key: str, value: Any, field: str, problem: str
) -> None:
    error = payload_error(tenant, mutated(payloads, "ticket_added", set_envelope(key, value)))
    assert error.field == field
    assert problem in error.problem


def drop(*path: str) -> Callable[[dict[str, Any]], None]:
    def change(record: dict[str, Any]) -> None:
        node = record
        for part in path[:-1]:
            node = node[part]
        del node[path[-1]]

    return change


def put(value: Any, *path: str) -> Callable[[dict[str, Any]], None]:
    def change(record: dict[str, Any]) -> None:
        node = record
        for part in path[:-1]:
            node = node[part]
        node[path[-1]] = value

    return change


@pytest.mark.parametrize(
    ("fixture", "change", "field"),
    [
        ("ticket_added", drop("_info", "dateEntered"), "Entity._info.dateEntered"),
        ("ticket_added", put("yesterday", "_info", "dateEntered"), "Entity._info.dateEntered"),
        ("ticket_updated", put("soon", "dateResponded"), "Entity.dateResponded"),
        ("ticket_updated", put(["stech"], "resources"), "Entity.resources"),
        ("ticket_direct_by_tech", put("5512", "configurations"), "Entity.configurations"),
        ("time_ticket", drop("timeStart"), "Entity.timeStart"),
        ("time_ticket", put("lots", "actualHours"), "Entity.actualHours"),
        ("time_ticket", put(True, "actualHours"), "Entity.actualHours"),
        ("time_ticket", put(1000, "actualHours"), "Entity.actualHours"),
        ("time_chargecode", put("2026-03-04T12:00:00Z", "timeEnd"), "Entity.timeEnd"),
        ("time_chargecode", drop("timeEnd"), "Entity.actualHours"),
        ("schedule_visit", drop("dateStart"), "Entity.dateStart"),
        ("activity_meeting", put("in a bit", "dateStart"), "Entity.dateStart"),
    ],
)
def test_malformed_record_names_the_json_path(
    tenant: Tenant,
    payloads: Path,
    fixture: str,
    change: Callable[[dict[str, Any]], None],
    field: str,
) -> None:
    assert payload_error(tenant, mutated(payloads, fixture, entity=change)).field == field


def test_record_without_any_id(tenant: Tenant, payloads: Path) -> None:
    body = mutated(payloads, "ticket_added", set_envelope("ID", ...), drop("id"))
    assert payload_error(tenant, body).field == "Entity.id"


# -- device identity (issue 12, rules 3 and 9) ----------------------------------------------
# ConnectWise PSA API 3.0: a ticket's configurations are the sub-resource
# service/tickets/{parentId}/configurations, not a field of the ticket model, so a cloud
# callback's Entity does not carry them; on-premise versions and enriched bodies do, as
# ConfigurationReferences (id, deviceIdentifier, name) or whole configurations.


def test_a_callback_without_configurations_names_no_device(tenant: Tenant, payloads: Path) -> None:
    ticket = one(tenant, raw(payloads, "ticket_added")).payload
    assert ticket.devices == [] and ticket.device_ids == []


def test_configuration_references_give_name_and_rmm_link(tenant: Tenant, payloads: Path) -> None:
    ticket = one(tenant, raw(payloads, "ticket_direct_by_tech")).payload
    assert [d.model_dump() for d in ticket.devices] == [
        {"id": "5512", "hostname": "ACME-FD-01", "serial": None, "rmm_device_id": "ACME-FD-01"}
    ]
    # The configuration id stays a ConnectWise id; the name crosses to the RMM.
    assert {"psa:connectwise:5512", "host:acme-fd-01"} <= set(
        ticket_keys(ticket, Source.connectwise)
    )


def test_whole_configurations_give_their_serial_and_the_rmm_device_id(
    tenant: Tenant, payloads: Path
) -> None:
    ticket = one(tenant, raw(payloads, "ticket_with_configurations")).payload
    assert [(d.id, d.hostname, d.serial, d.rmm_device_id) for d in ticket.devices] == [
        ("7701", "ACME-PC07.acme.local", "5CD1234XYZ", "102"),
        ("7702", "ACME-NAS01", "To Be Filled By O.E.M.", None),
    ]
    keys = set(ticket_keys(ticket, Source.connectwise))
    assert {"host:acme-pc07", "serial:5cd1234xyz", "rmm:102", "host:acme-nas01"} <= keys
    # kept as sent; a BIOS placeholder is no identity when devices are compared
    assert [k for k in keys if k.startswith("serial:")] == ["serial:5cd1234xyz"]


def test_bare_configuration_ids_are_psa_ids_only(tenant: Tenant, payloads: Path) -> None:
    def ids(record: dict[str, Any]) -> None:
        record["configurations"] = [5512, 0]

    ticket = one(tenant, mutated(payloads, "ticket_added", entity=ids)).payload
    assert [(d.id, d.hostname) for d in ticket.devices] == [("5512", None)]
