"""``unico catalog import`` and ``unico catalog list``, run as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.conftest import run_unico, unico

pytestmark = pytest.mark.e2e


def test_import_reports_rejected_rows_and_list_shows_the_good_ones(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    ws = json.loads(
        unico("workspace", "create", "Shop", "--json", "--database", url, cwd=tmp_path).stdout
    )
    path = tmp_path / "items.csv"
    path.write_text("id,title,price,category\na,Shoe,10,Shoes\nb,Bad,cheap,Shoes\n")
    out = unico("catalog", "import", ws["workspace_id"], str(path), "--database", url, cwd=tmp_path)
    assert "1 of 2 rows imported" in out.stdout and "price" in out.stdout
    report = json.loads(
        unico(
            "catalog",
            "import",
            ws["workspace_id"],
            str(path),
            "--json",
            "--database",
            url,
            cwd=tmp_path,
        ).stdout
    )
    assert report["imported"] == 1 and report["rejected"][0]["line"] == 3
    listed = json.loads(
        unico(
            "catalog", "list", ws["workspace_id"], "--json", "--database", url, cwd=tmp_path
        ).stdout
    )
    assert [(it["id"], it["price"], it["category"]) for it in listed] == [("a", 10.0, ["Shoes"])]
    table = unico("catalog", "list", ws["workspace_id"], "--database", url, cwd=tmp_path).stdout
    assert "Shoe" in table


def test_import_fails_on_an_unknown_workspace_or_file_type(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    path = tmp_path / "items.csv"
    path.write_text("id\na\n")
    result = run_unico("catalog", "import", "ws_nope", str(path), "--database", url, cwd=tmp_path)
    assert result.returncode == 1 and "no workspace" in result.stdout
    ws = json.loads(
        unico("workspace", "create", "Shop", "--json", "--database", url, cwd=tmp_path).stdout
    )
    odd = tmp_path / "items.txt"
    odd.write_text("id\na\n")
    result = run_unico(
        "catalog", "import", ws["workspace_id"], str(odd), "--database", url, cwd=tmp_path
    )
    assert result.returncode == 1 and ".csv" in result.stdout
