"""`partnerpulse`: one command line for every service and tool."""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from services.events.models import Source, json_schema
from services.events.tenant import Tenant, TenantConfigError, load_tenant
from services.runtime.auth import Scope
from services.runtime.settings import CommonSettings

if TYPE_CHECKING:
    from rich.console import Console

    from services.ingest.settings import IngestSettings
    from services.runtime.supervisor import ServiceSpec

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
                env={"PARTNERPULSE_CLASSIFIER_PORT": str(port)},
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


@app.command()
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


@app.command()
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


@app.command()
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


@app.command()
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


@app.command()
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


# -- scenarios: simulate, evaluate, demo ---------------------------------------------------


def _console() -> Console:
    """A rich console that prints data as it is (no emoji codes such as `:ticket:`), and
    wide enough for the tables when the output is not a terminal."""
    from rich.console import Console

    console = Console(emoji=False)
    return console if console.is_terminal else Console(emoji=False, width=160)


@app.command()
def simulate(
    out_dir: Annotated[Path, typer.Argument(help="Folder to write the scenario into.")],
    clients: Annotated[int, typer.Option(help="Clients of the simulated MSP.")] = 20,
    days: Annotated[int, typer.Option(help="Days the scenario covers.")] = 90,
    seed: Annotated[int, typer.Option(help="Same seed, same scenario, byte for byte.")] = 1,
    start: Annotated[
        str, typer.Option(help="First day (YYYY-MM-DD), in the clients' time zone.")
    ] = "2026-01-05",
    max_endpoints: Annotated[
        int, typer.Option(help="Largest client, in managed endpoints (from 12 up).")
    ] = 150,
    profile: Annotated[
        str,
        typer.Option(
            help="standard: a realistic book of clients, a minority ambiguous; hard: every "
            "client a hard case (unrelated alerts at the site, long-open alerts, PSA/RMM ids "
            "that differ, MSP cancellations, co-managed staff, follow-ups, silent clients...)."
        ),
    ] = "standard",
    api: Annotated[
        bool,
        typer.Option(
            "--api/--no-api",
            help="Write api.jsonl: Autotask and HaloPSA time entries and visits only in the "
            "vendors' APIs, every webhook's record there too, and --lost-share of the webhooks "
            "never delivered. --no-api: the old form (a pretend poller posts canonical events).",
        ),
    ] = True,
    lost_share: Annotated[
        float, typer.Option(help="With --api: share of the vendors' webhooks that are lost.")
    ] = 0.2,
) -> None:
    """Write a simulated scenario: tenant.yaml, deliveries.jsonl, truth.json (and api.jsonl)."""
    from collections import Counter
    from datetime import date

    from services.scenario.files import write_scenario
    from services.scenario.simulate import SimulationConfig
    from services.scenario.simulate import simulate as generate

    try:
        config = SimulationConfig(
            clients,
            days,
            seed,
            date.fromisoformat(start),
            max_endpoints=max_endpoints,
            profile=profile,
            api=api,
            lost_share=lost_share,
        )
    except ValueError as exc:
        raise _fail(f"simulate: {exc}") from None
    scenario = generate(config)
    write_scenario(out_dir, scenario.tenant, scenario.deliveries, scenario.truth, scenario.api)
    personas = Counter(p.label for p in scenario.personas.values())
    truth = scenario.truth
    typer.echo(
        f"{out_dir}: {len(scenario.deliveries)} deliveries, {len(scenario.api)} API records, "
        f"{len(truth['work'])} labelled work "
        f"records, {len(truth['signals'])} signals, {clients} clients over {days} days "
        f"from {config.start} (seed {seed})"
    )
    for label, count in sorted(personas.items()):
        typer.echo(f"  {count:3d} {label}")


@app.command()
def evaluate(
    scenario_dir: Annotated[Path, typer.Argument(help="A scenario folder (see simulate).")],
    json_file: Annotated[
        Path | None, typer.Option("--json", help="Also write the scores here, as JSON.")
    ] = None,
    ingest_url: Annotated[
        str | None, typer.Option(help="A running ingest (default: start a pipeline of its own).")
    ] = None,
    classifier_url: Annotated[
        str | None, typer.Option(help="The running classifier's query API.")
    ] = None,
    bootstrap: Annotated[str | None, typer.Option(help="The running pipeline's broker.")] = None,
    concurrency: Annotated[int, typer.Option(help="Deliveries in flight at once.")] = 8,
    timeout: Annotated[
        float, typer.Option(help="Seconds to wait for the classifier to process everything.")
    ] = 600.0,
    keep_data: Annotated[
        bool, typer.Option("--keep-data", help="Keep its own pipeline's data dir and logs.")
    ] = False,
    token: Annotated[
        str | None,
        typer.Option(
            envvar="PARTNERPULSE_API_TOKEN",
            help="API token (scope read) for --classifier-url; its own pipeline makes one.",
        ),
    ] = None,
) -> None:
    """Replay a scenario through the pipeline and score its outputs against the truth.

    Exits 1 when the scores miss the acceptance floors, 2 when it could not evaluate.
    """
    from services.scenario.collect import CollectError, authorize
    from services.scenario.evaluate import EvaluationError, print_report
    from services.scenario.evaluate import evaluate as run_evaluation
    from services.scenario.files import ScenarioError, load_scenario
    from services.scenario.replay import ReplayError
    from services.scenario.stack import Endpoints, StackError

    _setup_logging("WARNING")
    given = [ingest_url, classifier_url, bootstrap]
    if any(given) and not all(given):
        raise _fail("evaluate: give --ingest-url, --classifier-url and --bootstrap together")
    console = _console()
    if classifier_url and token:
        authorize(classifier_url, token)
    try:
        files = load_scenario(scenario_dir)
        endpoints = (
            Endpoints(ingest_url, classifier_url, bootstrap)
            if ingest_url and classifier_url and bootstrap
            else None
        )
        report = run_evaluation(
            files,
            console,
            endpoints=endpoints,
            concurrency=concurrency,
            timeout=timeout,
            keep=keep_data,
        )
    except (ScenarioError, StackError, ReplayError, CollectError, EvaluationError) as exc:
        raise _fail(f"evaluate: {exc}") from None
    print_report(report, console, scenario_dir)
    if json_file is not None:
        json_file.write_text(json.dumps(report.to_dict(), indent=2) + "\n")
        console.print(f"scores written to {json_file}")
    if report.failures():
        raise typer.Exit(1)


@app.command()
def demo(
    clients: Annotated[int, typer.Option(help="Clients of the simulated MSP.")] = 8,
    days: Annotated[int, typer.Option(help="Days the scenario covers.")] = 60,
    seed: Annotated[int, typer.Option(help="Seed of the simulation.")] = 7,
    wait: Annotated[
        bool, typer.Option("--wait/--no-wait", help="Keep the pipeline running until Ctrl+C.")
    ] = True,
) -> None:
    """Simulate a small MSP, run it through the whole pipeline, show who behaves like a partner."""
    from services.scenario.collect import CollectError
    from services.scenario.demo import demo as run_demo
    from services.scenario.evaluate import EvaluationError
    from services.scenario.replay import ReplayError
    from services.scenario.simulate import SimulationConfig
    from services.scenario.stack import StackError

    _setup_logging("WARNING")
    try:
        run_demo(
            _console(),
            folder=CommonSettings().data_dir / "demo",
            config=SimulationConfig(clients=clients, days=days, seed=seed),
            wait=wait,
        )
    except (StackError, ReplayError, CollectError, EvaluationError, ValueError) as exc:
        raise _fail(f"demo: {exc}") from None


@app.command()
def report(
    client: Annotated[
        str | None, typer.Argument(help="The client id (tenant file); or --all.")
    ] = None,
    quarter: Annotated[str | None, typer.Option(help="A quarter, e.g. 2026Q1.")] = None,
    from_: Annotated[
        str | None, typer.Option("--from", help="First day, YYYY-MM-DD (with --to).")
    ] = None,
    to: Annotated[str | None, typer.Option(help="Last day, YYYY-MM-DD, included.")] = None,
    all_clients: Annotated[
        bool, typer.Option("--all", help="Every client of the tenant file, one file each.")
    ] = False,
    fmt: Annotated[str, typer.Option("--format", help="html or pdf.")] = "html",
    out: Annotated[
        Path | None,
        typer.Option(help="The file (one client) or folder (--all); default: current folder."),
    ] = None,
    classifier_url: Annotated[
        str | None, typer.Option(help="The classifier's query API (default: the local one).")
    ] = None,
    token: Annotated[
        str | None,
        typer.Option(
            envvar="PARTNERPULSE_API_TOKEN",
            help="API token (scope read); default: the local one `up` keeps in the data dir.",
        ),
    ] = None,
) -> None:
    """The partnership review of a client (or of --all) for a period, from the running
    classifier: every visit and why, proactive work, recommendations, habits, health."""
    from services.classifier.settings import ClassifierSettings
    from services.report.fetch import ReportClient, ReportFetchError, output_path
    from services.report.period import between
    from services.report.period import quarter as quarter_of
    from services.runtime.auth import read_local_token

    if fmt not in ("html", "pdf"):
        raise _fail(f"report: --format must be html or pdf, not {fmt!r}")
    if (client is None) == (not all_clients):
        raise _fail("report: name one CLIENT or give --all")
    if quarter is not None and (from_ or to):
        raise _fail("report: give --quarter or --from/--to, not both")
    if quarter is not None:
        period = quarter_of(quarter)
        query = {"quarter": quarter}
    elif from_ and to:
        period = between(from_, to)
        query = {"from": from_, "to": to}
    else:
        raise _fail("report: give --quarter 2026Q1, or --from and --to (YYYY-MM-DD)")
    if isinstance(period, str):
        raise _fail(f"report: {period}")
    settings = ClassifierSettings()
    url = classifier_url or f"http://127.0.0.1:{settings.classifier_port}"
    token = token or read_local_token(settings.data_dir)
    try:
        with ReportClient(url, token) as api:
            ids = api.clients() if all_clients else [client or ""]
            if all_clients and out is not None:
                out.mkdir(parents=True, exist_ok=True)
            for client_id in ids:
                path = output_path(out, client_id, period.label, fmt, many=all_clients)
                path.write_bytes(api.report(client_id, query, fmt))
                typer.echo(f"{client_id}: {path}")
    except ReportFetchError as exc:
        raise _fail(f"report: {exc}") from None
    except OSError as exc:
        raise _fail(f"report: cannot write ({exc})") from None


@app.command()
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


if __name__ == "__main__":
    app()
