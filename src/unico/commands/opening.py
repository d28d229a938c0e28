"""Opening the container for a command: settings, store and migrations, with clear exits on
failure. It lives above the composition root, which is why it is not in ``core``."""

from __future__ import annotations

import typer
from sqlalchemy.exc import OperationalError

from unico.container import Container
from unico.core.cli_options import console, settings_for, shown_url


def open_container(database: str | None) -> Container:
    """The container on the store, migrated when ``auto_migrate`` is on; exits 2 with the
    reason when a setting is invalid or the store cannot be opened."""
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
