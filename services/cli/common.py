"""What every command group shares: the typer app, common options, logging, serving
an ASGI app, failing with a message, finding the broker and the service's tenant."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from services.events.tenant import Tenant, TenantConfigError, load_tenant
from services.runtime.settings import CommonSettings

if TYPE_CHECKING:
    from rich.console import Console

app = typer.Typer(
    help="partnerpulse: MSP client relationships, watched as events happen.",
    no_args_is_help=True,
    add_completion=False,
)

WorkersOption = Annotated[
    int,
    typer.Option(
        min=1,
        max=64,
        help="Classifier workers in one consumer group (each on its own port, from "
        "PARTNERPULSE_CLASSIFIER_PORT on); at most the number of topic partitions do work.",
    ),
]
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


def _serve(application: Any, host: str, port: int, log_level: str) -> None:
    import uvicorn

    from services.ingest.server import DEFAULT_READ_TIMEOUT, server_config

    # Every service reads requests under a deadline; an app may set its own
    # (ingest: PARTNERPULSE_INGEST_READ_TIMEOUT_SECONDS).
    state = getattr(application, "state", None)
    read_timeout = getattr(state, "read_timeout", DEFAULT_READ_TIMEOUT)
    config = server_config(
        application,
        host,
        port,
        log_level=log_level.lower(),
        read_timeout=read_timeout,
        timeout_graceful_shutdown=10,
    )
    uvicorn.Server(config).run()


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


def _service_tenant(settings: CommonSettings) -> Tenant:
    """The tenant a service starts with; never the example's public secrets unless the
    development switch (PARTNERPULSE_ALLOW_EXAMPLE_TENANT) is set."""
    from services.runtime.auth import refuse_example_tenant

    try:
        tenant = load_tenant(settings.tenant_file)
    except TenantConfigError as exc:
        raise _fail(str(exc)) from None
    refusal = refuse_example_tenant(tenant, settings.tenant_file, settings.allow_example_tenant)
    if refusal:
        raise _fail(refusal)
    return tenant


def _console() -> Console:
    """A rich console that prints data as it is (no emoji codes such as `:ticket:`), and
    wide enough for the tables when the output is not a terminal."""
    from rich.console import Console

    console = Console(emoji=False)
    return console if console.is_terminal else Console(emoji=False, width=160)
