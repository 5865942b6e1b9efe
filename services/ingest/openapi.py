"""What ingest's OpenAPI spec says each source's delivery looks like.

The handler reads every body as raw bytes (signatures are verified over those exact
bytes), so FastAPI cannot infer a body from it. These schemas are added to the spec
by hand (`openapi_extra`): each vendor's delivery shape, the top-level fields its
adapter reads (tests/fixtures/payloads/<source>/ are real examples), and the headers
that authenticate it. They are permissive on purpose (every field optional, more
allowed): the spec describes, the adapter decides; a fuzzer (`make fuzz`) reads them
to build bodies that reach the adapters.
"""

from __future__ import annotations

from typing import Any

from services.events.models import Action, Source
from services.events.tenant import Tenant

_STR: dict[str, Any] = {"type": "string"}
_ID: dict[str, Any] = {"type": ["string", "integer"]}
_OBJ: dict[str, Any] = {"type": "object"}
_TIME: dict[str, Any] = {"type": "string", "format": "date-time"}
_EPOCH_OR_TIME: dict[str, Any] = {"type": ["number", "string"]}


def _object(**properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "additionalProperties": True}


AUTOTASK = _object(
    Action=_STR,
    Guid=_STR,
    EntityType=_STR,
    Id=_ID,
    Fields=_OBJ,
    EventTime=_TIME,
    SequenceNumber={"type": "integer"},
    PersonId=_ID,
)

CONNECTWISE = _object(
    MessageId=_STR,
    FromUrl=_STR,
    CompanyId=_STR,
    MemberId=_STR,
    Action=_STR,
    Type=_STR,
    ID=_ID,
    ProductInstanceId=_STR,
    PartnerId=_STR,
    # The entity as a JSON document inside a string (ConnectWise's own encoding), or null.
    Entity={"type": ["string", "null"]},
    Metadata=_object(key_url=_STR),
    CallbackObjectRecId=_ID,
)

_HALO_ITEM = _object(event=_STR, ticket=_OBJ, action=_OBJ, client=_OBJ)
HALOPSA: dict[str, Any] = {
    "oneOf": [_HALO_ITEM, {"type": "array", "items": _HALO_ITEM}],
}

NINJAONE = _object(
    id=_ID,
    activityTime=_EPOCH_OR_TIME,
    deviceId=_ID,
    organizationId=_ID,
    userId=_ID,
    severity=_STR,
    priority=_STR,
    seriesUid=_STR,
    activityType=_STR,
    statusCode=_STR,
    status=_STR,
    sourceConfigUid=_STR,
    sourceName=_STR,
    subject=_STR,
    message=_STR,
    type=_STR,
    data=_OBJ,
    device=_OBJ,
    organization=_OBJ,
)

DATTORMM = _object(
    status=_STR,
    alert_uid=_STR,
    alert_type=_STR,
    alert_category=_STR,
    alert_priority=_STR,
    alert_message_en=_STR,
    device_uid=_STR,
    device_hostname=_STR,
    device_ip=_STR,
    last_user=_STR,
    site_uid=_STR,
    site_name=_STR,
    platform=_STR,
    timestamp=_STR,
)

_TACTICAL_ITEM = _object(
    event=_STR,
    alert_id=_STR,
    alert_type=_STR,
    severity=_STR,
    alert_time=_STR,
    resolved_on={"type": ["string", "null"]},
    message=_STR,
    agent_id=_STR,
    hostname=_STR,
    client=_STR,
    site=_STR,
)
TACTICALRMM: dict[str, Any] = {
    "oneOf": [_TACTICAL_ITEM, {"type": "array", "items": _TACTICAL_ITEM}],
}

CANONICAL = _object(
    event_id=_STR,
    source=_STR,
    action={"type": "string", "enum": [a.value for a in Action]},
    occurred_at=_TIME,
    client_id=_STR,
    source_client_ref=_STR,
    refs={"type": "array", "items": _object(source=_STR, entity=_STR, id=_STR)},
    payload=_object(kind=_STR),
)

BODIES: dict[Source, dict[str, Any]] = {
    Source.autotask: AUTOTASK,
    Source.connectwise: CONNECTWISE,
    Source.halopsa: HALOPSA,
    Source.ninjaone: NINJAONE,
    Source.dattormm: DATTORMM,
    Source.tacticalrmm: TACTICALRMM,
    Source.canonical: CANONICAL,
}


def _header(name: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "header",
        "required": False,  # absent: 401, which a fuzzer should see too
        "schema": {"type": "string"},
        "description": description,
    }


def auth_headers(source: Source, tenant: Tenant) -> list[dict[str, Any]]:
    """The headers that authenticate `source` for this tenant (names only, no secret)."""
    hooks = tenant.webhooks
    if source is Source.autotask:
        return [_header("X-Hook-Signature", "sha1=<base64 HMAC-SHA1 of the raw body>")]
    if source is Source.connectwise:
        return [
            _header(
                "X-Content-Signature",
                "base64 HMAC-SHA256 of the raw body under the key at Metadata.key_url",
            )
        ]
    if source is Source.halopsa:
        return [_header("Authorization", "Basic: the tenant's user name and password")]
    if source in (Source.ninjaone, Source.dattormm, Source.tacticalrmm):
        header = getattr(hooks, source.value).header
        return [_header(header, "the tenant's shared secret, as configured")]
    return [
        _header(name, "Standard Webhooks")
        for name in ("webhook-id", "webhook-timestamp", "webhook-signature")
    ]


def delivery_operation(source: Source, tenant: Tenant) -> dict[str, Any]:
    """The `openapi_extra` of one source's route: its body and its auth headers."""
    content: dict[str, Any] = {"application/json": {"schema": BODIES[source]}}
    if source is Source.canonical:
        content["application/x-ndjson"] = {
            "schema": {"type": "string", "description": "one canonical event per line"}
        }
    return {
        "requestBody": {"required": True, "content": content},
        "parameters": auth_headers(source, tenant),
    }
