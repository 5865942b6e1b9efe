"""Autotask ticket webhooks: HMAC-SHA1 signature and normalisation of partial callouts."""

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
from services.events.models import Action, Channel, IdentityRole, Nature, Priority, Source, Ticket
from services.events.tenant import Tenant
from services.ingest.adapters.autotask import ADAPTER
from services.ingest.adapters.base import AuthenticationError, PayloadError
from tests.unit.adapters import helpers

RECEIVED = datetime(2026, 3, 2, 14, 5, 12, tzinfo=UTC)
CURRENT_SECRET = b"autotask-test-secret"  # tests/fixtures/tenant.yaml, listed last
OLD_SECRET = b"autotask-test-secret-old"
TENANT_FILE = Path(__file__).parents[2] / "fixtures" / "tenant.yaml"


def signature(body: bytes, secret: bytes) -> str:
    """What Autotask sends, computed here independently of the adapter."""
    return "sha1=" + base64.b64encode(hmac.new(secret, body, hashlib.sha1).digest()).decode()


raw = partial(helpers.raw, "autotask")

delivery = partial(helpers.make_delivery, Source.autotask, RECEIVED, lowercase=False)


def mutated(payloads: Path, name: str, change: Callable[[dict[str, Any]], None]) -> bytes:
    body = json.loads(raw(payloads, name))
    change(body)
    return json.dumps(body, separators=(",", ":")).encode()


def normalise(tenant: Tenant, body: bytes, received_at: datetime = RECEIVED) -> Any:
    return ADAPTER.normalise(delivery(body, received_at=received_at), tenant)


def one(tenant: Tenant, body: bytes) -> Any:
    return helpers.one_event(normalise(tenant, body))


def tenant_with_secrets(*secrets: str) -> Tenant:
    def change(data: dict[str, Any]) -> None:
        data["webhooks"]["autotask"]["secrets"] = list(secrets)

    return helpers.tenant_with(change)


# -- signature -------------------------------------------------------------------------


def test_good_signature_is_accepted(tenant: Tenant, payloads: Path) -> None:
    body = raw(payloads, "ticket_create")
    headers = {"x-hook-signature": signature(body, CURRENT_SECRET)}
    ADAPTER.authenticate(delivery(body, headers), tenant)
    with pytest.raises(AuthenticationError):  # the same signature, one byte more: refused
        ADAPTER.authenticate(delivery(body + b" ", headers), tenant)


def test_the_other_configured_secret_is_accepted_during_rotation(
    tenant: Tenant, payloads: Path
) -> None:
    body = raw(payloads, "ticket_create")
    ADAPTER.authenticate(delivery(body, {"x-hook-signature": signature(body, OLD_SECRET)}), tenant)
    with pytest.raises(AuthenticationError):  # a secret not configured: refused
        ADAPTER.authenticate(delivery(body, {"x-hook-signature": signature(body, b"x")}), tenant)


def test_rfc_2202_hmac_sha1_test_vector_in_the_autotask_header_format() -> None:
    # RFC 2202 test case 2: key "Jefe", data "what do ya want for nothing?",
    # HMAC-SHA1 = effcdf6ae5eb2fa2d27416d5f184df9c259a7c79; Autotask sends it base64.
    tenant = tenant_with_secrets("Jefe")
    digest = bytes.fromhex("effcdf6ae5eb2fa2d27416d5f184df9c259a7c79")
    header = "sha1=" + base64.b64encode(digest).decode()
    assert header == "sha1=7/zfauXrL6LSdBbV8YTfnCWafHk="
    ADAPTER.authenticate(
        delivery(b"what do ya want for nothing?", {"x-hook-signature": header}), tenant
    )


def test_wrong_secret_is_refused(tenant: Tenant, payloads: Path) -> None:
    body = raw(payloads, "ticket_create")
    headers = {"x-hook-signature": signature(body, b"not-our-secret")}
    with pytest.raises(AuthenticationError, match="does not match"):
        ADAPTER.authenticate(delivery(body, headers), tenant)


def test_reserialised_body_no_longer_verifies(tenant: Tenant, payloads: Path) -> None:
    body = raw(payloads, "ticket_create")
    headers = {"x-hook-signature": signature(body, CURRENT_SECRET)}
    pretty = json.dumps(json.loads(body), indent=2).encode()
    with pytest.raises(AuthenticationError):
        ADAPTER.authenticate(delivery(pretty, headers), tenant)


def test_missing_signature_header_is_refused(tenant: Tenant, payloads: Path) -> None:
    with pytest.raises(AuthenticationError, match="missing x-hook-signature"):
        ADAPTER.authenticate(delivery(raw(payloads, "ticket_create")), tenant)


@pytest.mark.parametrize("header", ["sha1=", "sha1=***", "sha256=abc", "sha1=" + "A" * 27])
def test_malformed_signature_is_refused(tenant: Tenant, payloads: Path, header: str) -> None:
    with pytest.raises(AuthenticationError):
        ADAPTER.authenticate(
            delivery(raw(payloads, "ticket_create"), {"x-hook-signature": header}), tenant
        )


def test_no_configured_secret_refuses_everything(payloads: Path) -> None:
    body = raw(payloads, "ticket_create")
    headers = {"x-hook-signature": signature(body, CURRENT_SECRET)}
    with pytest.raises(AuthenticationError, match="no secret"):
        ADAPTER.authenticate(delivery(body, headers), tenant_with_secrets())


def test_sign_produces_what_autotask_sends(tenant: Tenant, payloads: Path) -> None:
    body = raw(payloads, "ticket_update_partial")
    assert ADAPTER.sign(body, tenant) == {"x-hook-signature": signature(body, CURRENT_SECRET)}
    with pytest.raises(ValueError):
        ADAPTER.sign(body, tenant_with_secrets())


# -- normalisation ---------------------------------------------------------------------


def test_ticket_create_maps_every_field(tenant: Tenant, payloads: Path) -> None:
    result = normalise(tenant, raw(payloads, "ticket_create"))
    # Guid names the webhook, so the delivery id also carries the record and sequence.
    assert result.delivery_id == "a1da62a4-2c49-40a8-8183-69994ce5b3eb:351181:Create:1"
    [event] = result.events
    assert event.action is Action.created
    assert event.client_id == "acme" and event.source_client_ref == "29683"
    assert [str(r) for r in event.refs] == ["autotask:ticket:351181"]
    assert event.occurred_at == datetime(2026, 3, 2, 14, 5, 10, tzinfo=UTC)  # EventTime
    ticket = event.payload
    assert isinstance(ticket, Ticket)
    assert ticket.ticket_id == "351181" and ticket.number == "T20260302.0001"
    assert ticket.summary == "Front desk PC will not boot"
    assert ticket.channel is Channel.email
    assert ticket.nature is Nature.incident
    assert ticket.priority is Priority.high
    assert ticket.status == "1" and ticket.board == "29682833"
    assert ticket.entered_by is not None
    assert ticket.entered_by.role is IdentityRole.service_desk
    assert ticket.contact is not None and ticket.contact.id == "30682"
    assert [(p.id, p.role) for p in ticket.assigned_to] == [("29682844", IdentityRole.technician)]
    assert ticket.device_ids == ["881"]
    assert ticket.created_at == datetime(2026, 3, 2, 14, 5, 9, 187000, tzinfo=UTC)
    assert ticket.rmm_alert_id is None


def test_partial_update_keeps_what_it_has_and_falls_back_for_created_at(
    tenant: Tenant, payloads: Path
) -> None:
    event = one(tenant, raw(payloads, "ticket_update_partial"))
    assert event.action is Action.updated
    assert event.client_id == "acme"  # companyID is a "display always" field
    ticket = event.payload
    assert ticket.status == "5"
    assert ticket.responded_at == datetime(2026, 3, 2, 14, 19, 40, tzinfo=UTC)
    assert ticket.resolved_at == datetime(2026, 3, 2, 16, 44, 10, tzinfo=UTC)
    # not sent is not cleared: absent picklists are the defaults, absent people None
    assert (ticket.channel, ticket.nature, ticket.priority) == (
        Channel.unknown,
        Nature.unknown,
        Priority.unknown,
    )
    assert ticket.entered_by is None and ticket.assigned_to == []
    # no createDate in Fields: EventTime stands in
    assert ticket.created_at == event.occurred_at == datetime(2026, 3, 2, 16, 44, 11, tzinfo=UTC)


def test_update_without_a_company_is_an_unknown_client(tenant: Tenant, payloads: Path) -> None:
    def no_company(body: dict[str, Any]) -> None:
        del body["Fields"]["companyID"]

    event = one(tenant, mutated(payloads, "ticket_update_partial", no_company))
    assert event.client_known is False
    assert event.client_id == "unknown:autotask:none"


def test_a_retry_keeps_the_event_id(tenant: Tenant, payloads: Path) -> None:
    body = raw(payloads, "ticket_update_partial")
    first = normalise(tenant, body)
    retry = normalise(tenant, body, received_at=datetime(2026, 3, 2, 16, 45, tzinfo=UTC))
    assert retry.events[0].event_id == first.events[0].event_id
    assert retry.delivery_id == first.delivery_id


def test_two_updates_get_different_event_and_delivery_ids(tenant: Tenant, payloads: Path) -> None:
    results = [
        normalise(tenant, raw(payloads, name))
        for name in ("ticket_create", "ticket_update_partial", "ticket_update_second")
    ]
    assert len({r.events[0].event_id for r in results}) == 3
    assert len({r.delivery_id for r in results}) == 3


def test_ticket_raised_by_monitoring(tenant: Tenant, payloads: Path) -> None:
    event = one(tenant, raw(payloads, "ticket_create_monitoring"))
    assert event.client_id == "globex"
    ticket = event.payload
    assert ticket.channel is Channel.monitoring
    assert ticket.entered_by is not None
    assert ticket.entered_by.role is IdentityRole.automation
    assert ticket.rmm_alert_id == "b1e3fba7-dfa8-480d-91a5-6e589a69c6d0"
    assert ticket.nature is Nature.incident  # ticket type 5: alert
    assert ticket.priority is Priority.critical
    assert ticket.device_ids == ["901"]


def test_monitor_id_stands_in_for_a_missing_alert_id(tenant: Tenant, payloads: Path) -> None:
    def no_alert_id(body: dict[str, Any]) -> None:
        del body["Fields"]["rmmAlertID"]

    ticket = one(tenant, mutated(payloads, "ticket_create_monitoring", no_alert_id)).payload
    assert ticket.rmm_alert_id == "77"


def test_unknown_client_and_picklists_with_pascal_case_fields(
    tenant: Tenant, payloads: Path
) -> None:
    event = one(tenant, raw(payloads, "ticket_create_unknown"))
    assert event.client_known is False
    assert event.client_id == "unknown:autotask:99999"
    ticket = event.payload
    assert ticket.summary == "Cannot print" and ticket.number == "T20260305.0002"
    assert (ticket.channel, ticket.nature, ticket.priority) == (
        Channel.unknown,
        Nature.unknown,
        Priority.unknown,
    )
    assert ticket.created_at == datetime(2026, 3, 5, 10, tzinfo=UTC)


def test_create_without_a_creator_field_uses_the_person_who_created_it(
    tenant: Tenant, payloads: Path
) -> None:
    def no_creator(body: dict[str, Any]) -> None:
        del body["Fields"]["creatorResourceID"]
        body["PersonId"] = 29682845

    ticket = one(tenant, mutated(payloads, "ticket_create", no_creator)).payload
    assert ticket.entered_by is not None
    assert (ticket.entered_by.id, ticket.entered_by.name) == ("29682845", "Rita Onsite")


def test_delete_is_a_deleted_event(tenant: Tenant, payloads: Path) -> None:
    event = one(tenant, raw(payloads, "ticket_delete"))
    assert event.action is Action.deleted
    assert event.payload.created_at == datetime(2026, 3, 5, 11, tzinfo=UTC)


def test_other_entity_types_carry_nothing(tenant: Tenant, payloads: Path) -> None:
    result = normalise(tenant, raw(payloads, "contact_update"))
    assert result.events == []
    assert result.delivery_id == "a1da62a4-2c49-40a8-8183-69994ce5b3eb:30682:Update:7"


def test_without_sequence_and_event_time_the_version_is_the_content(
    tenant: Tenant, payloads: Path
) -> None:
    def bare(status: int) -> Callable[[dict[str, Any]], None]:
        def change(body: dict[str, Any]) -> None:
            del body["SequenceNumber"], body["EventTime"]
            body["Fields"]["createDate"] = "2026-03-02T14:05:09Z"
            body["Fields"]["status"] = status

        return change

    a = one(tenant, mutated(payloads, "ticket_update_partial", bare(5)))
    a_again = one(tenant, mutated(payloads, "ticket_update_partial", bare(5)))
    b = one(tenant, mutated(payloads, "ticket_update_partial", bare(8)))
    assert a.event_id == a_again.event_id != b.event_id
    assert a.occurred_at == datetime(2026, 3, 2, 14, 5, 9, tzinfo=UTC)


# -- malformed deliveries --------------------------------------------------------------


def payload_error(tenant: Tenant, body: bytes) -> PayloadError:
    with pytest.raises(PayloadError) as caught:
        normalise(tenant, body)
    return caught.value


def set_key(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(body: dict[str, Any]) -> None:
        if value is ...:
            del body[key]
        else:
            body[key] = value

    return change


def set_field(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(body: dict[str, Any]) -> None:
        body["Fields"][key] = value

    return change


def test_body_that_is_not_json(tenant: Tenant) -> None:
    assert payload_error(tenant, b"Action=Create").field == "body"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (set_key("Action", "Upsert"), "Action"),
        (set_key("Action", ...), "Action"),
        (set_key("Id", ...), "Id"),
        (set_key("Id", ""), "Id"),
        (set_key("EntityType", ...), "EntityType"),
        (set_key("Fields", ["status", 5]), "Fields"),
        (set_key("EventTime", "last tuesday"), "EventTime"),
        (set_field("createDate", "2026-13-45"), "Fields.createDate"),
        (set_field("firstResponseDateTime", "asap"), "Fields.firstResponseDateTime"),
    ],
)
def test_malformed_callout_names_the_field(
    tenant: Tenant, payloads: Path, change: Callable[[dict[str, Any]], None], field: str
) -> None:
    assert payload_error(tenant, mutated(payloads, "ticket_create", change)).field == field


def test_no_creation_time_at_all(tenant: Tenant, payloads: Path) -> None:
    body = mutated(payloads, "ticket_update_partial", set_key("EventTime", ...))
    error = payload_error(tenant, body)
    assert error.field == "Fields.createDate"
    assert "EventTime" in error.problem


# -- device identity (issue 12, rule 3) -------------------------------------------------------
# Autotask REST API: Tickets.configurationItemID references a ConfigurationItems record (an
# Autotask id); referenceTitle, serialNumber and rmmDeviceUID are fields of that record, and a
# Ticket webhook carries only Ticket fields and ticket UDFs (TicketWebhookFields /
# TicketWebhookUdfFields, "display always").


def test_the_configuration_item_is_an_autotask_id_only(tenant: Tenant, payloads: Path) -> None:
    ticket = one(tenant, raw(payloads, "ticket_create")).payload
    assert [d.model_dump() for d in ticket.devices] == [
        {"id": "881", "hostname": None, "serial": None, "rmm_device_id": None}
    ]
    assert ticket_keys(ticket, Source.autotask) == ["psa:autotask:881"]


def test_display_always_udfs_give_name_serial_and_rmm_link(tenant: Tenant, payloads: Path) -> None:
    ticket = one(tenant, raw(payloads, "ticket_create_with_device_udfs")).payload
    assert [d.model_dump() for d in ticket.devices] == [
        {
            "id": "881",
            "hostname": "ACME-FD-01",
            "serial": "PF2ABCDE",
            "rmm_device_id": "3f0c8a4e-1111-4c2b-9d7e-5a6b7c8d9e0f",
        }
    ]
    keys = set(ticket_keys(ticket, Source.autotask))
    assert {
        "host:acme-fd-01",
        "serial:pf2abcde",
        "rmm:3f0c8a4e-1111-4c2b-9d7e-5a6b7c8d9e0f",
    } <= keys


def test_fields_of_those_names_count_as_well(tenant: Tenant, payloads: Path) -> None:
    ticket = one(
        tenant, mutated(payloads, "ticket_create", set_field("ReferenceTitle", "ACME-FD-01"))
    ).payload
    assert [(d.id, d.hostname) for d in ticket.devices] == [("881", "ACME-FD-01")]


def test_no_configuration_item_is_no_device(tenant: Tenant, payloads: Path) -> None:
    ticket = one(
        tenant, mutated(payloads, "ticket_create", set_field("configurationItemID", 0))
    ).payload
    assert ticket.devices == [] and ticket.device_ids == []
