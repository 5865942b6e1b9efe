"""The rooms of services/ and the imports between them: checked and drawn.

    python docs/layout.py           # check the layering, write docs/architecture.svg
    python docs/layout.py --check   # only check: exit 1 on an import that runs upward

A room is a package (or module) directly under services/. FLOORS puts each room on a
floor; an import may go to the same floor or below, never up. The one exception,
report <-> classifier, is declared in UPWARD_ALLOWED with its reason.
"""

from __future__ import annotations

import ast
import sys
from collections import Counter
from html import escape
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SERVICES = REPO / "services"
SVG = REPO / "docs" / "architecture.svg"

# Bottom floor first. Rooms of one floor do not import each other, except as noted.
FLOORS: list[list[str]] = [
    ["platform", "events"],
    ["runtime"],
    ["ingest", "classifier", "alerts"],
    ["poll", "report"],
    ["vendorapi"],
    ["scenario"],
    ["cli"],
]
ROLE = {
    "platform": "processes, HTTP health, SQLite, loops, signatures",
    "events": "the canonical event, outputs, tenant file",
    "runtime": "settings, broker, Kafka, API tokens, supervisor",
    "ingest": "webhooks in, adapters, journal, relay",
    "classifier": "Faust app: labels, behaviours, health",
    "alerts": "signals and Grafana in, email and chat out",
    "poll": "vendor APIs polled, posted to ingest",
    "report": "the partnership review",
    "scenario": "simulate, replay, evaluate, demo",
    "vendorapi": "vendor API stand-ins",
    "cli": "partnerpulse <command>",
}
# (from, to): why an import may run up a floor.
UPWARD_ALLOWED = {
    ("classifier", "report"): "the classifier's report_views serve the review that "
    "services/report builds from classifier state (no module-level cycle)",
}


def floor_of(room: str) -> int:
    for number, rooms in enumerate(FLOORS):
        if room in rooms:
            return number
    raise KeyError(f"services/{room} is on no floor of docs/layout.py: add it to FLOORS")


def room_imports(services: Path = SERVICES) -> Counter[tuple[str, str]]:
    """(importing room, imported room) -> how many import statements."""
    edges: Counter[tuple[str, str]] = Counter()
    for path in sorted(services.rglob("*.py")):
        room = path.relative_to(services).parts[0].removesuffix(".py")
        if room == "__init__":
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            for name in names:
                parts = name.split(".")
                if parts[0] == "services" and len(parts) > 1 and parts[1] != room:
                    edges[(room, parts[1])] += 1
    return edges


def upward(edges: Counter[tuple[str, str]]) -> list[str]:
    """Every import that runs up a floor (or across one) and is not declared."""
    problems = []
    for (source, target), count in sorted(edges.items()):
        if (source, target) in UPWARD_ALLOWED:
            continue
        if floor_of(target) >= floor_of(source):
            problems.append(
                f"services/{source} (floor {floor_of(source)}) imports services/{target} "
                f"(floor {floor_of(target)}) {count} time(s): imports go down only"
            )
    return problems


BOX_W, BOX_H, GAP_X, GAP_Y, MARGIN = 250, 58, 40, 70, 30


def draw(edges: Counter[tuple[str, str]]) -> str:
    widest = max(len(rooms) for rooms in FLOORS)
    width = MARGIN * 2 + widest * BOX_W + (widest - 1) * GAP_X
    height = MARGIN * 2 + len(FLOORS) * BOX_H + (len(FLOORS) - 1) * GAP_Y + 40
    place: dict[str, tuple[float, float]] = {}
    for number, rooms in enumerate(FLOORS):
        y = MARGIN + 40 + (len(FLOORS) - 1 - number) * (BOX_H + GAP_Y)
        row = len(rooms) * BOX_W + (len(rooms) - 1) * GAP_X
        for i, room in enumerate(rooms):
            place[room] = ((width - row) / 2 + i * (BOX_W + GAP_X), y)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="DejaVu Sans, Arial, sans-serif">',
        '<defs><marker id="head" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" '
        'fill="#555"/></marker></defs>',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="{MARGIN}" y="{MARGIN}" font-size="15" font-weight="bold">'
        "services/: its rooms by floor; an arrow is an import, to what is imported</text>",
        f'<text x="{MARGIN}" y="{MARGIN + 20}" font-size="12" fill="#333">'
        "imports run down only; red and dashed: the one declared exception "
        "(python docs/layout.py draws this)</text>",
    ]

    # Spread the ends of the arrows along each box's edge, in the order of the other end.
    def spread(room: str, others: list[str]) -> dict[str, float]:
        ordered = sorted(others, key=lambda other: place[other][0])
        x = place[room][0]
        return {o: x + BOX_W * (i + 1) / (len(ordered) + 1) for i, o in enumerate(ordered)}

    vertical = [(s, t) for s, t in edges if place[s][1] != place[t][1]]
    leaving = {r: spread(r, [t for s, t in vertical if s == r]) for r in place}
    arriving = {r: spread(r, [s for s, t in vertical if t == r]) for r in place}
    for (source, target), count in sorted(edges.items()):
        sx, sy = place[source]
        tx, ty = place[target]
        up = (source, target) in UPWARD_ALLOWED
        if sy == ty:  # same floor: side to side
            x1, x2 = (sx + BOX_W, tx) if sx < tx else (sx, tx + BOX_W)
            y1 = y2 = sy + BOX_H / 2
        else:
            x1, y1 = leaving[source][target], (sy + BOX_H if ty > sy else sy)
            x2, y2 = arriving[target][source], (ty if ty > sy else ty + BOX_H)
        colour = "#c0392b" if up else "#555"
        dash = ' stroke-dasharray="5,4"' if up else ""
        out.append(
            f'<line x1="{x1:.0f}" y1="{y1:.0f}" x2="{x2:.0f}" y2="{y2:.0f}" stroke="{colour}" '
            f'stroke-width="{1 + min(count, 30) / 15:.1f}" opacity="0.6"{dash} '
            f'marker-end="url(#head)"><title>{source} imports {target} ({count})</title></line>'
        )
    for room, (x, y) in place.items():
        out.append(
            f'<rect x="{x:.0f}" y="{y:.0f}" width="{BOX_W}" height="{BOX_H}" rx="8" '
            'fill="#eef3fb" stroke="#2c5d9b" stroke-width="1.5"/>'
        )
        out.append(
            f'<text x="{x + BOX_W / 2:.0f}" y="{y + 23:.0f}" text-anchor="middle" '
            f'font-size="15" font-weight="bold">services/{escape(room)}</text>'
        )
        out.append(
            f'<text x="{x + BOX_W / 2:.0f}" y="{y + 42:.0f}" text-anchor="middle" '
            f'font-size="10.5" fill="#333">{escape(ROLE.get(room, ""))}</text>'
        )
    out.append("</svg>")
    return "\n".join(out) + "\n"


def main(argv: list[str]) -> int:
    edges = room_imports()
    problems = upward(edges)
    for problem in problems:
        print(problem)
    if problems or argv[1:] == ["--check"]:
        return 1 if problems else 0
    SVG.write_text(draw(edges))
    print(f"wrote {SVG.relative_to(REPO)}: {len(edges)} room-to-room imports, none upward")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
