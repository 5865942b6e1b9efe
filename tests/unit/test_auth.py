"""API tokens, scopes and the example tenant's public secrets (pure; no HTTP here)."""

from __future__ import annotations

import base64
import json
import stat
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from services.alerts.app import needed_scope
from services.classifier.queries import processed_ids, report_days
from services.events.tenant import load_tenant
from services.runtime.auth import (
    DEMO_SECRETS,
    ApiToken,
    Principal,
    Refusal,
    Scope,
    Verifier,
    digest_of,
    ensure_local_token,
    example_credentials,
    new_token,
    read_local_token,
    refuse_example_tenant,
    write_dev_tenant,
)
from services.runtime.settings import CommonSettings

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "deploy" / "tenant.example.yaml"


def test_a_token_entry_holds_the_hash_never_the_token() -> None:
    token, entry = new_token("alice", Scope.ack)
    assert token.startswith("pp_") and len(token) >= 40
    assert entry.line() == f"alice:ack:{digest_of(token)}"
    assert token not in entry.line()
    assert ApiToken.model_validate(entry.line()) == entry
    assert ApiToken.model_validate({"name": "alice", "scope": "ack", "hash": entry.hash}) == entry
    with pytest.raises(ValidationError, match="never the token itself"):
        ApiToken.model_validate(f"alice:ack:plain:{token}")
    with pytest.raises(ValidationError, match="name:scope:sha256"):
        ApiToken.model_validate(token)
    with pytest.raises(ValidationError):
        ApiToken.model_validate(f"alice:admin:{entry.hash}")  # no such scope
    with pytest.raises(ValueError, match="no colon"):
        new_token("bad:name")


def test_settings_take_tokens_as_a_json_list_or_separated_entries(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PARTNERPULSE_SETTINGS_FILE", str(tmp_path / "none.yaml"))
    (_, old), (_, new) = new_token("ops-2025"), new_token("ops-2026", Scope.ack)
    monkeypatch.setenv("PARTNERPULSE_API_TOKENS", json.dumps([old.line(), new.line()]))
    assert CommonSettings().api_tokens == [old, new]
    monkeypatch.setenv("PARTNERPULSE_API_TOKENS", f"{old.line()}, {new.line()}")
    assert CommonSettings().api_tokens == [old, new]
    monkeypatch.delenv("PARTNERPULSE_API_TOKENS")
    settings_file = tmp_path / "partnerpulse.yaml"
    settings_file.write_text(yaml.safe_dump({"api_tokens": [new.line()]}))
    monkeypatch.setenv("PARTNERPULSE_SETTINGS_FILE", str(settings_file))
    assert CommonSettings().api_tokens == [new]
    assert CommonSettings().metrics_require_token is False  # documented default


def test_missing_wrong_and_insufficient_tokens_are_refused_with_a_challenge() -> None:
    reader, read_entry = new_token("grafana-reader")
    acker, ack_entry = new_token("alice", Scope.ack)
    verifier = Verifier([read_entry, ack_entry])

    missing = verifier.authorize(None, Scope.read)
    assert isinstance(missing, Refusal) and missing.status == 401
    assert missing.headers["WWW-Authenticate"] == (
        'Bearer realm="partnerpulse", Basic realm="partnerpulse"'
    )
    basic = base64.b64encode(f"anyone:{reader}x".encode()).decode()
    for header in (f"Bearer {reader}x", f"Basic {reader}", f"Basic {basic}", "Bearer ", reader):
        wrong = verifier.authorize(header, Scope.read)
        assert isinstance(wrong, Refusal) and wrong.status == 401, header
        assert 'error="invalid_token"' in wrong.headers["WWW-Authenticate"]
        assert reader not in wrong.message

    assert verifier.authorize(f"Bearer {reader}", Scope.read) == Principal(
        "grafana-reader", Scope.read
    )
    too_weak = verifier.authorize(f"Bearer {reader}", Scope.ack)
    assert isinstance(too_weak, Refusal) and too_weak.status == 403
    assert 'error="insufficient_scope", scope="ack"' in too_weak.headers["WWW-Authenticate"]
    # ack implies read; the scheme is case-insensitive (RFC 6750)
    assert verifier.authorize(f"bearer {acker}", Scope.read) == Principal("alice", Scope.ack)
    assert verifier.authorize(f"Bearer {acker}", Scope.ack) == Principal("alice", Scope.ack)
    # a browser's Basic prompt: the token is the password, the user name is not the identity
    browser = base64.b64encode(f"mallory:{acker}".encode()).decode()
    assert verifier.authorize(f"Basic {browser}", Scope.ack) == Principal("alice", Scope.ack)


def test_rotation_keeps_old_and_new_tokens_valid_until_the_old_entry_goes() -> None:
    old, old_entry = new_token("ops")
    new, new_entry = new_token("ops")
    both = Verifier([old_entry, new_entry])
    assert isinstance(both.authenticate(f"Bearer {old}"), Principal)
    assert isinstance(both.authenticate(f"Bearer {new}"), Principal)
    after = Verifier([new_entry])
    assert isinstance(after.authenticate(f"Bearer {old}"), Refusal)
    assert isinstance(after.authenticate(f"Bearer {new}"), Principal)


def test_no_configured_token_means_nobody_gets_in_and_says_how_to_fix_it() -> None:
    token, _ = new_token("anyone")
    refusal = Verifier([]).authenticate(f"Bearer {token}")
    assert isinstance(refusal, Refusal) and refusal.status == 401
    assert "PARTNERPULSE_API_TOKENS" in refusal.message and "partnerpulse token" in refusal.message


def test_alerts_routes_need_read_ack_to_acknowledge_and_health_is_open() -> None:
    needs = needed_scope(metrics_open=True)
    assert needs("GET", "/healthz") is None and needs("GET", "/readyz") is None
    assert needs("POST", "/v1/grafana") is None  # Grafana's HMAC signature instead
    assert needs("GET", "/metrics") is None
    assert needs("GET", "/v1/alerts") is Scope.read
    assert needs("GET", "/openapi.json") is Scope.read
    assert needs("POST", "/v1/alerts/al-1/ack") is Scope.ack
    assert needed_scope(metrics_open=False)("GET", "/metrics") is Scope.read


@pytest.mark.parametrize("raw", ["nan", "inf", "-inf", "1e309", "-5", "0", "3661", "abc", ""])
def test_a_report_period_is_a_finite_number_of_days_from_1_to_3660(raw: str) -> None:
    problem = report_days(raw)
    assert isinstance(problem, str) and problem.startswith("days must")


def test_report_periods_in_range_are_taken() -> None:
    assert report_days("90") == 90.0 and report_days("1") == 1.0 and report_days("3660") == 3660


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 5000 + b"]" * 5000,
        b'{"event_ids": [' + b"9" * 5000 + b"]}",
        b'{"event_ids": [18446744073709551616]}',
        b'{"event_ids": "e1"}',
        b'{"event_ids": [1]}',
        b"not json",
        b"\xff\xfe",
    ],
    ids=["deep", "huge-int", "int-over-64-bits", "not-a-list", "not-strings", "text", "bytes"],
)
def test_processed_bodies_that_are_not_a_list_of_ids_are_explained(body: bytes) -> None:
    assert isinstance(processed_ids(body), str)


def test_processed_body_gives_its_ids() -> None:
    assert processed_ids(b'{"event_ids": ["a", "b"]}') == ["a", "b"]


def test_the_example_tenant_is_recognised_by_its_public_secrets() -> None:
    example = load_tenant(EXAMPLE)
    assert example_credentials(example)
    published = {
        secret.get_secret_value()
        for _, config in example.webhooks
        for secret in getattr(config, "secrets", [])
    }
    assert published <= DEMO_SECRETS, "a new demo secret must be refused too"
    message = refuse_example_tenant(example, EXAMPLE, allowed=False)
    assert message and "PARTNERPULSE_ALLOW_EXAMPLE_TENANT" in message
    assert "demo-autotask-secret" not in message  # never print a secret, even a public one
    assert refuse_example_tenant(example, EXAMPLE, allowed=True) is None
    fixture = load_tenant(REPO / "tests" / "fixtures" / "tenant.yaml")
    assert example_credentials(fixture) == []


def test_only_the_dev_copy_lets_connectwise_keys_come_from_loopback(tmp_path: Path) -> None:
    example = load_tenant(EXAMPLE)
    assert not example.webhooks.connectwise.allows("http://127.0.0.1:8483/v1/alerts")
    dev = load_tenant(write_dev_tenant(EXAMPLE, tmp_path))
    assert dev.webhooks.connectwise.allows("http://127.0.0.1:8731/v4_6_release/callback-key/x")
    assert dev.webhooks.connectwise.allows("https://na.myconnectwise.net/key")
    assert dev.clients == example.clients


def test_the_local_token_is_private_and_kept_across_starts(tmp_path: Path) -> None:
    path, entry = ensure_local_token(tmp_path / "var")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    token = read_local_token(tmp_path / "var")
    assert token is not None and entry.hash == digest_of(token)
    assert entry.name == "local" and entry.scope is Scope.ack
    assert ensure_local_token(tmp_path / "var") == (path, entry)
