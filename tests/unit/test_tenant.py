from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from services.events.models import (
    Channel,
    IdentityRole,
    MeetingKind,
    MeetingStatus,
    Nature,
    Priority,
    Source,
)
from services.events.tenant import Tenant, TenantConfigError, load_tenant, parse_tenant

REPO = Path(__file__).resolve().parents[2]


def minimal(**extra: Any) -> dict[str, Any]:
    return {
        "tenant": "msp",
        "clients": [
            {
                "id": "acme",
                "name": "Acme",
                "account_lead": {"name": "A", "email": "a@msp.example"},
                "identities": {"connectwise": ["250", "AcmeDental"]},
            }
        ],
        **extra,
    }


def test_shipped_example_tenant_is_valid() -> None:
    example = load_tenant(REPO / "deploy" / "tenant.example.yaml")
    assert example.clients, "the example tenant names no client"


def test_errors_name_the_file_the_key_and_the_fix(tmp_path: Path) -> None:
    bad = minimal()
    bad["clients"][0]["account_lead"] = {"name": "A"}
    bad["clients"][0]["colour"] = "red"
    with pytest.raises(TenantConfigError) as err:
        parse_tenant(bad, tmp_path / "tenant.yaml")
    text = str(err.value)
    assert str(tmp_path / "tenant.yaml") in text
    assert "clients[0:acme].account_lead.email: Field required (fix: add this key)" in text
    assert "clients[0:acme].colour" in text and "remove it or check its spelling" in text


def test_unknown_picklist_value_is_refused_with_the_allowed_ones() -> None:
    bad = minimal(mappings={"connectwise": {"channel": {"values": {"Fax": "fax"}}}})
    with pytest.raises(TenantConfigError, match=r"'fax' is not a channel; use one of \["):
        parse_tenant(bad)
    with pytest.raises(TenantConfigError, match="unknown picklist"):
        parse_tenant(minimal(mappings={"connectwise": {"colour": {"values": {}}}}))


def test_one_source_id_cannot_name_two_clients() -> None:
    data = minimal()
    data["clients"].append({**data["clients"][0], "id": "other"})
    with pytest.raises(TenantConfigError, match="also names client 'acme'"):
        parse_tenant(data)


def test_yaml_errors_and_missing_file(tmp_path: Path) -> None:
    broken = tmp_path / "t.yaml"
    broken.write_text("tenant: [unclosed\n")
    with pytest.raises(TenantConfigError, match="not valid YAML at line"):
        load_tenant(broken)
    with pytest.raises(TenantConfigError, match="no such tenant file"):
        load_tenant(tmp_path / "absent.yaml")


def test_env_references(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NINJA_SECRET", "s3cret")
    t = parse_tenant(minimal(webhooks={"ninjaone": {"secrets": ["${NINJA_SECRET}"]}}))
    assert t.webhooks.ninjaone.secrets[0].get_secret_value() == "s3cret"
    assert "s3cret" not in repr(t)  # secrets never print
    monkeypatch.delenv("NINJA_SECRET")
    with pytest.raises(TenantConfigError, match=r"webhooks\.ninjaone\.secrets\[0\]: environment"):
        parse_tenant(minimal(webhooks={"ninjaone": {"secrets": ["${NINJA_SECRET}"]}}))


def test_mappings_extend_defaults_case_insensitively() -> None:
    t = parse_tenant(
        minimal(mappings={"connectwise": {"channel": {"values": {"Tech Mailbox": "direct_email"}}}})
    )
    assert t.map(Source.connectwise, "channel", "tech mailbox") is Channel.direct_email
    assert t.map(Source.connectwise, "channel", "EMAIL CONNECTOR") is Channel.email  # default kept
    assert t.map(Source.connectwise, "channel", "Carrier pigeon") is Channel.unknown
    assert t.map(Source.autotask, "priority", 4) is Priority.critical
    assert t.map(Source.connectwise, "nature", None) is Nature.unknown


def test_clients_and_identities_resolve(tenant: Tenant) -> None:
    assert tenant.client_for(Source.connectwise, "acmedental") == "acme"
    assert tenant.client_for(Source.connectwise, "999") is None
    assert tenant.client_for(Source.autotask, "250") is None  # ids are per source
    roles = {
        "stech": IdentityRole.technician,
        "Email Connector": IdentityRole.service_desk,
        "RMM Integration": IdentityRole.automation,
        "dana@acmedental.example": IdentityRole.client_contact,
        "someone@globex.example": IdentityRole.client_contact,
        "sam.tech@northwind-msp.example": IdentityRole.technician,
        "stranger": IdentityRole.unknown,
    }
    for ref, role in roles.items():
        identity = tenant.identity(Source.connectwise, ref)
        assert identity is not None and identity.role is role, ref
    assert tenant.identity(Source.connectwise, "  ") is None


def test_connectwise_key_url_allow_list(tenant: Tenant) -> None:
    allows = tenant.webhooks.connectwise.allows
    assert allows("https://api-na.myconnectwise.net/v4_6_release/callback-key/abc")
    assert allows("http://127.0.0.1:8731/key")
    assert not allows("http://api-na.myconnectwise.net/key")  # plain http to a remote host
    assert not allows("https://myconnectwise.net.evil.example/key")
    assert not allows("https://evil.example/?x=.myconnectwise.net")
    assert not allows("file:///etc/passwd")
    assert not allows("http://10.0.0.1/key")


def test_meeting_mappings_need_no_default_but_a_written_one_is_checked() -> None:
    """check-tenant validated the implicit `unknown`, which meetings do not have."""
    extra = {"values": {"Abgesagt": "cancelled", "Jour fixe": "meeting"}}
    t = parse_tenant(
        minimal(
            mappings={
                "connectwise": {"meeting_status": {"values": {"Abgesagt": "cancelled"}}},
                "autotask": {"meeting_kind": {"values": extra["values"] | {"Abgesagt": "call"}}},
                "halopsa": {"meeting_status": {"values": {"Abgesagt": "cancelled"}}},
            }
        )
    )
    assert t.map(Source.connectwise, "meeting_status", "Done") is MeetingStatus.held  # shipped
    assert t.map(Source.halopsa, "meeting_status", "Offen") is MeetingStatus.scheduled
    assert t.map(Source.autotask, "meeting_kind", "Sonstiges") is MeetingKind.meeting
    bad = minimal(mappings={"halopsa": {"meeting_status": {"values": {}, "default": "unknown"}}})
    with pytest.raises(TenantConfigError, match="'unknown' is not a meeting_status"):
        parse_tenant(bad)


def test_classifier_settings_an_msp_writes_in_yaml(tmp_path: Path) -> None:
    """YAML reads a bare `off` as false: `site_match: off` still means off."""
    file = tmp_path / "tenant.yaml"
    file.write_text(
        "tenant: msp\n"
        "clients: [{id: acme, name: Acme, account_lead: {name: A, email: a@msp.example},\n"
        "  co_managed_staff: {emails: [it@acme.example], identities: {connectwise: [jsmith]}}}]\n"
        "classifier:\n"
        "  device_identity:\n"
        "    match_on: [hostname, rmm_link]\n"
        "    ticket_device_ids: {canonical: hostname}\n"
        "  detectors:\n"
        "    late_reporting: {site_match: off, transient_alert_minutes: 20}\n"
        "    skipped_meeting: {unattributed_cancellations: msp}\n"
    )
    t = load_tenant(file)
    assert t.classifier.detectors.late_reporting.site_match == "off"
    assert t.classifier.device_identity.ticket_device_ids == {Source.canonical: "hostname"}
    jsmith = t.identity(Source.connectwise, "JSmith")
    assert jsmith is not None and jsmith.role is IdentityRole.co_managed_staff
    with pytest.raises(TenantConfigError, match="site_match"):
        parse_tenant(minimal(classifier={"detectors": {"late_reporting": {"site_match": "x"}}}))
