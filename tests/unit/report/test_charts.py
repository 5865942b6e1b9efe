"""The report's charts: plain SVG, one mark per visit, axes that hold every value."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime

import pytest

from services.report import charts
from services.report.model import Month, Visit

START, END = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC)
SVG = "{http://www.w3.org/2000/svg}"


def visit(day: int, work_class: str, location: str) -> Visit:
    at = datetime(2026, 1, 1 + day, tzinfo=UTC)
    return Visit(at, "Sam", location, work_class, "planned maintenance", None, 1.0)


def month(name: str, pro: float, rea: float) -> Month:
    return Month(name, 31, pro, rea, 2, 1, 5, 0.1, 0.2)


def test_axis_tops_hold_the_largest_value_in_round_steps() -> None:
    assert charts.nice_top(0) == (1.0, 0.25)
    assert charts.nice_top(58.5) == (60.0, 20.0)
    assert charts.nice_top(7) == (8.0, 2.0)
    assert charts.nice_top(0.69) == (0.8, 0.2)


def test_the_timeline_draws_each_visit_once_filled_when_onsite() -> None:
    visits = [visit(1, "proactive", "onsite"), visit(9, "reactive", "remote")]
    svg = ET.fromstring(charts.timeline(visits, START, END, ("#112233", "#aa0000")))
    dots = [c for c in svg.iter(f"{SVG}circle") if c.get("r") == "5"]
    assert [(c.get("fill"), c.get("stroke")) for c in dots] == [
        ("#112233", "#112233"),
        ("white", "#aa0000"),
    ]
    assert "01 Feb" in "".join(t.text or "" for t in svg.iter(f"{SVG}text"))


def test_stacked_hours_bars_are_as_tall_as_the_hours_and_the_same_input_gives_the_same_bytes() -> (
    None
):
    months = [month("2026-01", 40, 20), month("2026-02", 30, 0)]
    text = charts.monthly_hours(months, ("#112233", "#aa0000"))
    assert text == charts.monthly_hours(months, ("#112233", "#aa0000"))
    svg = ET.fromstring(text)
    bars = [r for r in svg.iter(f"{SVG}rect")]
    heights = [float(r.get("height", "0")) for r in bars[:4]]  # hours: Jan pro, rea, Feb pro, rea
    assert heights[0] == pytest.approx(2 * heights[1], abs=0.2) and heights[3] == 0
    assert heights[0] + heights[1] == pytest.approx(2 * heights[2], abs=0.2)  # 60 h vs 30 h
