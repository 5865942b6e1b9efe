"""The partnership review of a client, fetched from the running classifier."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from services.cli.common import _fail


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
    from services.report.period import between
    from services.report.period import quarter as quarter_of
    from services.runtime.auth import read_local_token
    from services.runtime.report_client import ReportClient, ReportFetchError, output_path

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


# The commands of this group, in the order `partnerpulse --help` lists them.
COMMANDS: list[Callable[..., Any]] = [report]
