"""API tokens: one verifier for every service's query, report and alerts API.

A token is a high-entropy random string (`pp_` + 43 URL-safe characters, 256
bits) that a client sends as `Authorization: Bearer <token>`. The services keep
only its SHA-256 digest, in `PARTNERPULSE_API_TOKENS` (or `api_tokens:` in the
settings file), one entry per token:

    <name>:<scope>:sha256:<64 hex digits>

`name` is who holds the token (it is the acknowledger's identity on
`POST /v1/alerts/{id}/ack`); `scope` is `read` (the query, report and alert
lists) or `ack` (read, and acknowledge alerts). Several entries may be valid at
once, so a token is rotated by adding the new one, moving clients over, and
removing the old one. A plain digest is enough: the tokens are random, not
passwords, so there is nothing to brute-force; digests are compared with
`hmac.compare_digest`.

`partnerpulse token NAME --scope ack` makes a token and prints its entry;
`partnerpulse up` makes a local token for its own tools (`local_token_file`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import secrets
from collections.abc import Awaitable, Callable, Iterable, Mapping, MutableMapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

if TYPE_CHECKING:
    from services.events.tenant import Tenant

TOKEN_PREFIX = "pp_"
REALM = "partnerpulse"
LOCAL_TOKEN_NAME = "local"
_HEX = re.compile(r"^[0-9a-f]{64}$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@+-]{0,63}$")


class Scope(StrEnum):
    read = "read"  # the query and report APIs, the alert list
    ack = "ack"  # read, and acknowledge alerts

    def grants(self, needed: Scope) -> bool:
        return self is Scope.ack or needed is Scope.read


class ApiToken(BaseModel):
    """One configured token: who holds it, what it may do, and its SHA-256 digest."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(description="Who holds the token; shown as the acknowledger.")
    scope: Scope = Field(Scope.read, description="read, or ack (read and acknowledge).")
    hash: str = Field(description="sha256:<64 lower-case hex digits> of the token.")

    @model_validator(mode="before")
    @classmethod
    def _from_line(cls, value: Any) -> Any:
        """Accept the one-line form `name:scope:sha256:<hex>` as well as a mapping."""
        if isinstance(value, str):
            parts = value.strip().split(":")
            if len(parts) != 4:
                raise ValueError(
                    "an API token entry is name:scope:sha256:<hex> (make one with "
                    "`partnerpulse token NAME`)"
                )
            return {"name": parts[0], "scope": parts[1], "hash": f"{parts[2]}:{parts[3]}"}
        return value

    @model_validator(mode="after")
    def _check(self) -> ApiToken:
        if not _NAME.match(self.name):
            raise ValueError(
                f"token name {self.name!r}: 1-64 letters, digits or . _ @ + - (no colon)"
            )
        algorithm, _, digest = self.hash.partition(":")
        if algorithm != "sha256" or not _HEX.match(digest):
            raise ValueError(
                f"token {self.name!r}: hash must be sha256:<64 lower-case hex digits>, "
                "never the token itself"
            )
        return self

    @property
    def digest(self) -> bytes:
        return bytes.fromhex(self.hash.partition(":")[2])

    def line(self) -> str:
        return f"{self.name}:{self.scope.value}:{self.hash}"


def digest_of(token: str) -> str:
    return "sha256:" + hashlib.sha256(token.encode()).hexdigest()


def new_token(name: str, scope: Scope = Scope.read) -> tuple[str, ApiToken]:
    """A fresh random token and its configuration entry."""
    if not _NAME.match(name):
        raise ValueError(f"name {name!r}: 1-64 letters, digits or . _ @ + - (no colon)")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    return token, ApiToken(name=name, scope=scope, hash=digest_of(token))


@dataclass(frozen=True)
class Principal:
    name: str
    scope: Scope


@dataclass(frozen=True)
class Refusal:
    """Why a request is refused: 401 (who are you?) or 403 (not allowed), with headers."""

    status: int
    message: str
    headers: dict[str, str]


class Verifier:
    """Checks `Authorization` headers against the configured tokens (pure, no I/O)."""

    def __init__(self, tokens: Iterable[ApiToken]) -> None:
        self.tokens = tuple(tokens)

    def authenticate(self, authorization: str | None) -> Principal | Refusal:
        if not self.tokens:
            return _unauthorized(
                "no API tokens are configured, so this API answers nobody: add one to "
                "PARTNERPULSE_API_TOKENS (make it with `partnerpulse token NAME`)",
                error=None,
            )
        if not authorization:
            return _unauthorized("send Authorization: Bearer <API token>", error=None)
        token = _presented(authorization)
        if not token:
            return _unauthorized(
                "the Authorization header must be Bearer <API token> (or Basic with the "
                "token as the password)"
            )
        presented = hashlib.sha256(token.encode()).digest()
        found: ApiToken | None = None
        for entry in self.tokens:  # every entry is compared: no early exit to time
            if hmac.compare_digest(presented, entry.digest):
                found = entry
        if found is None:
            return _unauthorized("the API token is not valid (revoked or mistyped?)")
        return Principal(found.name, found.scope)

    def authorize(self, authorization: str | None, needed: Scope) -> Principal | Refusal:
        outcome = self.authenticate(authorization)
        if isinstance(outcome, Refusal) or outcome.scope.grants(needed):
            return outcome
        return Refusal(
            403,
            f"token {outcome.name!r} has scope {outcome.scope.value}; this needs {needed.value}",
            {
                "WWW-Authenticate": f'Bearer realm="{REALM}", error="insufficient_scope", '
                f'scope="{needed.value}"'
            },
        )


def _presented(authorization: str) -> str:
    """The token in `Bearer <token>`, or the password of `Basic` (what a browser sends
    for a link such as the Client detail dashboard's; the user name is not used)."""
    scheme, _, credentials = authorization.strip().partition(" ")
    credentials = credentials.strip()
    if scheme.lower() == "bearer":
        return credentials
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(credentials, validate=True).decode()
        except (ValueError, UnicodeDecodeError):
            return ""
        return decoded.partition(":")[2]
    return ""


def _unauthorized(message: str, error: str | None = "invalid_token") -> Refusal:
    challenge = f'Bearer realm="{REALM}"' + (f', error="{error}"' if error else "")
    # Basic too, so that a browser asks for the token (as the password) on a plain link.
    return Refusal(401, message, {"WWW-Authenticate": f'{challenge}, Basic realm="{REALM}"'})


def bearer(token: str) -> dict[str, str]:
    """The request header a client sends."""
    return {"Authorization": f"Bearer {token}"}


def header(headers: Mapping[str, str]) -> str | None:
    return headers.get("authorization") or headers.get("Authorization")


# -- an ASGI middleware for the FastAPI services ------------------------------------------

Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
AsgiApp = Callable[[MutableMapping[str, Any], Receive, Send], Awaitable[None]]


class TokenGuard:
    """Refuses HTTP requests without a token of the scope `needs(method, path)` names
    (None: the route is open) before the app sees them, so no validation error or 404
    answers a stranger. The principal is left in `request.state.principal`."""

    def __init__(
        self,
        app: AsgiApp,
        verifier: Verifier,
        needs: Callable[[str, str], Scope | None],
    ) -> None:
        self.app = app
        self.verifier = verifier
        self.needs = needs

    async def __call__(self, scope: MutableMapping[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        needed = self.needs(scope["method"], scope["path"])
        if needed is None:
            await self.app(scope, receive, send)
            return
        authorization = next(
            (v.decode("latin-1") for k, v in scope["headers"] if k.lower() == b"authorization"),
            None,
        )
        outcome = self.verifier.authorize(authorization, needed)
        if isinstance(outcome, Principal):
            scope.setdefault("state", {})["principal"] = outcome
            await self.app(scope, receive, send)
            return
        body = json.dumps({"error": outcome.message}).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
        headers += [(k.lower().encode(), v.encode()) for k, v in outcome.headers.items()]
        await send({"type": "http.response.start", "status": outcome.status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


# -- the local token `partnerpulse up` makes for its own tools ---------------------------


def local_token_file(data_dir: Path) -> Path:
    return data_dir / "api-token"


def ensure_local_token(data_dir: Path) -> tuple[Path, ApiToken]:
    """The data dir's local token (made on first use, mode 0600) and its entry.

    Kept across restarts, so a tool holding it keeps working; delete the file to
    rotate it (the next `up` makes a new one)."""
    path = local_token_file(data_dir)
    token = read_local_token(data_dir)
    if token is None:
        token, _ = new_token(LOCAL_TOKEN_NAME, Scope.ack)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(token + "\n")
    path.chmod(0o600)
    return path, ApiToken(name=LOCAL_TOKEN_NAME, scope=Scope.ack, hash=digest_of(token))


def read_local_token(data_dir: Path) -> str | None:
    try:
        token = local_token_file(data_dir).read_text().strip()
    except FileNotFoundError:
        return None
    return token if token.startswith(TOKEN_PREFIX) else None


# -- the example tenant's public secrets ---------------------------------------------------

# The secrets deploy/tenant.example.yaml publishes (and anyone can read on GitHub). A
# service refuses to start with any of them unless `allow_example_tenant` is set.
EXAMPLE_TENANT_ID = "example-msp"
DEMO_SECRETS = frozenset(
    {
        "demo-autotask-secret",
        "demo-halo-password",
        "demo-ninja-secret",
        "demo-datto-secret",
        "demo-tactical-secret",
        "whsec_ZGVtby1jYW5vbmljYWwtc2VjcmV0LTAxMjM0NTY=",
    }
)


def example_credentials(tenant: Tenant) -> list[str]:
    """Where `tenant` uses the example tenant's identity or public demo secrets."""
    found = [f"tenant: {EXAMPLE_TENANT_ID}"] if tenant.tenant == EXAMPLE_TENANT_ID else []
    for source, config in tenant.webhooks:
        for secret in getattr(config, "secrets", []):
            if secret.get_secret_value() in DEMO_SECRETS:
                found.append(f"webhooks.{source}.secrets")
                break
    return found


def refuse_example_tenant(tenant: Tenant, tenant_file: Path, allowed: bool) -> str | None:
    """The message a service stops with, when `tenant` is the example and not `allowed`."""
    found = example_credentials(tenant)
    if not found or allowed:
        return None
    return (
        f"{tenant_file}: this is the example tenant, with secrets published in the "
        f"partnerpulse repository ({', '.join(found)}); anyone could sign webhooks for it. "
        "Copy it, write your own tenant id and secrets (e.g. as ${ENV_VAR}), and point "
        "PARTNERPULSE_TENANT_FILE at the copy. For local development only, "
        "PARTNERPULSE_ALLOW_EXAMPLE_TENANT=1 lets it start (`partnerpulse up` sets it on "
        "loopback)."
    )


LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
DEV_KEY_URL_HOST = "127.0.0.1:*"  # where `partnerpulse send` serves ConnectWise's key


def write_dev_tenant(tenant_file: Path, data_dir: Path) -> Path:
    """A copy of the example tenant for `partnerpulse up` on loopback, in the data dir:
    ConnectWise key_url may also name 127.0.0.1 (any port), where `partnerpulse send`
    serves the signing key, and no age check of vendor times (the examples are dated).
    The example itself never allows a loopback key host and keeps the age check."""
    import yaml

    document = yaml.safe_load(tenant_file.read_text())
    connectwise = document.setdefault("webhooks", {}).setdefault("connectwise", {})
    hosts = connectwise.setdefault("key_url_hosts", ["*.myconnectwise.net"])
    if DEV_KEY_URL_HOST not in hosts:
        hosts.append(DEV_KEY_URL_HOST)
    # The examples and payload fixtures are vendor bodies of March 2026: ingest's age
    # check (a replay guard against live vendors) would refuse them as stale here.
    freshness = document["webhooks"].setdefault("freshness", {}) or {}
    freshness["max_event_age_hours"] = None
    document["webhooks"]["freshness"] = freshness
    path = data_dir / "dev-tenant.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        f"# Made by `partnerpulse up` from {tenant_file} for local development; "
        "rewritten at each start.\n" + yaml.safe_dump(document, sort_keys=False)
    )
    return path
