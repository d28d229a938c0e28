"""``unico catalog``: import catalog files and list items."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from unico.catalog.importer import ImportReport
from unico.commands.opening import open_container
from unico.container import Container
from unico.core.cli_options import AsJson, Database, print_json
from unico.core.errors import UnicoError

catalog_app = typer.Typer(help="The catalog: items, offers, content.", no_args_is_help=True)
console = Console(soft_wrap=True)

#: Rejected rows printed in full; the rest are counted.
SHOWN_REJECTIONS = 20


@catalog_app.command("import")
def catalog_import(
    workspace_id: str,
    file: Annotated[Path, typer.Argument(help="A .csv, .json, .jsonl or .ndjson file.")],
    database: Database = None,
    as_json: AsJson = False,
) -> None:
    """Import items from a file; bad rows are reported (line and field), good ones kept."""
    container = open_container(database)
    try:
        container.workspaces.get(workspace_id)
        report = _import_with_progress(container, workspace_id, file, quiet=as_json)
    except UnicoError as exc:
        console.print(f"[red]{exc.message}[/red]")
        raise typer.Exit(1) from None
    finally:
        container.store.dispose()
    if as_json:
        print_json(report.as_dict())
    else:
        _print_report(report)
    if report.rejected and not report.imported:
        raise typer.Exit(1)


def _import_with_progress(
    container: Container, workspace_id: str, file: Path, *, quiet: bool
) -> ImportReport:
    columns = (TextColumn("importing"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, console=console, disable=quiet, transient=True) as progress:
        task = progress.add_task("import", total=None)

        def advance(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        return container.catalog.import_file(workspace_id, file, progress=advance)


def _print_report(report: ImportReport) -> None:
    console.print(f"{report.imported} of {report.rows} rows imported")
    if not report.rejected:
        return
    table = Table("line", "field", "why", title=f"{len(report.rejected)} rows rejected")
    for rejected in report.rejected[:SHOWN_REJECTIONS]:
        where = rejected.line if rejected.line is not None else rejected.index
        table.add_row(str(where or ""), rejected.field or "", rejected.message)
    console.print(table)
    if len(report.rejected) > SHOWN_REJECTIONS:
        console.print(f"… and {len(report.rejected) - SHOWN_REJECTIONS} more (see --json)")


@catalog_app.command("list")
def catalog_list(
    workspace_id: str,
    category: Annotated[str | None, typer.Option(help='Only under "A > B".')] = None,
    limit: Annotated[int, typer.Option(help="Most items to print.")] = 100,
    database: Database = None,
    as_json: AsJson = False,
) -> None:
    """List a workspace's items in id order."""
    container = open_container(database)
    try:
        page = container.catalog.list(workspace_id, limit, None, category)
    except UnicoError as exc:
        console.print(f"[red]{exc.message}[/red]")
        raise typer.Exit(1) from None
    finally:
        container.store.dispose()
    if as_json:
        print_json([it.admin() for it in page.items])
        return
    table = Table("id", "kind", "title", "price", "category", "in stock")
    for it in page.items:
        price = "" if it.price is None else f"{it.price:g} {it.currency or ''}".strip()
        category_text = " > ".join(it.category)
        table.add_row(it.item_id, it.kind, it.title, price, category_text, str(it.in_stock))
    console.print(table)
