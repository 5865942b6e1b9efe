"""Each benchmark's own section of docs/benchmarks.md, between its two markers."""

from __future__ import annotations

from pathlib import Path

NEW_FILE = (
    "# Benchmarks\n\n"
    "Ratios against a baseline measured in the same run; the machines are shared and noisy.\n"
)


def update_section(path: Path, section: str) -> None:
    """Replace the section of `path` between `section`'s own first and last lines (its
    `<!-- name:start -->` and `<!-- name:end -->` markers), or append it when absent."""
    lines = section.strip().splitlines()
    start, end = lines[0], lines[-1]
    if not (start.startswith("<!--") and end.startswith("<!--") and start != end):
        raise ValueError("a benchmark section begins and ends with its own markers")
    text = path.read_text() if path.exists() else NEW_FILE
    if start in text and end in text.split(start, 1)[1]:
        head, rest = text.split(start, 1)
        text = head + section.strip() + rest.split(end, 1)[1]
    else:
        text = text.rstrip() + "\n\n" + section.strip() + "\n"
    path.write_text(text)
