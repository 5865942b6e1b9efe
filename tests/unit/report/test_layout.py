"""The report's layout rules that keep a PDF cheap to make without changing its look:
every table's columns are set by its `<colgroup>` (fixed table layout: WeasyPrint does
not measure every word of every cell first), and the key figures stand in two lists,
as `columns: 2` balanced them, without that balancing's repeated layout."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser

import pytest

from services.events.tenant import Tenant, load_tenant
from services.report.build import build_report
from services.report.model import Period
from services.report.period import quarter
from services.report.render import render_html
from tests.unit.classifier import factory as f
from tests.unit.classifier.conftest import FIXTURES
from tests.unit.report.support import OUTAGE, PATCH, state_of


@dataclass
class Table:
    widths: list[float] = field(default_factory=list)
    rows: list[int] = field(default_factory=list)  # cells per row, colspans counted


class Tables(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tables: list[Table] = []
        self.key_lists: list[int] = []  # items per list in the key figures
        self._in_keys = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        at = dict(attrs)
        if tag == "table":
            self.tables.append(Table())
        elif tag == "col":
            style = at.get("style") or ""
            assert style.startswith("width:") and style.endswith("%"), style
            self.tables[-1].widths.append(float(style[len("width:") : -1]))
        elif tag == "tr":
            self.tables[-1].rows.append(0)
        elif tag in ("td", "th"):
            self.tables[-1].rows[-1] += int(at.get("colspan") or 1)
        elif tag == "div" and at.get("class") == "keyfigures":
            self._in_keys = 1
        elif self._in_keys and tag == "ul":
            self.key_lists.append(0)
        elif self._in_keys and tag == "li":
            self.key_lists[-1] += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "div":
            self._in_keys = 0


@pytest.fixture(scope="module")
def parsed() -> Tables:
    tenant: Tenant = load_tenant(FIXTURES / "tenant.yaml")
    state = state_of(
        tenant,
        PATCH,
        OUTAGE,
        f.visit("v1", f.at(3), booked=f.at(-11), ticket_id="100"),
        f.time_entry("t1", f.at(3), 2.5, ticket_id="100"),
        f.time_entry("t2", f.at(5), 1.0, ticket_id="101"),
    )
    client, period = tenant.client("acme"), quarter("2026Q1")
    assert client is not None and isinstance(period, Period)
    tables = Tables()
    tables.feed(render_html(build_report(state, tenant, client, period)))
    return tables


def test_every_table_sets_its_columns_and_they_fill_the_width(parsed: Tables) -> None:
    assert len(parsed.tables) >= 7  # visits, months, unasked, endpoints, recs, agenda...
    for table in parsed.tables:
        assert table.widths, "a table without <colgroup> is laid out by measuring each cell"
        assert sum(table.widths) == pytest.approx(100, abs=0.05)
        assert set(table.rows) == {len(table.widths)}, "every row has one cell per column"


def test_the_key_figures_stand_in_two_balanced_lists(parsed: Tables) -> None:
    assert parsed.key_lists == [8, 7]
