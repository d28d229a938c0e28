"""The README documents every setting and every command (a docs test, as Datasette keeps)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer.main

from unico.cli import app
from unico.core.settings import Settings

README = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")


def test_every_setting_is_documented() -> None:
    missing = [
        f"UNICO_{n.upper()}" for n in Settings.model_fields if f"`UNICO_{n.upper()}`" not in README
    ]
    assert missing == []


def _commands(group: Any, prefix: str = "unico") -> list[str]:
    out = []
    for name, command in group.commands.items():
        if hasattr(command, "commands"):
            out += _commands(command, f"{prefix} {name}")
        else:
            out.append(f"{prefix} {name}")
    return out


def test_every_command_is_documented() -> None:
    root = typer.main.get_command(app)
    commands = _commands(root)
    assert len(commands) >= 8
    assert [c for c in commands if f"`{c}" not in README] == []


def test_readme_opens_with_the_two_commands() -> None:
    head = README[:1500]
    assert "make run" in head and "make test" in head
