"""The report's charts: matplotlib (Agg, no pyplot, so threads may draw at once) to SVG.

Deterministic: no date in the SVG's metadata and a fixed hash salt for its element ids,
so the same report gives the same bytes. Text is drawn as paths, so an SVG looks the
same wherever it is shown, with whatever fonts are installed.
"""

from __future__ import annotations

import io
from datetime import date, datetime

import matplotlib

matplotlib.use("Agg")  # before pyplot could be imported anywhere
from matplotlib import rcParams
from matplotlib.dates import DateFormatter, date2num
from matplotlib.figure import Figure

from services.report.model import Month, Visit


def _day_month() -> DateFormatter:
    return DateFormatter("%d %b")  # type: ignore[no-untyped-call]


def _num(value: date | datetime) -> float:
    number: float = date2num(value)  # type: ignore[no-untyped-call]
    return number


rcParams["svg.hashsalt"] = "partnerpulse-report"
rcParams["font.size"] = 8
rcParams["svg.fonttype"] = "none"  # text as <text>: a third of the bytes, faster to draw
rcParams["axes.spines.top"] = False
rcParams["axes.spines.right"] = False

WIDTH, HEIGHT = 6.6, 2.1  # inches: an A4 page's text width


def _svg(fig: Figure) -> str:
    fig.subplots_adjust(left=0.1, right=0.98, top=0.88, bottom=0.2)  # no tight layout: 2x faster
    out = io.StringIO()
    fig.savefig(out, format="svg", metadata={"Date": None})
    return out.getvalue()


def timeline(visits: list[Visit], start: datetime, end: datetime, colours: tuple[str, str]) -> str:
    """Every visit on one line per class; onsite filled, remote hollow."""
    fig = Figure(figsize=(WIDTH, 1.5))
    ax = fig.add_subplot()
    rows = zip(("reactive", "proactive"), colours[::-1], strict=True)
    for row, (work_class, colour) in enumerate(rows):
        for location, filled in (("onsite", True), ("remote", False), ("unknown", False)):
            times = [v.at for v in visits if v.work_class == work_class and v.location == location]
            if times:
                ax.scatter(
                    [_num(t) for t in times],
                    [row] * len(times),
                    s=40,
                    marker="o" if location != "unknown" else "s",
                    facecolors=colour if filled else "white",
                    edgecolors=colour,
                    label=f"{work_class}, {location}",
                )
    ax.set_yticks([0, 1], ["reactive", "proactive"])
    ax.set_ylim(-0.6, 1.6)
    ax.set_xlim(_num(start), _num(end))
    ax.xaxis.set_major_formatter(_day_month())
    if visits:
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.25), ncol=4, frameon=False)
    return _svg(fig)


def monthly_hours(months: list[Month], colours: tuple[str, str]) -> str:
    fig = Figure(figsize=(WIDTH, HEIGHT))
    hours, visits = fig.subplots(1, 2)
    names = [m.month for m in months]
    x = range(len(names))
    pro = [m.hours_proactive for m in months]
    rea = [m.hours_reactive for m in months]
    hours.bar(x, pro, color=colours[0], label="proactive")
    hours.bar(x, rea, bottom=pro, color=colours[1], label="reactive")
    hours.set_title("Hours per month")
    hours.set_xticks(list(x), names)
    hours.legend(frameon=False)
    width = 0.4
    visits.bar([i - width / 2 for i in x], [m.visits_proactive for m in months], width,
               color=colours[0], label="proactive")  # fmt: skip
    visits.bar([i + width / 2 for i in x], [m.visits_reactive for m in months], width,
               color=colours[1], label="reactive")  # fmt: skip
    visits.set_title("Visits per month")
    visits.set_xticks(list(x), names)
    visits.yaxis.get_major_locator().set_params(integer=True)
    return _svg(fig)


def share_history(points: list[tuple[str, float | None]], target: float, colour: str) -> str:
    fig = Figure(figsize=(WIDTH, HEIGHT))
    ax = fig.add_subplot()
    known = [(m, s) for m, s in points if s is not None]
    ax.plot([m for m, _ in known], [100 * s for _, s in known], marker="o", color=colour)
    ax.axhline(100 * target, color="grey", linestyle="--", linewidth=1)
    ax.text(0, 100 * target + 2, f"target {100 * target:.0f}%", color="grey")
    ax.set_ylim(0, 105)
    ax.set_ylabel("% of hours proactive")
    return _svg(fig)


def per_endpoint(months: list[Month], target: float, colour: str) -> str:
    fig = Figure(figsize=(WIDTH, HEIGHT))
    ax = fig.add_subplot()
    names = [m.month for m in months]
    ax.bar(names, [m.rhem or 0.0 for m in months], color=colour)
    ax.axhline(target, color="grey", linestyle="--", linewidth=1)
    ax.text(-0.4, target, f" target {target:g}", color="grey", va="bottom")
    ax.set_ylabel("reactive hours per endpoint")
    return _svg(fig)


def health(
    points: list[tuple[date, float]],
    bands: tuple[float, float],
    start: datetime,
    end: datetime,
    colour: str,
) -> str:
    """Daily scores over the red, yellow and green bands (`bands`: yellow_at, green_at)."""
    fig = Figure(figsize=(WIDTH, HEIGHT))
    ax = fig.add_subplot()
    yellow, green = bands
    for low, high, shade in (
        (0, yellow, "#f8d7d5"),
        (yellow, green, "#fdf0c8"),
        (green, 102, "#dcefdc"),
    ):
        ax.axhspan(low, high, color=shade, linewidth=0)
    ax.plot([_num(d) for d, _ in points], [s for _, s in points], color=colour, marker=".")
    ax.set_ylim(0, 102)
    ax.set_xlim(_num(start), _num(end))
    ax.xaxis.set_major_formatter(_day_month())
    ax.set_ylabel("health score")
    return _svg(fig)
