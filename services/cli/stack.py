"""The services: `up` (every service, supervised), and each one on its own: ingest,
relay, classifier, alerts, poll."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from services.cli.common import (
    TenantOption,
    WorkersOption,
    _bootstrap,
    _fail,
    _serve,
    _service_tenant,
    _setup_logging,
)
from services.events.tenant import Tenant, TenantConfigError, load_tenant
from services.runtime.settings import CommonSettings

if TYPE_CHECKING:
    from services.ingest.settings import IngestSettings
    from services.runtime.supervisor import ServiceSpec


def _prepare_dev(settings: IngestSettings, tenant: Tenant, say: Callable[[str], None]) -> Path:
    """`up` with the example tenant: development mode, on loopback only. Returns the tenant
    file the services get (a copy allowing ConnectWise keys from 127.0.0.1)."""
    from services.alerts.settings import AlertsSettings
    from services.classifier.settings import ClassifierSettings
    from services.runtime.auth import LOOPBACK, example_credentials, write_dev_tenant

    if not example_credentials(tenant):
        return settings.tenant_file
    hosts = {
        "PARTNERPULSE_INGEST_HOST": settings.ingest_host,
        "PARTNERPULSE_RELAY_HOST": settings.relay_host,
        "PARTNERPULSE_CLASSIFIER_HOST": ClassifierSettings().classifier_host,
        "PARTNERPULSE_ALERTS_HOST": AlertsSettings().alerts_host,
    }
    exposed = [f"{name}={host}" for name, host in hosts.items() if host not in LOOPBACK]
    if exposed:
        raise _fail(
            f"{settings.tenant_file} is the example tenant, whose secrets are public; "
            f"`up` runs it on loopback only, not with {', '.join(exposed)}. Write a tenant "
            "file of your own (PARTNERPULSE_TENANT_FILE) to listen beyond this machine."
        )
    os.environ["PARTNERPULSE_ALLOW_EXAMPLE_TENANT"] = "1"  # the services inherit it
    dev_file = write_dev_tenant(settings.tenant_file, settings.data_dir)
    say(
        f"example tenant {settings.tenant_file}: development mode on loopback (public demo "
        f"secrets; ConnectWise keys from 127.0.0.1 for `partnerpulse send`, in {dev_file})"
    )
    return dev_file


def _local_token(settings: CommonSettings, say: Callable[[str], None]) -> None:
    """Unless API tokens are configured, make (or reuse) the data dir's local token, with
    scope ack, for `up`'s own tools, and give its entry to the services."""
    from services.runtime.auth import ensure_local_token

    if settings.api_tokens:
        say(f"API tokens: {len(settings.api_tokens)} configured (PARTNERPULSE_API_TOKENS)")
        return
    path, entry = ensure_local_token(settings.data_dir)
    os.environ["PARTNERPULSE_API_TOKENS"] = json.dumps([entry.line()])  # the services inherit
    say(
        f"API token (scope ack) for the query and alerts APIs in {path} (mode 0600): "
        f'curl -H "Authorization: Bearer $(cat {path})" ...'
    )


def _classifier_specs(workers: int = 1) -> list[ServiceSpec]:
    """One service per classifier worker, in one consumer group, each on its own port
    (the configured one, then the next ones)."""
    from services.classifier.settings import ClassifierSettings
    from services.runtime.supervisor import ServiceSpec

    settings = ClassifierSettings()
    # Every worker a warm standby of every partition it does not own: a takeover after a
    # worker dies reads no changelog from its start (docs/deployment.md, "Several workers").
    standbys = (
        settings.classifier_standby_replicas
        if "classifier_standby_replicas" in settings.model_fields_set
        else max(1, workers - 1)
    )
    specs = []
    for i in range(workers):
        port = settings.classifier_port + i
        base = f"http://{settings.classifier_host}:{port}"
        specs.append(
            ServiceSpec(
                "classifier" if workers == 1 else f"classifier-{i + 1}",
                health_url=f"{base}/healthz",
                describe=f"clients at {base}/v1/clients, metrics at {base}/metrics",
                command="classifier",
                env={
                    "PARTNERPULSE_CLASSIFIER_PORT": str(port),
                    "PARTNERPULSE_CLASSIFIER_STANDBY_REPLICAS": str(standbys),
                },
            )
        )
    return specs


def _alerts_spec() -> ServiceSpec:
    from services.alerts.settings import AlertsSettings
    from services.runtime.supervisor import ServiceSpec

    settings = AlertsSettings()
    base = f"http://{settings.alerts_host}:{settings.alerts_port}"
    return ServiceSpec(
        "alerts",
        health_url=f"{base}/healthz",
        describe=f"alerts at {base}/v1/alerts, Grafana webhook at {base}/v1/grafana, "
        f"email via {settings.alerts_smtp_host}:{settings.alerts_smtp_port}, "
        f"metrics at {base}/metrics",
    )


def up(
    tenant: TenantOption = None,
    broker_port: Annotated[
        int | None,
        typer.Option(
            help="Port of the embedded broker (when none is configured) "
            "[default: PARTNERPULSE_BROKER_PORT, else 19092]."
        ),
    ] = None,
    classifier_workers: WorkersOption = 1,
) -> None:
    """Start the embedded broker (unless one is configured) and every service; Ctrl+C stops."""
    from services.ingest.settings import IngestSettings
    from services.poll.service import poll_specs
    from services.runtime.supervisor import ServiceSpec, Supervisor

    overrides: dict[str, Any] = {"tenant_file": tenant} if tenant else {}
    settings = IngestSettings(**overrides)
    _setup_logging(settings.log_level)
    try:
        config = load_tenant(settings.tenant_file)  # fail now, with the file and key
    except TenantConfigError as exc:
        raise _fail(str(exc)) from None

    def say(message: str) -> None:
        print(f"partnerpulse up: {message}", flush=True)

    settings = settings.model_copy(update={"tenant_file": _prepare_dev(settings, config, say)})
    _local_token(settings, say)
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
        *_classifier_specs(classifier_workers),
        _alerts_spec(),
        *poll_specs(config, ingest_url=base),  # only with a `polling:` section
    ]
    port = broker_port or settings.broker_port
    raise typer.Exit(Supervisor(settings, services, broker_port=port).run())


def ingest(tenant: TenantOption = None) -> None:
    """Run the ingest HTTP service (webhooks in, canonical events to Kafka)."""
    from services.ingest.app import create_app
    from services.ingest.settings import IngestSettings

    overrides: dict[str, Any] = {"tenant_file": tenant} if tenant else {}
    settings = IngestSettings(**overrides)
    _setup_logging(settings.log_level)
    if not settings.kafka_bootstrap:
        raise _fail("ingest needs PARTNERPULSE_KAFKA_BOOTSTRAP (or run `partnerpulse up`)")
    try:
        application = create_app(settings, tenant=_service_tenant(settings))
    except TenantConfigError as exc:
        raise _fail(str(exc)) from None
    _serve(application, settings.ingest_host, settings.ingest_port, settings.log_level)


def relay() -> None:
    """Run the relay: ingest's journal to Kafka, with metrics and health on the relay port."""
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
    _serve(application, settings.relay_host, settings.relay_port, settings.log_level)


def classifier(tenant: TenantOption = None, workers: WorkersOption = 1) -> None:
    """Run the stream classifier (events in; work, signals and health out; query API).

    With --workers N, N worker processes in one consumer group, supervised, on the
    configured port and the next ones; any of them answers for every client."""
    from services.classifier.app import create_app
    from services.classifier.settings import ClassifierSettings

    overrides: dict[str, Any] = {"tenant_file": tenant} if tenant else {}
    settings = ClassifierSettings(**overrides)
    _setup_logging(settings.log_level)
    tenant_config = _service_tenant(settings)
    bootstrap = _bootstrap(settings)
    if workers > 1:
        from services.runtime.supervisor import Supervisor

        group = settings.model_copy(update={"kafka_bootstrap": bootstrap})
        specs = _classifier_specs(workers)
        raise typer.Exit(Supervisor(group, specs, who="partnerpulse classifier").run())
    service = create_app(settings, tenant_config, bootstrap)
    service.worker().execute_from_commandline()


def alerts(tenant: TenantOption = None) -> None:
    """Run the alerts service (signals and health in; email and chat out; Grafana webhook)."""
    from services.alerts.app import create_app
    from services.alerts.settings import AlertsSettings

    overrides: dict[str, Any] = {"tenant_file": tenant} if tenant else {}
    settings = AlertsSettings(**overrides)
    _setup_logging(settings.log_level)
    settings = settings.model_copy(update={"kafka_bootstrap": _bootstrap(settings)})
    try:
        application = create_app(settings, _service_tenant(settings))
    except TenantConfigError as exc:
        raise _fail(str(exc)) from None
    _serve(application, settings.alerts_host, settings.alerts_port, settings.log_level)


def poll(tenant: TenantOption = None) -> None:
    """Run the poller: vendor APIs polled per the tenant's `polling:` section, records posted
    to ingest; /metrics and /healthz on PARTNERPULSE_POLL_PORT (8484)."""
    from services.poll.app import create_app
    from services.poll.settings import PollSettings

    overrides: dict[str, Any] = {"tenant_file": tenant} if tenant else {}
    settings = PollSettings(**overrides)
    _setup_logging(settings.log_level)
    application = create_app(settings, tenant=_service_tenant(settings))
    _serve(application, settings.poll_host, settings.poll_port, settings.log_level)


# The commands of this group, in the order `partnerpulse --help` lists them.
COMMANDS: list[Callable[..., Any]] = [up, ingest, relay, classifier, alerts, poll]
