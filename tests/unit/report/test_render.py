"""The report's HTML: figures a reader (and a test) can find, the MSP's branding, the
same bytes for the same report; and the period a user asks for."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from services.classifier.domain.state import ClientState
from services.events.tenant import Tenant, load_tenant
from services.events.tenant_branding import Branding
from services.report.build import build_report
from services.report.model import Period
from services.report.period import between, of_query, quarter
from services.report.render import render_html
from tests.unit.classifier import factory as f
from tests.unit.classifier.conftest import FIXTURES
from tests.unit.report.support import OUTAGE, PATCH, state_of

PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
    b"\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00"
    b"\x00\x00IEND\xaeB`\x82"
)


def figures(html: str) -> dict[str, str]:
    return dict(re.findall(r'data-figure="([a-z-]+)">([^<]*)<', html))


def html_of(tenant: Tenant, state: ClientState, label: str = "2026Q1") -> str:
    client = tenant.client("acme")
    p = quarter(label)
    assert client is not None and isinstance(p, Period)
    return render_html(build_report(state, tenant, client, p))


@pytest.fixture(scope="module")
def tenant() -> Tenant:
    return load_tenant(FIXTURES / "tenant.yaml")


def test_the_html_shows_the_figures_and_is_the_same_every_time(tenant: Tenant) -> None:
    state = state_of(
        tenant,
        PATCH,
        OUTAGE,
        f.visit("v1", f.at(3), booked=f.at(-11), ticket_id="100"),
        f.time_entry("t1", f.at(3), 2.5, ticket_id="100"),
        f.time_entry("t2", f.at(5), 1.0, ticket_id="101"),
    )
    html = html_of(tenant, state)
    shown = figures(html)
    assert shown["visits-proactive-n"] == "1" and shown["visits-reactive"] == "0"
    assert (shown["hours-proactive"], shown["hours-reactive"]) == ("2.50", "1.00")
    assert shown["proactive-share"] == "71%"
    assert shown["recommendations-presented"] == "0"
    assert "planned maintenance, booked 14 days ahead" in html
    assert html.count('<img class="chart" src="data:image/svg+xml;base64,') == 5
    assert "http://" not in html.replace("http://www.w3.org", "")  # nothing to fetch
    assert html_of(tenant, state) == html


def test_white_label_name_logo_and_colours(tenant: Tenant, tmp_path: Path) -> None:
    logo = tmp_path / "logo.png"
    logo.write_bytes(PNG)
    branded = tenant.model_copy(
        update={
            "branding": Branding(
                msp_name="Northwind IT",
                logo=logo,
                primary_colour="#123ABC",
                accent_colour="#aa0000",
            )
        }
    )
    html = html_of(branded, ClientState("acme"))
    assert '<span class="msp">Northwind IT</span>' in html
    assert 'src="data:image/png;base64,iVBORw0KGgo' in html
    assert "--primary: #123abc; --accent: #aa0000;" in html
    assert "No activity was recorded for this period." in html
    logo.unlink()  # a logo gone missing: the report still comes, without it
    assert "data:image/png" not in html_of(branded, ClientState("acme"))


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("logo", "https://cdn.example/logo.png", "is a URL; give a local file path"),
        ("logo", "logo.gif", "a logo is a .png, .jpg, .jpeg or .svg file"),
        ("logo", "img/logo.png", "give the logo's absolute path"),
        ("primary_colour", "blue", "write it as #rrggbb"),
    ],
)
def test_branding_refuses_what_a_report_cannot_use(field: str, value: str, message: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(message)):
        Branding.model_validate({field: value})


def test_the_period_asked_for() -> None:
    q = quarter("2026Q4")
    assert isinstance(q, Period)
    assert (q.start.isoformat(), q.end.isoformat()) == (
        "2026-10-01T00:00:00+00:00",
        "2027-01-01T00:00:00+00:00",
    )
    days = between("2026-01-05", "2026-02-04")
    assert isinstance(days, Period) and days.days == 31
    assert quarter("2026Q5") == "quarter must look like 2026Q1, not '2026Q5'"
    assert between("2026-02-01", "2026-01-01") == "to (2026-01-01) is before from (2026-02-01)"
    assert of_query({"from": "2026-01-01"}, 0) == (
        "give both from and to (YYYY-MM-DD, both days included)"
    )
    assert of_query({"quarter": "2026Q1", "to": "x"}, 0) == (
        "give either quarter or from and to, not both"
    )
    last = of_query({}, f.at(0).timestamp())
    assert isinstance(last, Period) and last.label == "2025-12-03 to 2026-03-02"
