"""The tenant file's `polling:` section: the documented example loads, mistakes are named."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from services.events.tenant import TenantConfigError, parse_tenant

EXAMPLE = Path(__file__).resolve().parents[3] / "deploy" / "tenant.example.yaml"
ENV = {
    "AUTOTASK_API_SECRET": "s1",
    "AUTOTASK_INTEGRATION_CODE": "s2",
    "CW_PUBLIC_KEY": "pub",
    "CW_PRIVATE_KEY": "s3",
    "CW_CLIENT_ID": "s4",
    "HALO_CLIENT_ID": "halo",
    "HALO_CLIENT_SECRET": "s5",
    "NINJA_CLIENT_ID": "ninja",
    "NINJA_CLIENT_SECRET": "s6",
    "DATTO_API_KEY": "datto",
    "DATTO_API_SECRET": "s7",
    "TACTICAL_API_KEY": "s8",
}


def example_with_polling() -> dict[str, object]:
    """The example tenant with its commented `polling:` block uncommented."""
    lines = EXAMPLE.read_text().splitlines()
    start = lines.index("# polling:")
    block = [line[2:] for line in lines[start:] if line.startswith("# ")]
    data: dict[str, object] = yaml.safe_load("\n".join(lines[:start]))
    data.update(yaml.safe_load("\n".join(block)))
    return data


def test_the_documented_example_configures_all_six_sources(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    tenant = parse_tenant(example_with_polling(), EXAMPLE)
    assert tenant.polling is not None
    assert sorted(tenant.polling.sources()) == sorted(
        ["autotask", "connectwise", "halopsa", "ninjaone", "dattormm", "tacticalrmm"]
    )
    assert tenant.polling.autotask is not None
    assert tenant.polling.autotask.secret.get_secret_value() == "s1"
    assert "s1" not in repr(tenant.polling)  # credentials never print


def test_an_unknown_entity_is_named_with_the_ones_that_exist(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    data = example_with_polling()
    polling = data["polling"]
    assert isinstance(polling, dict)
    polling["tacticalrmm"]["entities"] = ["alerts", "checks"]
    with pytest.raises(TenantConfigError) as raised:
        parse_tenant(data, EXAMPLE)
    message = str(raised.value)
    assert "polling.tacticalrmm" in message and "'checks'" in message and "agents" in message


def test_a_missing_credential_variable_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("DATTO_API_SECRET")
    with pytest.raises(TenantConfigError, match=r"polling\.dattormm\.api_secret.*DATTO_API_SECRET"):
        parse_tenant(example_with_polling(), EXAMPLE)


def test_up_starts_the_poller_only_for_a_tenant_that_polls(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from services.poll.service import poll_specs

    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    data = example_with_polling()
    (spec,) = poll_specs(parse_tenant(data, EXAMPLE), ingest_url="http://127.0.0.1:8480")
    assert (spec.name, spec.env) == (
        "poll",
        {"PARTNERPULSE_POLL_INGEST_URL": "http://127.0.0.1:8480"},
    )
    data.pop("polling")
    assert poll_specs(parse_tenant(data, EXAMPLE), ingest_url="http://x") == []
