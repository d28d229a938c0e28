"""``unico experiments analyze``: JSON and table output, one-line errors with exit code 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from unico.experiments.cli import experiments_app

DOCUMENT: dict[str, Any] = {
    "metric_type": "mean",
    "difference": "relative",
    "method": "frequentist",
    "variants": [
        {"name": "control", "n": 3407, "sum": 1396.87, "sum_squares": 52377.9767},
        {"name": "new checkout", "n": 3461, "sum": 2422.7, "sum_squares": 134698.29},
    ],
}


def _write(tmp_path: Path, content: Any) -> Path:
    path = tmp_path / "summary.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content), encoding="utf-8")
    return path


def test_json_output_matches_growthbook(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        experiments_app, ["analyze", str(_write(tmp_path, DOCUMENT)), "--json"]
    )
    assert result.exit_code == 0, result.output
    variant = json.loads(result.stdout)["variants"][0]
    assert variant["name"] == "new checkout"
    assert round(variant["p_value"], 5) == 0.06191
    assert [round(x, 5) for x in variant["ci"]] == [-0.03526, 1.44989]


@pytest.mark.parametrize("method", ["frequentist", "sequential", "bayesian"])
def test_table_output(tmp_path: Path, method: str) -> None:
    path = _write(tmp_path, {**DOCUMENT, "method": method})
    result = CliRunner().invoke(experiments_app, ["analyze", str(path)])
    assert result.exit_code == 0, result.output
    assert "new checkout" in result.stdout and "+70.73%" in result.stdout
    assert ("chance to win" in result.stdout) == (method == "bayesian")
    assert "split as expected" in result.stdout


def test_table_warns_about_a_sample_ratio_mismatch(tmp_path: Path) -> None:
    document = json.loads(json.dumps(DOCUMENT))
    document["variants"][1]["n"] = 4000
    result = CliRunner().invoke(experiments_app, ["analyze", str(_write(tmp_path, document))])
    assert "sample-ratio mismatch" in result.stdout and "do not trust" in result.stdout


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            "{not json",
            "not valid JSON: Expecting property name enclosed in double quotes at line 1",
        ),
        ({**DOCUMENT, "method": "magic"}, "method: 'magic' is not one of"),
        ({"metric_type": "mean"}, "method: missing"),
        (
            {**DOCUMENT, "variants": [{"name": "a", "n": 0, "sum": 1, "sum_squares": 1}] * 2},
            "n: must be",
        ),
        ({**DOCUMENT, "variants": "two"}, "variants: give at least 2 variants"),
    ],
)
def test_bad_input_is_one_line_and_exit_code_2(tmp_path: Path, content: Any, message: str) -> None:
    result = CliRunner().invoke(
        experiments_app, ["analyze", str(_write(tmp_path, content)), "--json"]
    )
    assert result.exit_code == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0]
    assert "Traceback" not in result.output


def test_missing_file_and_directory(tmp_path: Path) -> None:
    missing = CliRunner().invoke(experiments_app, ["analyze", str(tmp_path / "nope.json")])
    assert missing.exit_code == 2 and "no such file" in missing.stderr
    folder = CliRunner().invoke(experiments_app, ["analyze", str(tmp_path)])
    assert folder.exit_code == 2 and folder.stderr.count("\n") == 1


def test_standard_input() -> None:
    result = CliRunner().invoke(
        experiments_app, ["analyze", "-", "--json"], input=json.dumps(DOCUMENT)
    )
    assert result.exit_code == 0 and json.loads(result.stdout)["method"] == "frequentist"


def test_as_a_real_process(tmp_path: Path) -> None:
    code = "from unico.experiments.cli import experiments_app; experiments_app()"
    good = _write(tmp_path, DOCUMENT)
    run = subprocess.run(
        [sys.executable, "-c", code, "analyze", str(good), "--json"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["variants"][0]["error"] is None
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**DOCUMENT, "alpha": -1}), encoding="utf-8")
    run = subprocess.run(
        [sys.executable, "-c", code, "analyze", str(bad), "--json"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 2 and run.stdout == ""
    assert run.stderr.strip() == f"error: {bad}: alpha: -1 is out of range"
