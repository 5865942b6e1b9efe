"""`evaluate`'s report on a terminal: the figures, flagged against the floors, and examples."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from services.scenario import ambiguity, scoring


def print_report(report: scoring.Report, console: Console, scenario: Path) -> None:
    acc = report.accounting
    console.print(f"\n[bold]partnerpulse evaluate {scenario}[/bold]")
    polled = f", polled records posted {acc.polled} ({acc.polled_new} new)" if acc.polled else ""
    console.print(
        f"deliveries {acc.deliveries}{polled} (answers {acc.answers}), accepted events "
        f"{acc.accepted_events}, lost {_flag(acc.lost == 0, acc.lost)}, duplicated "
        f"{_flag(acc.duplicated == 0, acc.duplicated)}"
    )
    work = report.work
    accuracy = _flag(work.accuracy >= report.floors.accuracy, f"{work.accuracy:.4f}")
    console.print(
        f"work labels: accuracy {accuracy} ({work.correct}/{work.total}, "
        f"{work.unlabelled} unlabelled)"
    )
    table = Table(title="behaviour signals", title_justify="left")
    for column in ("behaviour", "true", "predicted", "matched", "precision", "recall", "F1"):
        table.add_column(column, justify="left" if column == "behaviour" else "right")
    floors = report.floors
    for name, s in report.behaviours.items():
        table.add_row(
            name,
            str(s.true),
            str(s.predicted),
            str(s.matched),
            _flag(s.precision >= floors.precision, f"{s.precision:.3f}"),
            _flag(s.recall >= floors.recall, f"{s.recall:.3f}"),
            f"{s.f1:.3f}",
        )
    console.print(table)
    bands = report.bands
    console.print(
        f"bands: {_flag(bands.agreement >= floors.bands, f'{bands.agree}/{bands.total}')} agree"
    )
    _examples(console, "work labels that disagree", work.disagreements)
    for name, s in report.behaviours.items():
        _examples(console, f"{name}: true signals not found", s.missed)
        _examples(console, f"{name}: signals the truth does not hold", s.spurious)
        _examples(
            console, f"{name}: raised, then withdrawn by later events (no prediction)", s.withdrawn
        )
    _examples(console, "bands that disagree", bands.disagreements)
    _examples(console, "lost", acc.lost_examples)
    _examples(console, "duplicated", acc.duplicated_examples)
    _examples(console, "deliveries refused", acc.rejected)
    if report.ambiguity is not None and (report.ambiguity.decisions or report.ambiguity.bands):
        console.print(ambiguity.table(report.ambiguity))
    failures = report.failures()
    if failures:
        console.print("[red]below the floors:[/red] " + "; ".join(failures))
    else:
        console.print("[green]every floor met[/green]")


def _flag(ok: bool, value: object) -> str:
    return f"[green]{value}[/green]" if ok else f"[red]{value}[/red]"


def _examples(console: Console, title: str, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    console.print(f"[bold]{title}[/bold] (first {len(rows)}):")
    for row in rows:
        console.print("  " + ", ".join(f"{k}={v}" for k, v in row.items()), highlight=False)
