"""`partnerpulse`: one command line for every service and tool."""

from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from services.events.models import Source, json_schema
from services.events.tenant import TenantConfigError, load_tenant
from services.runtime.settings import CommonSettings

if TYPE_CHECKING:
    from services.runtime.supervisor import ServiceSpec

app = typer.Typer(
    help="partnerpulse: MSP client relationships, watched as events happen.",
    no_args_is_help=True,
    add_completion=False,
)

TenantOption = Annotated[
    Path | None,
    typer.Option("--tenant", help="Tenant file (default: PARTNERPULSE_TENANT_FILE)."),
]


def _setup_logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # kafka-python logs every refused connection at ERROR while a broker is away.
    logging.getLogger("kafka").setLevel(logging.CRITICAL)
    logging.getLogger("httpx").setLevel(logging.WARNING)


def _fail(message: str) -> typer.Exit:
    typer.secho(message, err=True, fg=typer.colors.RED)
    return typer.Exit(2)


def _bootstrap(settings: CommonSettings) -> str:
    from services.runtime.supervisor import read_runtime

    bootstrap = settings.kafka_bootstrap or read_runtime(settings).get("kafka_bootstrap")
    if not bootstrap:
        raise _fail(
            "no broker: set PARTNERPULSE_KAFKA_BOOTSTRAP, or start the stack with "
            "`partnerpulse up` (it publishes its broker in the data dir)"
        )
    return bootstrap


def _classifier_spec() -> ServiceSpec:
    from services.classifier.settings import ClassifierSettings
    from services.runtime.supervisor import ServiceSpec

    settings = ClassifierSettings()
    base = f"http://{settings.classifier_host}:{settings.classifier_port}"
    return ServiceSpec(
        "classifier",
        health_url=f"{base}/healthz",
        describe=f"clients at {base}/v1/clients, metrics at {base}/metrics",
    )


@app.command()
def up(
    tenant: TenantOption = None,
    broker_port: Annotated[
        int, typer.Option(help="Port of the embedded broker (when none is configured).")
    ] = 19092,
) -> None:
    """Start the embedded broker (unless one is configured) and every service; Ctrl+C stops."""
    from services.ingest.settings import IngestSettings
    from services.runtime.supervisor import ServiceSpec, Supervisor

    overrides: dict[str, Any] = {"tenant_file": tenant} if tenant else {}
    settings = IngestSettings(**overrides)
    _setup_logging(settings.log_level)
    try:
        load_tenant(settings.tenant_file)  # fail now, with the file and key, not in a child
    except TenantConfigError as exc:
        raise _fail(str(exc)) from None
    base = f"http://{settings.ingest_host}:{settings.ingest_port}"
    relay_base = f"http://{settings.relay_host}:{settings.relay_port}"
    services = [
        ServiceSpec(
            "ingest",
            health_url=f"{base}/healthz",
            describe=f"webhooks at {base}/v1/webhooks/<source>, metrics at {base}/metrics, "
            f"API docs at {base}/docs",
        ),
        ServiceSpec(
            "relay",
            health_url=f"{relay_base}/healthz",
            describe=f"journal to Kafka, metrics at {relay_base}/metrics",
        ),
        _classifier_spec(),
    ]
    raise typer.Exit(Supervisor(settings, services, broker_port=broker_port).run())


@app.command()
def ingest(tenant: TenantOption = None) -> None:
    """Run the ingest HTTP service (webhooks in, canonical events to Kafka)."""
    import uvicorn

    from services.ingest.app import create_app
    from services.ingest.settings import IngestSettings

    overrides: dict[str, Any] = {"tenant_file": tenant} if tenant else {}
    settings = IngestSettings(**overrides)
    _setup_logging(settings.log_level)
    if not settings.kafka_bootstrap:
        raise _fail("ingest needs PARTNERPULSE_KAFKA_BOOTSTRAP (or run `partnerpulse up`)")
    try:
        application = create_app(settings)
    except TenantConfigError as exc:
        raise _fail(str(exc)) from None
    uvicorn.run(
        application,
        host=settings.ingest_host,
        port=settings.ingest_port,
        log_level=settings.log_level.lower(),
        access_log=False,
        timeout_graceful_shutdown=10,
    )


@app.command()
def relay() -> None:
    """Run the relay: ingest's journal to Kafka, with metrics and health on the relay port."""
    import uvicorn

    from services.ingest.journal import JournalLocked
    from services.ingest.relay import create_relay_app
    from services.ingest.settings import IngestSettings

    settings = IngestSettings()
    _setup_logging(settings.log_level)
    if not settings.kafka_bootstrap:
        raise _fail("relay needs PARTNERPULSE_KAFKA_BOOTSTRAP (or run `partnerpulse up`)")
    try:
        application = create_relay_app(settings)
    except JournalLocked as exc:
        raise _fail(str(exc)) from None
    uvicorn.run(
        application,
        host=settings.relay_host,
        port=settings.relay_port,
        log_level=settings.log_level.lower(),
        access_log=False,
        timeout_graceful_shutdown=10,
    )


@app.command()
def classifier(tenant: TenantOption = None) -> None:
    """Run the stream classifier (events in; work, signals and health out; query API)."""
    from services.classifier.app import create_app
    from services.classifier.settings import ClassifierSettings

    overrides: dict[str, Any] = {"tenant_file": tenant} if tenant else {}
    settings = ClassifierSettings(**overrides)
    _setup_logging(settings.log_level)
    try:
        tenant_config = load_tenant(settings.tenant_file)
    except TenantConfigError as exc:
        raise _fail(str(exc)) from None
    service = create_app(settings, tenant_config, _bootstrap(settings))
    service.worker().execute_from_commandline()


@app.command()
def schema() -> None:
    """Print the JSON Schema of the canonical event."""
    typer.echo(json.dumps(json_schema(), indent=2))


@app.command()
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


@app.command()
def topics() -> None:
    """Create partnerpulse's topics on the configured broker (idempotent)."""
    from services.events import topics as topic_names
    from services.runtime.kafka import ensure_topics

    settings = CommonSettings()
    bootstrap = _bootstrap(settings)
    ensure_topics(bootstrap, topic_names.ALL, partitions=settings.topic_partitions)
    typer.echo(f"topics on {bootstrap}: {', '.join(topic_names.ALL)}")


@app.command()
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


@app.command()
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
            response = httpx.post(
                f"{base}/v1/webhooks/{source.value}", content=body, headers=headers, trust_env=False
            )
        except httpx.HTTPError as exc:
            raise _fail(f"could not reach ingest at {base}: {exc}") from None
    typer.echo(f"{response.status_code} {response.text}")
    if response.status_code >= 400:
        raise typer.Exit(1)


if __name__ == "__main__":
    app()
