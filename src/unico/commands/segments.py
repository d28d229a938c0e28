"""``unico segments``: create, list, members, recompute."""

from __future__ import annotations

import csv
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table
from sqlalchemy.exc import OperationalError

from unico.commands.opening import open_container
from unico.container import Container
from unico.core.cli_options import AsJson, Database, print_json, shown_url
from unico.core.errors import UnicoError
from unico.segments.recompute import POSTGRES_WORKERS

segments_app = typer.Typer(help="Segments: definitions, members, recompute.", no_args_is_help=True)
console = Console(soft_wrap=True)


@contextmanager
def _container(database: str | None) -> Iterator[Container]:
    container = open_container(database)
    try:
        # A server's ingest writer checkpoints SQLite's WAL; a recompute writes gigabytes of
        # it, and without checkpoints every read walks a WAL that only grows (at 1,000,000
        # profiles the recompute took 2.4 times as long).
        container.store.start_checkpointer()
        yield container
    except OperationalError as exc:
        url = shown_url(container.settings.database_url)
        console.print(f"[red]cannot use the store at {url}: {exc.orig}[/red]")
        raise typer.Exit(2) from None
    except UnicoError as exc:
        console.print(f"[red]{exc.message}[/red]")
        raise typer.Exit(1) from None
    finally:
        container.store.dispose()


@segments_app.command("create")
def segments_create(
    workspace_id: str,
    name: str,
    condition: str,
    description: Annotated[str | None, typer.Option(help="What the segment is for.")] = None,
    database: Database = None,
    as_json: AsJson = False,
) -> None:
    """Create a segment (CONDITION in the condition language) and back-fill its members."""
    with _container(database) as container:
        created = container.segments.create(workspace_id, name, condition, description=description)
    if as_json:
        print_json(created)
    else:
        console.print(f"segment [bold]{created['name']}[/bold] ({created['segment_id']}):")
        console.print(f"  {created['size']} members")


@segments_app.command("list")
def segments_list(workspace_id: str, database: Database = None, as_json: AsJson = False) -> None:
    """List a workspace's segments with their sizes."""
    with _container(database) as container:
        rows = container.segments.list(workspace_id)
    if as_json:
        print_json(rows)
        return
    table = Table("segment_id", "name", "kind", "size", "condition")
    for row in rows:
        table.add_row(
            row["segment_id"], row["name"], row["kind"], str(row["size"]), row["condition"] or ""
        )
    console.print(table)


@segments_app.command("members")
def segments_members(
    workspace_id: str,
    segment: str,
    as_csv: Annotated[bool, typer.Option("--csv", help="Print CSV (profile_id,since).")] = False,
    database: Database = None,
    as_json: AsJson = False,
) -> None:
    """Print a segment's members (SEGMENT: its id or name)."""
    with _container(database) as container:
        found = container.segments.get(workspace_id, segment)
        rows = list(container.segments.export_members(workspace_id, found["segment_id"]))
    if as_csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(("profile_id", "since"))
        writer.writerows(rows)
    elif as_json:
        print_json([{"profile_id": p, "since": since} for p, since in rows])
    else:
        for pid, since in rows:
            typer.echo(f"{pid}\t{since}")


@segments_app.command("recompute")
def segments_recompute(
    workspace_id: str,
    segments: Annotated[
        list[str] | None,
        typer.Argument(help="Segment ids or names (default: every segment).", show_default=False),
    ] = None,
    workers: Annotated[
        int, typer.Option(help="PostgreSQL connections for several segments at once.")
    ] = POSTGRES_WORKERS,
    database: Database = None,
    as_json: AsJson = False,
) -> None:
    """Recompute members and window states from the stored profiles and events: one
    segment in one transaction, several (or all) with their independent segments side by
    side on PostgreSQL."""
    one = segments if segments is not None and len(segments) == 1 else None
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with (
        _container(database) as container,
        Progress(*columns, console=console, transient=True) as bar,
    ):
        tasks: dict[str, Any] = {}

        def progress(step: str, done: int, total: int) -> None:
            if step not in tasks:
                tasks[step] = bar.add_task(step, total=total)
            bar.update(tasks[step], completed=done, total=total)

        if one:
            results = [container.segments.recompute(workspace_id, one[0], progress)]
        else:
            results = container.segments.recompute_all(
                workspace_id, segments or (), workers=workers, progress=progress
            )
    if as_json:
        print_json(results[0] if one else results)
        return
    for result in results:
        console.print(
            f"{result['segment_id']}: {result['size']} members"
            f" (+{result['entered']}, -{result['exited']})"
        )
