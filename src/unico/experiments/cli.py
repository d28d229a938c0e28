"""``unico experiments``: statistics on experiment results given as summary statistics."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.table import Table

from unico.core.cli_options import AsJson
from unico.experiments.stats.analyze import analyze_document
from unico.experiments.stats.document import AnalysisInputError

experiments_app = typer.Typer(
    help="Experiments: define, start, stop, results; analyze summary statistics.",
    no_args_is_help=True,
)
console = Console(soft_wrap=True)

SummaryFile = Annotated[
    Path,
    typer.Argument(
        help="JSON document: metric_type, difference, method, variants (the control first); "
        "- reads standard input.",
        show_default=False,
    ),
]


@experiments_app.callback()
def experiments() -> None:
    """Experiments: define, start, stop, results; analyze summary statistics."""


@experiments_app.command("analyze")
def experiments_analyze(file: SummaryFile, as_json: AsJson = False) -> None:
    """Compare every variant in FILE with the control: lift, interval, p-value or chance to win."""
    try:
        report = analyze_document(_load(file))
    except AnalysisInputError as exc:
        _fail(f"{file}: {exc.message}")
    if as_json:
        typer.echo(json.dumps(report, indent=2, ensure_ascii=False, allow_nan=False))
    else:
        _print_report(report)


def _load(file: Path) -> object:
    try:
        text = sys.stdin.read() if str(file) == "-" else file.read_text(encoding="utf-8")
    except FileNotFoundError:
        _fail(f"{file}: no such file")
    except (OSError, UnicodeDecodeError) as exc:
        _fail(f"{file}: cannot read it ({exc.__class__.__name__})")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        _fail(f"{file}: not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}")


def _fail(message: str) -> NoReturn:
    # One line on stderr and exit code 2, as for every bad input to the command.
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


def _print_report(report: dict[str, Any]) -> None:
    control = report["control"]
    console.print(
        f"{report['method']} analysis of a {report['metric_type']} metric, "
        f"{report['difference']} lift, alpha {report['alpha']}; "
        f"control [bold]{control['name']}[/bold] ({control['n']} units)"
    )
    console.print(_table(report))
    srm = report["srm"]
    if srm["flagged"]:
        console.print(
            f"[red]sample-ratio mismatch (p = {srm['p_value']:.2g}): the split is not the one "
            "expected, do not trust these results[/red]"
        )
    else:
        console.print(f"split as expected (sample-ratio mismatch p = {srm['p_value']:.3g})")


def _table(report: dict[str, Any]) -> Table:
    bayesian = report["method"] == "bayesian"
    relative = report["difference"] == "relative"
    table = Table("variant", "expected", f"{1 - report['alpha']:.0%} interval")
    for column in ("chance to win", "risk") if bayesian else ("p-value",):
        table.add_column(column, justify="right")
    table.add_column("note")
    for row in report["variants"]:
        low, high = (_lift(x, relative) for x in row["ci"])
        cells = [row["name"], _lift(row["expected"], relative), f"[{low}, {high}]"]
        if bayesian:
            cells += [f"{row['chance_to_win']:.1%}", _risk(row["risk"][1], relative)]
        else:
            cells.append(f"{row['p_value']:.4f}")
        table.add_row(*cells, row["error"] or "")
    return table


def _lift(value: float, relative: bool) -> str:
    return f"{value:+.2%}" if relative else f"{value:+.4g}"


def _risk(value: float, relative: bool) -> str:
    # A risk is an expected loss: never negative, so printed without a sign.
    return f"{value:.2%}" if relative else f"{value:.4g}"
