"""What every ``unico`` command group shares: the store option, ``--json``, JSON output and
the settings. Opening the container is ``unico.commands.opening``: core cannot import it."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.console import Console
from sqlalchemy import make_url

from unico.core.errors import ConfigurationError
from unico.core.settings import Settings, load_settings

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
