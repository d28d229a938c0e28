"""What every ``unico`` command group shares: the store option, ``--json``, JSON output,
and opening the container (settings, store, migrations) with clear exits on failure."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from sqlalchemy import make_url
from sqlalchemy.exc import OperationalError

from unico.core.errors import ConfigurationError
from unico.core.settings import Settings, load_settings

if TYPE_CHECKING:
    from unico.container import Container

console = Console(soft_wrap=True)

Database = Annotated[
    str | None,
    typer.Option(
        "--database",
        help="Store URL (default: UNICO_DATABASE_URL, else sqlite:///.unico/unico.db).",
        show_default=False,
    ),
]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def print_json(data: Any) -> None:
    """``data`` as indented JSON on standard output (read commands' ``--json``)."""
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False))


def shown_url(url: str) -> str:
    """The store URL as it may be printed: never with its password."""
    return make_url(url).render_as_string(hide_password=True)


def settings_for(database: str | None) -> Settings:
    """The settings, with ``--database`` over ``UNICO_DATABASE_URL``; exits 2 when invalid."""
    try:
        return load_settings(database_url=database)
    except ConfigurationError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None


def open_container(database: str | None) -> Container:
    """The container on the store, migrated when ``auto_migrate`` is on; exits 2 with the
    reason when a setting is invalid or the store cannot be opened."""
    from unico.container import Container

    container = Container.build(settings_for(database))
    if container.settings.auto_migrate:
        try:
            container.store.upgrade()
        except OperationalError as exc:
            container.store.dispose()
            url = shown_url(container.settings.database_url)
            console.print(f"[red]cannot open the store at {url}: {exc.orig}[/red]")
            raise typer.Exit(2) from None
    return container
