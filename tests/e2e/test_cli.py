"""The ``unico workspace`` commands, run as a user runs them."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.e2e.conftest import run_unico, unico
from unico.container import Container
from unico.core.settings import load_settings

pytestmark = pytest.mark.e2e


def test_workspace_create_prints_keys_as_json_and_stores_them_hashed(
    e2e_database: str, tmp_path: Path
) -> None:
    out = unico("workspace", "create", "Shop", "--json", "--database", e2e_database, cwd=tmp_path)
    created = json.loads(out.stdout)
    assert set(created) == {"workspace_id", "write_key", "secret_key"}
    assert created["workspace_id"].startswith("ws_")
    assert created["write_key"].startswith("wk_") and len(created["write_key"]) >= 32
    assert created["secret_key"].startswith("sk_") and len(created["secret_key"]) >= 32

    engine = create_engine(e2e_database)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text("SELECT * FROM api_key WHERE workspace_id = :ws"),
                {"ws": created["workspace_id"]},
            ).mappings()
            stored = [dict(r) for r in rows]
    finally:
        engine.dispose()
    assert {r["kind"]: r["key_hash"] for r in stored} == {
        "write": hashlib.sha256(created["write_key"].encode()).hexdigest(),
        "secret": hashlib.sha256(created["secret_key"].encode()).hexdigest(),
    }
    for row in stored:
        for value in row.values():
            assert created["write_key"] not in str(value)
            assert created["secret_key"] not in str(value)

    container = Container.build(load_settings(database_url=e2e_database))
    try:
        write = container.workspaces.authenticate(created["write_key"])
        secret = container.workspaces.authenticate(created["secret_key"])
    finally:
        container.store.dispose()
    assert write is not None and (write.workspace_id, write.kind) == (
        created["workspace_id"],
        "write",
    )
    assert secret is not None and secret.kind == "secret"


def test_the_database_option_is_where_the_workspace_goes(e2e_database: str, tmp_path: Path) -> None:
    out = unico("workspace", "create", "Here", "--json", "--database", e2e_database, cwd=tmp_path)
    created = json.loads(out.stdout)
    assert not (tmp_path / ".unico").exists()  # the default store was not touched
    listed = json.loads(
        unico("workspace", "list", "--json", "--database", e2e_database, cwd=tmp_path).stdout
    )
    assert {"workspace_id": created["workspace_id"], "name": "Here"}.items() <= next(
        w for w in listed if w["workspace_id"] == created["workspace_id"]
    ).items()


def test_without_json_the_keys_are_printed_for_people(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'people.db'}"
    out = unico("workspace", "create", "Bottega", "--database", url, cwd=tmp_path).stdout
    assert "Bottega" in out
    assert "wk_" in out and "sk_" in out


def test_a_bad_name_or_database_exits_with_a_message(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'bad.db'}"
    blank = run_unico("workspace", "create", "   ", "--json", "--database", url, cwd=tmp_path)
    assert blank.returncode == 2
    assert "1 to 200 characters" in blank.stdout + blank.stderr
    wrong = run_unico("workspace", "create", "x", "--database", "mysql://nope", cwd=tmp_path)
    assert wrong.returncode == 2
    assert "database_url" in (wrong.stdout + wrong.stderr).lower()


def test_commands_never_print_the_database_password(
    tmp_path: Path, subtests: pytest.Subtests
) -> None:
    # Port 1: nothing listens there, so each command stops after printing what it prints.
    url = "postgresql+psycopg://unico:s3cret-pw@127.0.0.1:1/unico"
    for args in (["workspace", "create", "x"], ["serve", "--port", "1"]):
        with subtests.test(command=args[0]):
            result = run_unico(*args, "--database", url, cwd=tmp_path)
            output = result.stdout + result.stderr
            assert result.returncode != 0
            assert "127.0.0.1:1" in output  # it does say which store
            assert "s3cret-pw" not in output
