"""What every ``unico`` command group shares: the store option, ``--json``, JSON output."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

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
