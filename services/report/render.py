"""The report as HTML: Jinja2 templates, print CSS, charts as inline SVG (data URIs).

Pure but for reading the tenant's logo file (a local path; never a URL). Every figure
the tests read back carries `data-figure="<name>"`, and the key figures are also
printed as "label: value" lines, so `pdftotext` finds them in the PDF.
"""

from __future__ import annotations

import base64
import logging
from pathlib import Path

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from services.events.tenant_branding import LOGO_TYPES, MAX_LOGO_BYTES, Branding
from services.report import charts
from services.report.model import Report

log = logging.getLogger(__name__)

_ENV = Environment(
    loader=PackageLoader("services.report", "templates"),
    autoescape=select_autoescape(["html", "j2"]),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def _data_uri(mime: str, data: bytes) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


def logo_uri(branding: Branding) -> str | None:
    """The logo as a data URI, or None (and a warning) when it cannot be read."""
    if branding.logo is None:
        return None
    path = Path(branding.logo)
    try:
        if path.stat().st_size > MAX_LOGO_BYTES:
            log.warning("logo %s is over %d bytes; the report shows none", path, MAX_LOGO_BYTES)
            return None
        data = path.read_bytes()
    except OSError as exc:
        log.warning("logo %s cannot be read (%s); the report shows none", path, exc.strerror)
        return None
    return _data_uri(LOGO_TYPES[path.suffix.lower()], data)


def _svg_uri(svg: str) -> str:
    return _data_uri("image/svg+xml", svg.encode())


def chart_uris(report: Report) -> dict[str, str]:
    colours = (report.branding.primary_colour, report.branding.accent_colour)
    start, end = report.period.start, report.period.end
    return {
        "timeline": _svg_uri(charts.timeline(report.visits, start, end, colours)),
        "monthly": _svg_uri(charts.monthly_hours(report.months, colours)),
        "share": _svg_uri(
            charts.share_history(
                report.share_history, report.totals.proactive_share_target, colours[0]
            )
        ),
        "endpoint": _svg_uri(
            charts.per_endpoint(report.months, report.totals.rhem_target, colours[1])
        ),
        "health": _svg_uri(
            charts.health(
                report.health,
                (report.totals.yellow_at, report.totals.green_at),
                start,
                end,
                colours[0],
            )
        ),
    }


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.0f}%"


def _num(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


_ENV.filters["pct"] = _pct
_ENV.filters["num"] = _num


def render_html(report: Report) -> str:
    template = _ENV.get_template("report.html.j2")
    return template.render(
        r=report,
        b=report.branding,
        msp=report.branding.msp_name or report.tenant,
        logo=logo_uri(report.branding),
        charts=chart_uris(report),
        css=_ENV.loader.get_source(_ENV, "report.css")[0],  # type: ignore[union-attr]
    )
