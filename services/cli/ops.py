"""Operating tools: the event schema, tenant checks, API tokens, topics, tailing a topic,
and sending a signed delivery."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from services.cli.common import TenantOption, _bootstrap, _fail, _setup_logging
from services.events.models import Source, json_schema
from services.events.tenant import TenantConfigError, load_tenant
from services.platform import local_http
from services.runtime.auth import Scope
from services.runtime.settings import CommonSettings


def schema() -> None:
    """Print the JSON Schema of the canonical event."""
    typer.echo(json.dumps(json_schema(), indent=2))


def check_tenant(tenant: Annotated[Path, typer.Argument(help="The tenant file to check.")]) -> None:
    """Validate a tenant file and summarise it."""
    try:
        config = load_tenant(tenant)
    except TenantConfigError as exc:
        raise _fail(str(exc)) from None
    typer.echo(
        f"{tenant}: tenant {config.tenant!r}, {len(config.clients)} client(s), "
        f"{len(config.technicians)} technician(s): OK"
    )


def token(
    name: Annotated[str, typer.Argument(help="Who holds it (shown as the acknowledger).")],
    scope: Annotated[
        Scope, typer.Option(help="read: query, report and alert lists; ack: also acknowledge.")
    ] = Scope.read,
) -> None:
    """Make an API token: print it (once) and the entry to configure, which holds its hash."""
    from pydantic import ValidationError

    from services.runtime.auth import new_token

    try:
        secret, entry = new_token(name, scope)
    except (ValueError, ValidationError) as exc:
        raise _fail(f"token: {exc}") from None
    typer.echo(f"token for {name} (give it to them; it is not stored anywhere):", err=True)
    typer.echo(secret)
    typer.echo(
        "add this entry to PARTNERPULSE_API_TOKENS (or api_tokens: in the settings file):",
        err=True,
    )
    typer.echo(entry.line())


def topics() -> None:
    """Create partnerpulse's topics on the configured broker (idempotent)."""
    from services.events import topics as topic_names
    from services.runtime.kafka import ensure_topics

    settings = CommonSettings()
    bootstrap = _bootstrap(settings)
    ensure_topics(bootstrap, topic_names.ALL, partitions=settings.topic_partitions)
    typer.echo(f"topics on {bootstrap}: {', '.join(topic_names.ALL)}")


def tail(
    topic: Annotated[str, typer.Argument(help="Topic, e.g. partnerpulse.events")],
    from_beginning: Annotated[
        bool, typer.Option("--from-beginning/--new-only", help="Start at the oldest record.")
    ] = True,
    count: Annotated[int | None, typer.Option(help="Stop after this many records.")] = None,
    idle: Annotated[
        float | None, typer.Option(help="Stop after this many seconds with no record.")
    ] = None,
) -> None:
    """Print a topic's records as JSON lines (key, headers, value) and follow it."""
    from kafka import KafkaConsumer, TopicPartition

    settings = CommonSettings()
    _setup_logging("WARNING")
    bootstrap = _bootstrap(settings)
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        partitions = consumer.partitions_for_topic(topic)
        if not partitions:
            raise _fail(f"topic {topic!r} does not exist on {bootstrap}")
        assigned = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(assigned)
        if from_beginning:
            consumer.seek_to_beginning()
        else:
            consumer.seek_to_end()
        seen = 0
        last = time.monotonic()
        while count is None or seen < count:
            batch = consumer.poll(timeout_ms=500)
            if not batch:
                if idle is not None and time.monotonic() - last > idle:
                    break
                continue
            last = time.monotonic()
            for records in batch.values():
                for record in records:
                    typer.echo(json.dumps(_record_json(record)))
                    seen += 1
                    if count is not None and seen >= count:
                        break
    except KeyboardInterrupt:
        pass
    finally:
        consumer.close()


def _record_json(record: Any) -> dict[str, Any]:
    value: Any
    try:
        value = json.loads(record.value)
    except (ValueError, TypeError):
        value = record.value.decode("utf-8", "replace") if record.value else None
    return {
        "topic": record.topic,
        "partition": record.partition,
        "offset": record.offset,
        "key": record.key.decode("utf-8", "replace") if record.key else None,
        "headers": {k: v.decode("utf-8", "replace") for k, v in record.headers or []},
        "value": value,
    }


def send(
    source: Annotated[Source, typer.Argument(help="Which vendor's webhook route.")],
    body_file: Annotated[Path, typer.Argument(help="The raw body, as the vendor sends it.")],
    url: Annotated[str | None, typer.Option(help="Ingest base URL.")] = None,
    tenant: TenantOption = None,
    curl: Annotated[
        bool, typer.Option("--curl", help="Post with curl, printing its command line.")
    ] = False,
) -> None:
    """Sign a body the way its vendor does (secrets from the tenant file) and post it.

    For ConnectWise, the signing key is served at the body's loopback key_url
    while the request is made, as ConnectWise's own key server would.
    """
    import shlex
    import subprocess

    import httpx

    from services.ingest.sender import signer
    from services.ingest.settings import IngestSettings

    overrides: dict[str, Any] = {"tenant_file": tenant} if tenant else {}
    settings = IngestSettings(**overrides)
    try:
        config = load_tenant(settings.tenant_file)
    except TenantConfigError as exc:
        raise _fail(str(exc)) from None
    base = url or f"http://{settings.ingest_host}:{settings.ingest_port}"
    body = body_file.read_bytes()
    with signer(config) as s:
        headers = {"content-type": "application/json", **s.headers(source, body)}
        if curl:
            command = [
                "curl",
                "-sS",
                "-w",
                "\\n%{http_code}\\n",
                "-X",
                "POST",
                f"{base}/v1/webhooks/{source.value}",
                "--data-binary",
                f"@{body_file}",
            ]
            for name, value in headers.items():
                command += ["-H", f"{name}: {value}"]
            typer.echo(shlex.join(command))
            raise typer.Exit(subprocess.run(command, check=False).returncode)
        try:
            response = local_http.post(
                f"{base}/v1/webhooks/{source.value}", content=body, headers=headers, trust_env=False
            )
        except httpx.HTTPError as exc:
            raise _fail(f"could not reach ingest at {base}: {exc}") from None
    typer.echo(f"{response.status_code} {response.text}")
    if response.status_code >= 400:
        raise typer.Exit(1)


# The commands of this group, in the order `partnerpulse --help` lists them.
COMMANDS: list[Callable[..., Any]] = [schema, check_tenant, token, topics, tail, send]
