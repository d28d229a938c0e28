"""``unico experiments create|list|start|stop|results``: thin commands over the service."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.exc import OperationalError

from unico.commands.opening import open_container
from unico.container import Container
from unico.core.cli_options import AsJson, Database, print_json
from unico.core.errors import UnicoError
from unico.experiments.cli import experiments_app

console = Console(soft_wrap=True)
ExperimentId = Annotated[
    str, typer.Argument(help="The experiment id (exp_…; its workspace is found from it).")
]


@contextmanager
def _container(database: str | None) -> Iterator[Container]:
    container = open_container(database)
    try:
        yield container
        container.experiments.runtime.exposures.flush()
    except OperationalError as exc:
        console.print(f"[red]cannot use the store: {exc.orig}[/red]")
        raise typer.Exit(2) from None
    except UnicoError as exc:
        where = f" ({exc.field})" if exc.field else ""
        console.print(f"[red]{exc.message}{where}[/red]")
        raise typer.Exit(1) from None
    finally:
        container.store.dispose()


def register(app: typer.Typer) -> None:
    """Add the commands to ``unico experiments``."""
    for name, command in COMMANDS.items():
        app.command(name)(command)


def create(
    workspace_id: str,
    file: Annotated[Path, typer.Argument(help="A JSON file with the experiment.")],
    force: Annotated[
        bool, typer.Option("--force", help="Accept metrics on events never received.")
    ] = False,
    database: Database = None,
    as_json: AsJson = False,
) -> None:
    """Create an experiment (a draft) from a JSON file."""
    try:
        raw = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        console.print(f"[red]cannot read {file}: {exc}[/red]")
        raise typer.Exit(2) from None
    with _container(database) as c:
        created = c.experiments.create(workspace_id, raw, force=force)
    if as_json:
        print_json(created)
    else:
        console.print(f"created {created['experiment_id']} ({created['name']}), a draft")


def list_(workspace_id: str, database: Database = None, as_json: AsJson = False) -> None:
    """List a workspace's experiments."""
    with _container(database) as c:
        found = c.experiments.list(workspace_id)
    if as_json:
        print_json(found)
        return
    table = Table("id", "name", "status", "target", "cells", "layer", "started")
    for e in found:
        target = e["target"].get("placement") or e["target"].get("key")
        cells = ", ".join(f"{c['name']} {c['weight']:.0%}" for c in e["cells"])
        table.add_row(
            e["experiment_id"], e["name"], e["status"], target, cells, e.get("layer") or "",
            e["started_at"] or "",
        )  # fmt: skip
    console.print(table)


def start(experiment_id: ExperimentId, database: Database = None) -> None:
    """Start a draft experiment."""
    with _container(database) as c:
        found = c.experiments.start(c.experiments.workspace_of(experiment_id), experiment_id)
    console.print(f"{found['experiment_id']} is running since {found['started_at']}")


def stop(experiment_id: ExperimentId, database: Database = None) -> None:
    """Stop a running experiment."""
    with _container(database) as c:
        found = c.experiments.stop(c.experiments.workspace_of(experiment_id), experiment_id)
    console.print(f"{found['experiment_id']} stopped at {found['stopped_at']}")


def results(
    experiment_id: ExperimentId,
    database: Database = None,
    as_json: AsJson = False,
) -> None:
    """Results per variant and metric, with verdicts."""
    with _container(database) as c:
        found = c.experiments.results(c.experiments.workspace_of(experiment_id), experiment_id)
    if as_json:
        print_json(found)
        return
    console.print(f"[bold]{found['name']}[/bold] ({found['status']}, {found['method']})")
    for line in found["verdicts"]:
        console.print(f"[bold]{line}[/bold]")
    for metric in found["metrics"]:
        console.print(_metric_table(metric, found["method"]))


def _metric_table(metric: dict[str, Any], method: str) -> Table:
    bayesian = method == "bayesian"
    title = metric["name"] + (" (guardrail)" if metric["guardrail"] else "")
    table = Table("variant", "users", "conversions", "mean", "lift", title=title)
    table.add_column("chance to win" if bayesian else "p (corrected)", justify="right")
    table.add_column("verdict")
    for v in metric["variants"]:
        lift = v.get("lift")
        shown = (
            f"{lift['expected']:+.1%} [{lift['ci'][0]:+.1%}, {lift['ci'][1]:+.1%}]" if lift else ""
        )
        if bayesian:
            chance = f"{v['chance_to_win']:.1%}" if "chance_to_win" in v else ""
        else:
            p = v.get("p_value_adjusted", v.get("p_value"))
            chance = f"{p:.4f}" if p is not None else ""
        said = v.get("verdict", {}).get("text", "")
        table.add_row(
            v["name"], str(v["users"]), str(v["conversions"]), f"{v['mean']:.4g}", shown, chance,
            said,
        )  # fmt: skip
    return table


COMMANDS: dict[str, Callable[..., None]] = {
    "create": create,
    "list": list_,
    "start": start,
    "stop": stop,
    "results": results,
}


__all__ = ["experiments_app", "register"]

# The admin commands join the pure ``unico experiments`` group here, above the container.
register(experiments_app)
