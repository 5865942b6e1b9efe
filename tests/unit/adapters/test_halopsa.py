"""HaloPSA webhooks: Basic authentication and normalisation of ticket events."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from services.classifier.domain.devices import ticket_keys
from services.events.models import Action, Channel, IdentityRole, Nature, Priority, Source, Ticket
from services.events.tenant import Tenant
from services.ingest.adapters.base import AuthenticationError, PayloadError
from services.ingest.adapters.halopsa import ADAPTER
from tests.unit.adapters import helpers

RECEIVED = datetime(2026, 3, 2, 14, 5, 12, tzinfo=UTC)
TENANT_FILE = Path(__file__).parents[2] / "fixtures" / "tenant.yaml"


def basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"authorization": f"Basic {token}"}


raw = partial(helpers.raw, "halopsa")

delivery = partial(helpers.make_delivery, Source.halopsa, RECEIVED, lowercase=False)


def mutated(payloads: Path, name: str, change: Callable[[dict[str, Any]], None]) -> bytes:
    body = json.loads(raw(payloads, name))
    change(body)
    return json.dumps(body).encode()


def normalise(tenant: Tenant, body: bytes, received_at: datetime = RECEIVED) -> Any:
    return ADAPTER.normalise(delivery(body, received_at=received_at), tenant)


def one(tenant: Tenant, body: bytes) -> Any:
    return helpers.one_event(normalise(tenant, body))


tenant_with = helpers.tenant_with


def halo_auth(username: str, *secrets: str) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        data["webhooks"]["halopsa"] = {"username": username, "secrets": list(secrets)}

    return change


# -- authentication --------------------------------------------------------------------


def test_good_credentials_are_accepted(tenant: Tenant, payloads: Path) -> None:
    body = raw(payloads, "new_ticket_logged")
    ADAPTER.authenticate(delivery(body, basic("partnerpulse", "halo-test-password")), tenant)
    with pytest.raises(AuthenticationError):
        ADAPTER.authenticate(delivery(body, basic("partnerpulse", "halo-test-passwore")), tenant)


def test_rfc_7617_basic_credentials_test_vector() -> None:
    # RFC 7617 section 2: user "Aladdin", password "open sesame".
    tenant = tenant_with(halo_auth("Aladdin", "open sesame"))
    headers = {"authorization": "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="}
    assert headers == basic("Aladdin", "open sesame")
    ADAPTER.authenticate(delivery(b"{}", headers), tenant)


def test_rotated_password_either_is_accepted() -> None:
    tenant = tenant_with(halo_auth("partnerpulse", "old-password", "new:password"))
    for password in ("old-password", "new:password"):
        ADAPTER.authenticate(delivery(b"{}", basic("partnerpulse", password)), tenant)
    with pytest.raises(AuthenticationError):  # neither of them: refused
        ADAPTER.authenticate(delivery(b"{}", basic("partnerpulse", "new")), tenant)


@pytest.mark.parametrize(
    "headers",
    [
        basic("partnerpulse", "wrong-password"),
        basic("someone-else", "halo-test-password"),
        basic("partnerpulse", ""),
        {"authorization": "Bearer halo-test-password"},
        {"authorization": "Basic !!!not-base64!!!"},
        {"authorization": "Basic " + base64.b64encode(b"no-colon").decode()},
        {},
    ],
)
def test_bad_or_missing_credentials_are_refused(
    tenant: Tenant, payloads: Path, headers: dict[str, str]
) -> None:
    with pytest.raises(AuthenticationError):
        ADAPTER.authenticate(delivery(raw(payloads, "new_ticket_logged"), headers), tenant)


def test_sign_produces_what_halo_sends(tenant: Tenant, payloads: Path) -> None:
    body = raw(payloads, "new_ticket_logged")
    assert ADAPTER.sign(body, tenant) == basic("partnerpulse", "halo-test-password")
    with pytest.raises(ValueError):
        ADAPTER.sign(body, tenant_with(halo_auth("partnerpulse")))


# -- normalisation ---------------------------------------------------------------------


def test_new_ticket_logged_maps_every_field(tenant: Tenant, payloads: Path) -> None:
    result = normalise(tenant, raw(payloads, "new_ticket_logged"))
    assert result.delivery_id is None  # Halo sends none
    [event] = result.events
    assert event.action is Action.created
    assert event.client_id == "acme" and event.source_client_ref == "12"
    assert [str(r) for r in event.refs] == ["halopsa:ticket:2201"]
    ticket = event.payload
    assert isinstance(ticket, Ticket)
    assert ticket.ticket_id == "2201"
    assert ticket.summary == "Server room too hot, NAS beeping"
    assert ticket.nature is Nature.incident
    assert ticket.priority is Priority.critical
    assert ticket.status == "1" and ticket.board == "Service Desk" and ticket.site == "Main"
    assert ticket.contact is not None
    assert ticket.contact.id == "dana@acmedental.example"
    assert ticket.contact.role is IdentityRole.client_contact
    assert ticket.contact.name == "Dana Reyes"
    assert ticket.entered_by is None  # logged by the user, not an agent
    assert ticket.assigned_to == []  # agent_id 0 is unassigned
    assert ticket.created_at == datetime(2026, 3, 2, 14, 5, 9, tzinfo=UTC)
    assert event.occurred_at == ticket.created_at
    assert ticket.responded_at is None and ticket.closed_at is None


def test_date_occurred_is_the_late_reporting_evidence(tenant: Tenant, payloads: Path) -> None:
    ticket = one(tenant, raw(payloads, "new_ticket_logged")).payload
    assert ticket.issue_started_at == datetime(2026, 2, 27, 8, tzinfo=UTC)
    assert ticket.created_at - ticket.issue_started_at > timedelta(days=3)


def test_ticket_updated(tenant: Tenant, payloads: Path) -> None:
    event = one(tenant, raw(payloads, "ticket_updated"))
    assert event.action is Action.updated
    assert event.occurred_at == datetime(2026, 3, 2, 14, 19, 40, tzinfo=UTC)  # action.datetime
    ticket = event.payload
    assert [(p.id, p.role, p.name) for p in ticket.assigned_to] == [
        ("4", IdentityRole.technician, "Sam Tech")
    ]
    assert ticket.responded_at == datetime(2026, 3, 2, 14, 19, 40, tzinfo=UTC)
    assert ticket.created_at == datetime(2026, 3, 2, 14, 5, 9, tzinfo=UTC)


def test_a_retry_keeps_the_event_id(tenant: Tenant, payloads: Path) -> None:
    body = raw(payloads, "ticket_updated")
    first = one(tenant, body)
    retry = normalise(tenant, body, received_at=datetime(2026, 3, 2, 15, tzinfo=UTC)).events[0]
    assert retry.event_id == first.event_id


def test_two_updates_get_different_event_ids(tenant: Tenant, payloads: Path) -> None:
    ids = {
        one(tenant, raw(payloads, name)).event_id
        for name in ("new_ticket_logged", "ticket_updated", "ticket_updated_again")
    }
    assert len(ids) == 3


def test_ticket_logged_by_an_agent(tenant: Tenant, payloads: Path) -> None:
    event = one(tenant, raw(payloads, "ticket_logged_by_agent"))
    assert event.client_id == "globex"
    ticket = event.payload
    assert ticket.entered_by is not None
    assert (ticket.entered_by.id, ticket.entered_by.role) == ("5", IdentityRole.technician)
    assert ticket.nature is Nature.request and ticket.priority is Priority.medium
    assert ticket.contact is None  # user_id 0 is no user


def test_taken_by_names_who_entered_the_ticket(tenant: Tenant, payloads: Path) -> None:
    def taken_by(body: dict[str, Any]) -> None:
        body["ticket"]["takenby"] = "1"
        del body["action"]

    ticket = one(tenant, mutated(payloads, "ticket_logged_by_agent", taken_by)).payload
    assert ticket.entered_by is not None
    assert ticket.entered_by.role is IdentityRole.service_desk


def test_unknown_client_and_picklists(tenant: Tenant, payloads: Path) -> None:
    event = one(tenant, raw(payloads, "ticket_unknown_client"))
    assert event.client_known is False
    assert event.client_id == "unknown:halopsa:404"
    ticket = event.payload
    assert (ticket.channel, ticket.nature, ticket.priority) == (
        Channel.unknown,
        Nature.unknown,
        Priority.unknown,
    )


def test_tenant_mappings_decide_channel_and_category_nature(payloads: Path) -> None:
    def mappings(data: dict[str, Any]) -> None:
        data["mappings"] = {
            "halopsa": {
                "channel": {"values": {"0": "email"}},
                "nature": {"values": {"Patching": "maintenance"}},
            }
        }

    def patching(body: dict[str, Any]) -> None:
        body["ticket"]["tickettype_id"] = 99
        body["ticket"]["category_1"] = "Hardware"
        body["ticket"]["category_2"] = "Patching"

    ticket = one(tenant_with(mappings), mutated(payloads, "new_ticket_logged", patching)).payload
    assert ticket.channel is Channel.email
    assert ticket.nature is Nature.maintenance


def test_an_event_about_something_else_carries_nothing(tenant: Tenant, payloads: Path) -> None:
    assert normalise(tenant, raw(payloads, "client_updated")).events == []


def test_a_deleted_ticket(tenant: Tenant, payloads: Path) -> None:
    def deleted(body: dict[str, Any]) -> None:
        body["event"] = "Ticket Deleted"

    assert one(tenant, mutated(payloads, "ticket_updated", deleted)).action is Action.deleted


def test_batched_delivery_gives_one_event_per_item(tenant: Tenant, payloads: Path) -> None:
    batch = [json.loads(raw(payloads, n)) for n in ("new_ticket_logged", "ticket_updated")]
    result = normalise(tenant, json.dumps(batch).encode())
    assert [e.action for e in result.events] == [Action.created, Action.updated]


def test_update_without_an_action_uses_the_last_action_date(tenant: Tenant, payloads: Path) -> None:
    def bare(body: dict[str, Any]) -> None:
        del body["action"]

    event = one(tenant, mutated(payloads, "ticket_updated_again", bare))
    assert event.occurred_at == datetime(2026, 3, 2, 17, 2, tzinfo=UTC)
    assert event.payload.closed_at == datetime(2026, 3, 2, 17, 2, tzinfo=UTC)


def test_halo_empty_date_is_no_date(tenant: Tenant, payloads: Path) -> None:
    def empty_dates(body: dict[str, Any]) -> None:
        body["ticket"]["dateclosed"] = "1900-01-01T00:00:00"
        body["ticket"]["responsedate"] = "1900-01-01T00:00:00"

    ticket = one(tenant, mutated(payloads, "new_ticket_logged", empty_dates)).payload
    assert ticket.closed_at is None and ticket.responded_at is None


def test_without_datecreated_date_occurred_is_the_creation(tenant: Tenant, payloads: Path) -> None:
    def no_created(body: dict[str, Any]) -> None:
        del body["ticket"]["datecreated"]

    ticket = one(tenant, mutated(payloads, "new_ticket_logged", no_created)).payload
    assert ticket.created_at == datetime(2026, 2, 27, 8, tzinfo=UTC)
    assert ticket.issue_started_at is None  # the creation time states no earlier start


# -- dateoccurred defaults to the logged date (issue 12, rule 9) ---------------------------
# Halo API Tickets: `dateoccurred` is filled with the date the ticket was logged unless an
# agent or the portal form sets it, so only an earlier time is a stated issue start.


@pytest.mark.parametrize(
    "occurred",
    ["2026-03-02T14:05:09", "2026-03-02T14:05:30", "2026-03-02T14:04:40", "2026-03-03T09:00:00"],
    ids=["equal", "seconds-after", "seconds-before", "after-creation"],
)
def test_date_occurred_at_or_after_the_logged_date_is_no_issue_start(
    tenant: Tenant, payloads: Path, occurred: str
) -> None:
    def default(body: dict[str, Any]) -> None:
        body["ticket"]["dateoccurred"] = occurred

    ticket = one(tenant, mutated(payloads, "new_ticket_logged", default)).payload
    assert ticket.created_at == datetime(2026, 3, 2, 14, 5, 9, tzinfo=UTC)
    assert ticket.issue_started_at is None


def test_date_occurred_before_the_logged_date_is_the_stated_start(
    tenant: Tenant, payloads: Path
) -> None:
    def stated(body: dict[str, Any]) -> None:
        body["ticket"]["dateoccurred"] = "2026-03-02T13:00:00"

    ticket = one(tenant, mutated(payloads, "new_ticket_logged", stated)).payload
    assert ticket.issue_started_at == datetime(2026, 3, 2, 13, tzinfo=UTC)


# -- source and tickettype_id are integer lookup ids (issue 12, rule 9) --------------------
# Halo API Tickets: `source` and `tickettype_id` are ids into the instance's lookups, so a
# tenant maps ids; YAML keys written unquoted (`1: email`) are the same as "1".


@pytest.mark.parametrize("quoted", [True, False], ids=["quoted-keys", "unquoted-keys"])
def test_integer_source_and_ticket_type_map_through_the_tenants_ids(
    payloads: Path, quoted: bool
) -> None:
    key = str if quoted else int

    def mappings(data: dict[str, Any]) -> None:
        data["mappings"] = {
            "halopsa": {
                "channel": {"values": {key(1): "email", key(11): "direct_email"}},
                "nature": {"values": {key(21): "maintenance"}},
            }
        }

    def ids(body: dict[str, Any]) -> None:
        body["ticket"]["source"] = 11
        body["ticket"]["tickettype_id"] = 21

    ticket = one(tenant_with(mappings), mutated(payloads, "new_ticket_logged", ids)).payload
    assert ticket.channel is Channel.direct_email
    assert ticket.nature is Nature.maintenance


# -- assets are Halo's own ids plus what crosses systems (issue 12, rule 3) ----------------


def test_assets_give_the_devices_cross_system_identities(tenant: Tenant, payloads: Path) -> None:
    ticket = one(tenant, raw(payloads, "ticket_with_assets")).payload
    assert [(d.id, d.hostname, d.serial) for d in ticket.devices] == [
        ("812", "ACME-PC07", "5CD1234XYZ"),
        ("813", "ACME-NAS01", None),
    ]
    assert ticket.device_ids == ["812", "813"]
    keys = ticket_keys(ticket, Source.halopsa)
    assert {"psa:halopsa:812", "host:acme-pc07", "serial:5cd1234xyz", "host:acme-nas01"} <= set(
        keys
    )


def test_an_unset_asset_is_no_device(tenant: Tenant, payloads: Path) -> None:
    def unset(body: dict[str, Any]) -> None:
        body["ticket"]["assets"] = [{"id": 0}]

    ticket = one(tenant, mutated(payloads, "new_ticket_logged", unset)).payload
    assert ticket.devices == [] and ticket.device_ids == []


# -- malformed deliveries --------------------------------------------------------------


def payload_error(tenant: Tenant, body: bytes) -> PayloadError:
    with pytest.raises(PayloadError) as caught:
        normalise(tenant, body)
    return caught.value


def ticket_key(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(body: dict[str, Any]) -> None:
        if value is ...:
            del body["ticket"][key]
        else:
            body["ticket"][key] = value

    return change


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"<xml/>", "body"),
        (b'"a string"', "body"),
        (b"{}", "ticket"),
        (b'{"event": "New Ticket Logged", "ticket": [2201]}', "ticket"),
        (b'{"event": "Ticket Updated", "ticket": {"id": 1}, "action": 3}', "action"),
        (b'[{"event": "x", "ticket": {"id": 1, "datecreated": "2026-03-02"}}, 5]', "[1]"),
    ],
)
def test_malformed_body_names_the_field(tenant: Tenant, body: bytes, field: str) -> None:
    assert payload_error(tenant, body).field == field


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (ticket_key("id", ...), "ticket.id"),
        (ticket_key("dateoccurred", "about a week ago"), "ticket.dateoccurred"),
        (ticket_key("responsedate", "soon"), "ticket.responsedate"),
        (ticket_key("assets", "NAS-01"), "ticket.assets"),
    ],
)
def test_malformed_ticket_names_the_json_path(
    tenant: Tenant, payloads: Path, change: Callable[[dict[str, Any]], None], field: str
) -> None:
    assert payload_error(tenant, mutated(payloads, "new_ticket_logged", change)).field == field


def test_ticket_with_no_date_at_all(tenant: Tenant, payloads: Path) -> None:
    def no_dates(body: dict[str, Any]) -> None:
        del body["ticket"]["datecreated"], body["ticket"]["dateoccurred"]

    assert payload_error(tenant, mutated(payloads, "new_ticket_logged", no_dates)).field == (
        "ticket.datecreated"
    )


def test_error_in_a_batch_names_the_item(tenant: Tenant, payloads: Path) -> None:
    good = json.loads(raw(payloads, "new_ticket_logged"))
    bad = json.loads(raw(payloads, "ticket_updated"))
    del bad["ticket"]["id"]
    assert payload_error(tenant, json.dumps([good, bad]).encode()).field == "[1].ticket.id"
