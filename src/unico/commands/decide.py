"""``unico placements`` and ``unico models``: placements from JSON files, model training."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from unico.commands.opening import open_container
from unico.core.cli_options import AsJson, Database, print_json
from unico.core.errors import UnicoError

placements_app = typer.Typer(help="Placements: named slots and their rules.", no_args_is_help=True)
models_app = typer.Typer(help="Recommendation models: train, status.", no_args_is_help=True)
console = Console(soft_wrap=True)


@placements_app.command("list")
def placements_list(workspace_id: str, database: Database = None, as_json: AsJson = False) -> None:
    """List a workspace's placements."""
    container = open_container(database)
    try:
        found = container.placements.list(workspace_id)
    finally:
        container.store.dispose()
    if as_json:
        print_json(found)
        return
    table = Table("name", "strategy", "size", "default", "description")
    for p in found:
        default = ", ".join(p["default"]["items"]) or p["default"]["strategy"]
        table.add_row(p["name"], p["strategy"], str(p["size"]), default, p["description"])
    console.print(table)


@placements_app.command("set")
def placements_set(
    workspace_id: str,
    file: Annotated[Path, typer.Argument(help="A JSON file: one placement or a list of them.")],
    database: Database = None,
) -> None:
    """Create or replace placements from a JSON file (each needs name, strategy, size)."""
    try:
        loaded = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        console.print(f"[red]cannot read {file}: {exc}[/red]")
        raise typer.Exit(2) from None
    specs = loaded if isinstance(loaded, list) else [loaded]
    container = open_container(database)
    try:
        for n, spec in enumerate(specs):
            name = spec.get("name") if isinstance(spec, dict) else None
            if not isinstance(name, str):
                console.print(f"[red]placement {n} has no name[/red]")
                raise typer.Exit(2)
            container.placements.replace(workspace_id, name, spec)
            console.print(f"placement [bold]{name}[/bold] saved")
    except UnicoError as exc:
        console.print(f"[red]{exc.field or 'placement'}: {exc.message}[/red]")
        raise typer.Exit(2) from None
    finally:
        container.store.dispose()


@models_app.command("train")
def models_train(workspace_id: str, database: Database = None, as_json: AsJson = False) -> None:
    """Train a workspace's models now and print their status (a running server trains on its
    own schedule: UNICO_DECIDE_TRAIN_MINUTES, or POST /v1/models/train)."""
    container = open_container(database)
    try:
        with console.status("training…"):
            status = container.models.train_now(workspace_id)
    finally:
        container.store.dispose()
    if as_json:
        print_json(status)
        return
    table = Table("model", "fitted", "rows", "users", "items", "ms", "error")
    for m in status["models"]:
        table.add_row(
            m["name"],
            "yes" if m["fitted"] else "no",
            str(m["rows"]),
            str(m["users"]),
            str(m["items"]),
            str(m["duration_ms"]),
            m["error"] or "",
        )
    console.print(table)
