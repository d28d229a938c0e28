"""The ``unico`` command: thin commands over the services."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

import typer
from rich.console import Console
from rich.table import Table

from unico.commands.catalog import catalog_app
from unico.commands.decide import models_app, placements_app
from unico.commands.experiments import experiments_app
from unico.commands.opening import open_container
from unico.commands.segments import segments_app
from unico.container import Container
from unico.core.cli_options import (
    AsJson,
    Database,
    print_json,
    settings_for,
    shown_url,
)
from unico.core.clock import to_iso
from unico.core.errors import UnicoError
from unico.core.settings import Settings
from unico.recommend.cli import eval_app

app = typer.Typer(help="Unico: real-time, one-to-one personalization.", no_args_is_help=True)
workspace_app = typer.Typer(help="Workspaces (tenants) and their keys.", no_args_is_help=True)
profiles_app = typer.Typer(help="Profiles: read, export, erase.", no_args_is_help=True)
db_app = typer.Typer(help="The database.", no_args_is_help=True)
app.add_typer(workspace_app, name="workspace")
app.add_typer(profiles_app, name="profiles")
app.add_typer(db_app, name="db")
# -- decide context commands --
app.add_typer(placements_app, name="placements")
app.add_typer(models_app, name="models")
app.add_typer(eval_app, name="eval")
app.add_typer(catalog_app, name="catalog")
# -- segments context commands --
app.add_typer(segments_app, name="segments")
app.add_typer(experiments_app, name="experiments")

# soft_wrap: keys and curl lines must stay whole so they can be copied.
console = Console(soft_wrap=True)


@workspace_app.command("create")
def workspace_create(name: str, database: Database = None, as_json: AsJson = False) -> None:
    """Create a workspace and print its write key and secret key (shown only once)."""
    container = open_container(database)
    try:
        created = container.workspaces.create(name)
    except UnicoError as exc:
        console.print(f"[red]{exc.message}[/red]")
        raise typer.Exit(2) from None
    finally:
        container.store.dispose()
    data = {
        "workspace_id": created.workspace_id,
        "write_key": created.write_key,
        "secret_key": created.secret_key,
    }
    if as_json:
        print_json(data)
    else:
        console.print(f"Workspace [bold]{created.name}[/bold] ({created.workspace_id})")
        console.print(f"  write key:  {created.write_key}   (browser and apps: events only)")
        console.print(f"  secret key: {created.secret_key}   (admin API: keep it server-side)")


@workspace_app.command("list")
def workspace_list(database: Database = None, as_json: AsJson = False) -> None:
    """List workspaces."""
    container = open_container(database)
    rows = [
        {"workspace_id": w.workspace_id, "name": w.name, "created_at": to_iso(w.created_at)}
        for w in container.workspaces.list()
    ]
    container.store.dispose()
    if as_json:
        print_json(rows)
        return
    table = Table("workspace_id", "name", "created_at")
    for row in rows:
        table.add_row(row["workspace_id"], row["name"], row["created_at"])
    console.print(table)


@workspace_app.command("rotate-key")
def workspace_rotate(
    workspace_id: str,
    kind: Annotated[str, typer.Option(help="write or secret")] = "write",
    database: Database = None,
    as_json: AsJson = False,
) -> None:
    """Revoke a workspace's keys of one kind and print a new one."""
    if kind not in ("write", "secret"):
        console.print("[red]--kind is write or secret[/red]")
        raise typer.Exit(2)
    container = open_container(database)
    try:
        key = container.workspaces.rotate_key(workspace_id, kind)  # type: ignore[arg-type]
    except UnicoError as exc:
        console.print(f"[red]{exc.message}[/red]")
        raise typer.Exit(2) from None
    finally:
        container.store.dispose()
    if as_json:
        print_json({"workspace_id": workspace_id, f"{kind}_key": key})
    else:
        console.print(f"new {kind} key: {key}")


def _profile_command(action: str, workspace_id: str, ref: str, database: str | None) -> Any:
    container = open_container(database)
    try:
        service = container.profiles
        return getattr(service, action)(workspace_id, ref)
    except UnicoError as exc:
        console.print(f"[red]{exc.message}[/red]")
        raise typer.Exit(1) from None
    finally:
        container.store.dispose()


@profiles_app.command("get")
def profiles_get(workspace_id: str, ref: str, database: Database = None) -> None:
    """Print one profile (REF: a profile id or kind:value) as JSON."""
    print_json(_profile_command("get", workspace_id, ref, database))


@profiles_app.command("export")
def profiles_export(workspace_id: str, ref: str, database: Database = None) -> None:
    """Print everything held on one person as JSON."""
    print_json(_profile_command("export", workspace_id, ref, database))


@profiles_app.command("erase")
def profiles_erase(
    workspace_id: str,
    ref: str,
    database: Database = None,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask.")] = False,
) -> None:
    """Erase a person and everything derived from them."""
    if not yes:
        typer.confirm(f"Erase {ref} for good?", abort=True)
    print_json(_profile_command("erase", workspace_id, ref, database))


@db_app.command("upgrade")
def db_upgrade(database: Database = None) -> None:
    """Apply pending migrations."""
    container = Container.build(settings_for(database))
    container.store.upgrade()
    container.store.dispose()
    console.print("database is up to date")


def _serve(settings: Settings, host: str, port: int, workers: int, access_log: bool) -> None:
    import uvicorn

    if workers > 1:
        from unico.web.workers import serve_workers

        serve_workers(settings, host, port, workers, access_log=access_log)
        return
    from unico.core.memory import settle_garbage_collector
    from unico.web.app import create_app
    from unico.web.factory import serving_process
    from unico.web.protocol import UnicoHttpProtocol

    serving_process()
    container = Container.build(
        settings, writer_process=settings.is_sqlite and settings.writer_process
    )
    settle_garbage_collector()
    uvicorn.run(
        create_app(container),
        host=host,
        port=port,
        http=UnicoHttpProtocol,
        access_log=access_log,
        log_level="warning",
    )


Host = Annotated[str, typer.Option(help="Address to listen on.")]
Port = Annotated[int, typer.Option(help="Port to listen on.")]
Workers = Annotated[
    int,
    typer.Option(
        help="Serving processes (one per core); they share the models and, on SQLite, "
        "one writer process."
    ),
]
AccessLog = Annotated[bool, typer.Option(help="Log every request.")]


@app.command()
def serve(
    host: Host = "127.0.0.1",
    port: Port = 8000,
    database: Database = None,
    workers: Workers = 1,
    access_log: AccessLog = False,
) -> None:
    """Run the API server."""
    settings = settings_for(database)
    console.print(f"Unico on http://{host}:{port}  (store: {shown_url(settings.database_url)})")
    _serve(settings, host, port, workers, access_log)


def demo_address(base: str, write_key: str) -> str:
    """The demo shop's address with the write key it needs (``/demo?key=wk_...``).

    >>> demo_address("http://127.0.0.1:8000", "wk_abc")
    'http://127.0.0.1:8000/demo?key=wk_abc'
    """
    return f"{base}/demo?{urlencode({'key': write_key})}"


@app.command()
def demo(
    host: Host = "127.0.0.1",
    port: Port = 8000,
    database: Database = None,
    access_log: AccessLog = False,
) -> None:
    """Run the server with a demo workspace, printing fresh keys for it."""
    from unico.demo import ensure_demo_workspace

    container = open_container(database)
    keys = ensure_demo_workspace(container)
    container.store.dispose()
    base = f"http://{host}:{port}"
    store = shown_url(container.settings.database_url)
    console.print(f"[bold]Unico demo[/bold] on {base}  (store: {store})")
    console.print(f"  workspace:  {keys['workspace_id']}")
    console.print(f"  write key:  {keys['write_key']}")
    console.print(f"  secret key: {keys['secret_key']}")
    console.print(f"  [bold]Demo shop:[/bold] {demo_address(base, keys['write_key'])}")
    json_header = "-H 'content-type: application/json'"
    console.print(f"  try: curl -u {keys['write_key']}: {base}/v1/track {json_header} \\")
    console.print('         -d \'{"userId": "ada", "event": "Product Viewed"}\'')
    bearer = f"-H 'Authorization: Bearer {keys['secret_key']}'"
    console.print(f"       curl {bearer} {base}/v1/profiles/user_id:ada")
    console.print(f"  API docs: {base}/docs")
    _serve(container.settings, host, port, 1, access_log)


if __name__ == "__main__":  # pragma: no cover
    app()
