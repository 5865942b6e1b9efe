"""The report's charts as small, plain SVG (pure).

Each chart is a few dozen rectangles, circles, lines and text runs in one `<svg>`:
the report has five simple charts (dots on a time line, bars, lines, dashed targets,
shaded bands), and drawing them this way takes about a millisecond each where
matplotlib took about 80 ms, and WeasyPrint lays the result out in a tenth of the time
its SVG took (docs/benchmarks.md, "Partnership review"). Deterministic: the same
report gives the same bytes. Text is `<text>` in DejaVu Sans (the report's font), so
it stays selectable and searchable in the PDF.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from xml.sax.saxutils import escape

from services.report.model import Month, Visit

WIDTH = 660
HEIGHT = 210
GREY = "#666666"
FONT = 'font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="11"'


def _f(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _text(
    x: float, y: float, text: str, *, anchor: str = "middle", fill: str = GREY, up: bool = False
) -> str:
    """A text run; `up`: turned a quarter left about its anchor (an axis title)."""
    turn = f' transform="rotate(-90 {_f(x)} {_f(y)})"' if up else ""
    return (
        f'<text x="{_f(x)}" y="{_f(y)}" text-anchor="{anchor}" fill="{fill}"{turn}>'
        f"{escape(text)}</text>"
    )


def _line(x1: float, y1: float, x2: float, y2: float, colour: str, dashed: bool = False) -> str:
    dash = ' stroke-dasharray="5 4"' if dashed else ""
    return (
        f'<line x1="{_f(x1)}" y1="{_f(y1)}" x2="{_f(x2)}" y2="{_f(y2)}" '
        f'stroke="{colour}" stroke-width="1"{dash}/>'
    )


def _rect(x: float, y: float, w: float, h: float, fill: str) -> str:
    return f'<rect x="{_f(x)}" y="{_f(y)}" width="{_f(w)}" height="{_f(max(h, 0))}" fill="{fill}"/>'


def _polyline(points: list[str], colour: str) -> str:
    joined = " ".join(points)
    return f'<polyline points="{joined}" fill="none" stroke="{colour}" stroke-width="1.5"/>'


def _svg(parts: list[str], height: int = HEIGHT) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" {FONT}>' + "".join(parts) + "</svg>"
    )


def nice_top(value: float) -> tuple[float, float]:
    """An axis top at or above `value` and its tick step (1, 2, 2.5 or 5 times 10^k)."""
    if value <= 0:
        return 1.0, 0.25
    raw = value / 4
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    return step * math.ceil(value / step - 1e-9), step


class _Frame:
    """A plot area: x in [x0, x1] px, y from `low` (bottom) to `high` (top) in data units."""

    def __init__(
        self, x0: float, x1: float, top: float, bottom: float, high: float, low: float = 0.0
    ) -> None:
        self.x0, self.x1, self.top, self.bottom = x0, x1, top, bottom
        self.high, self.low = high, low

    def y(self, value: float) -> float:
        span = (self.high - self.low) or 1.0
        return self.bottom - (value - self.low) / span * (self.bottom - self.top)

    def y_axis(self, step: float, suffix: str = "") -> list[str]:
        parts = [_line(self.x0, self.top, self.x0, self.bottom, GREY)]
        tick = self.low
        while tick <= self.high + 1e-9:
            y = self.y(tick)
            parts.append(_line(self.x0 - 3, y, self.x0, y, GREY))
            parts.append(_text(self.x0 - 5, y + 4, f"{tick:g}{suffix}", anchor="end"))
            tick += step
        parts.append(_line(self.x0, self.bottom, self.x1, self.bottom, GREY))
        return parts

    def target(self, value: float, label: str) -> list[str]:
        y = self.y(value)
        return [
            _line(self.x0, y, self.x1, y, "grey", dashed=True),
            _text(self.x0 + 4, y - 3, label, anchor="start"),
        ]


def _bars(
    frame: _Frame, names: Sequence[str], series: Sequence[tuple[Sequence[float], str]], *,
    stacked: bool,
) -> list[str]:  # fmt: skip
    """Bars per category: stacked, or side by side; category names under the axis."""
    parts: list[str] = []
    slot = (frame.x1 - frame.x0) / max(len(names), 1)
    width = slot * 0.6 / (1 if stacked else len(series))
    for i, name in enumerate(names):
        left = frame.x0 + i * slot + slot * 0.2
        base = 0.0
        for k, (values, colour) in enumerate(series):
            value = values[i]
            x = left if stacked else left + k * width
            bottom = base if stacked else 0.0
            y_top, y_bottom = frame.y(bottom + value), frame.y(bottom)
            parts.append(_rect(x, y_top, width, y_bottom - y_top, colour))
            base += value
        parts.append(_text(frame.x0 + (i + 0.5) * slot, frame.bottom + 14, name))
    return parts


def _legend(x: float, y: float, items: Sequence[tuple[str, str, bool]]) -> list[str]:
    """Colour keys left to right: (label, colour, filled)."""
    parts: list[str] = []
    for label, colour, filled in items:
        fill = colour if filled else "white"
        parts.append(
            f'<circle cx="{_f(x + 5)}" cy="{_f(y - 4)}" r="4.5" fill="{fill}" stroke="{colour}"/>'
        )
        parts.append(_text(x + 14, y, label, anchor="start", fill="#333333"))
        x += 24 + 6.5 * len(label)
    return parts


def _day(value: date | datetime) -> float:
    if isinstance(value, datetime):
        return value.timestamp() / 86400
    return datetime(value.year, value.month, value.day, tzinfo=UTC).timestamp() / 86400


def _time_axis(x0: float, x1: float, bottom: float, start: datetime, end: datetime) -> list[str]:
    """Ticks on the first of each month (every other one past seven), or weekly when the
    period holds fewer than three month starts."""
    first, last = _day(start), _day(end)
    span = (last - first) or 1.0
    months: list[datetime] = []
    cursor = datetime(start.year, start.month, 1, tzinfo=UTC)
    while cursor < end:
        if cursor >= start:
            months.append(cursor)
        cursor = (cursor + timedelta(days=32)).replace(day=1)
    if len(months) < 3:  # a short period: a tick a week from its first day
        months = [start + timedelta(days=7 * k) for k in range(int(span // 7) + 1)]
    step = 2 if len(months) > 7 else 1
    parts = [_line(x0, bottom, x1, bottom, GREY)]
    for moment in months[::step]:
        x = x0 + (_day(moment) - first) / span * (x1 - x0)
        parts.append(_line(x, bottom, x, bottom + 3, GREY))
        parts.append(_text(x, bottom + 14, moment.strftime("%d %b")))
    return parts


def timeline(visits: list[Visit], start: datetime, end: datetime, colours: tuple[str, str]) -> str:
    """Every visit on one line per class; onsite filled, remote hollow, unknown square."""
    x0, x1, height = 80.0, WIDTH - 12.0, 150
    first, span = _day(start), (_day(end) - _day(start)) or 1.0
    rows = {"proactive": (40.0, colours[0]), "reactive": (80.0, colours[1])}
    parts = [_text(x0 - 8, y + 4, name, anchor="end") for name, (y, _) in rows.items()]
    for v in visits:
        y, colour = rows.get(v.work_class, rows["reactive"])
        x = x0 + (_day(v.at) - first) / span * (x1 - x0)
        fill = colour if v.location == "onsite" else "white"
        if v.location == "unknown":
            parts.append(f'<rect x="{_f(x - 4.5)}" y="{_f(y - 4.5)}" width="9" height="9" '
                         f'fill="white" stroke="{colour}"/>')  # fmt: skip
        else:
            parts.append(
                f'<circle cx="{_f(x)}" cy="{_f(y)}" r="5" fill="{fill}" stroke="{colour}"/>'
            )
    parts += _time_axis(x0, x1, 105.0, start, end)
    if visits:
        parts += _legend(
            x0,
            height - 8,
            [
                ("proactive, onsite", colours[0], True),
                ("proactive, remote", colours[0], False),
                ("reactive, onsite", colours[1], True),
                ("reactive, remote", colours[1], False),
            ],
        )
    return _svg(parts, height)


def monthly_hours(months: list[Month], colours: tuple[str, str]) -> str:
    """Hours per month (stacked by class) beside visits per month (side by side)."""
    names = [m.month for m in months]
    pro = [m.hours_proactive for m in months]
    rea = [m.hours_reactive for m in months]
    top, step = nice_top(max((p + r for p, r in zip(pro, rea, strict=True)), default=0))
    hours = _Frame(45, 315, 28, 170, top)
    parts = [_text(180, 14, "Hours per month", fill="#333333"), *hours.y_axis(step)]
    parts += _bars(hours, names, [(pro, colours[0]), (rea, colours[1])], stacked=True)
    vp = [float(m.visits_proactive) for m in months]
    vr = [float(m.visits_reactive) for m in months]
    vtop, vstep = nice_top(max([*vp, *vr, 1.0]))
    vstep = max(1.0, vstep)
    vtop = vstep * math.ceil(vtop / vstep)
    visits = _Frame(380, WIDTH - 10, 28, 170, vtop)
    parts += [_text(515, 14, "Visits per month", fill="#333333"), *visits.y_axis(vstep)]
    parts += _bars(visits, names, [(vp, colours[0]), (vr, colours[1])], stacked=False)
    parts += _legend(
        45, HEIGHT - 6, [("proactive", colours[0], True), ("reactive", colours[1], True)]
    )
    return _svg(parts)


def share_history(points: list[tuple[str, float | None]], target: float, colour: str) -> str:
    """The proactive share of hours per month, every month on record, against the target."""
    frame = _Frame(55, WIDTH - 15, 15, 175, 100)
    parts = [*frame.y_axis(25, "%"), *frame.target(100 * target, f"target {100 * target:.0f}%")]
    slot = (frame.x1 - frame.x0) / max(len(points), 1)
    every = max(1, math.ceil(len(points) / 12))
    line: list[str] = []
    for i, (month, share) in enumerate(points):
        x = frame.x0 + (i + 0.5) * slot
        if i % every == 0:
            parts.append(_text(x, frame.bottom + 14, month))
        if share is not None:
            y = frame.y(100 * share)
            line.append(f"{_f(x)},{_f(y)}")
            parts.append(f'<circle cx="{_f(x)}" cy="{_f(y)}" r="3.5" fill="{colour}"/>')
    if len(line) > 1:
        parts.append(_polyline(line, colour))
    parts.append(_text(14, 95, "% of hours proactive", up=True))
    return _svg(parts)


def per_endpoint(months: list[Month], target: float, colour: str) -> str:
    """Reactive hours per endpoint (per 30 days) each month, against the target."""
    values = [m.rhem or 0.0 for m in months]
    top, step = nice_top(max([*values, target * 1.2]))
    frame = _Frame(55, WIDTH - 15, 15, 175, top)
    parts = [*frame.y_axis(step)]
    parts += _bars(frame, [m.month for m in months], [(values, colour)], stacked=True)
    parts += frame.target(target, f"target {target:g}")
    parts.append(_text(14, 95, "reactive hours per endpoint", up=True))
    return _svg(parts)


def health(
    points: list[tuple[date, float]],
    bands: tuple[float, float],
    start: datetime,
    end: datetime,
    colour: str,
) -> str:
    """Daily scores over the red, yellow and green bands (`bands`: yellow_at, green_at)."""
    frame = _Frame(55, WIDTH - 15, 10, 175, 100)
    yellow, green = bands
    parts = [
        _rect(frame.x0, frame.y(high), frame.x1 - frame.x0, frame.y(low) - frame.y(high), shade)
        for low, high, shade in (
            (0, yellow, "#f8d7d5"),
            (yellow, green, "#fdf0c8"),
            (green, 100, "#dcefdc"),
        )
    ]
    parts += frame.y_axis(25)
    parts += _time_axis(frame.x0, frame.x1, frame.bottom, start, end)[1:]
    first, span = _day(start), (_day(end) - _day(start)) or 1.0
    line = [
        f"{_f(frame.x0 + (_day(d) - first) / span * (frame.x1 - frame.x0))},{_f(frame.y(s))}"
        for d, s in points
    ]
    if line:
        parts.append(_polyline(line, colour))
    parts.append(_text(14, 92, "health score", up=True))
    return _svg(parts)
