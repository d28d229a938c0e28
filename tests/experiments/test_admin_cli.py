"""``unico experiments create|list|start|stop|results``: thin commands over the service."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from tests.conftest import Workspace
from tests.experiments.helpers import shop, spec, variant_of
from unico.commands.experiments import experiments_app
from unico.container import Container
from unico.core.settings import Settings

runner = CliRunner()


def _run(settings: Settings, *args: str) -> str:
    result = runner.invoke(experiments_app, [*args, "--database", settings.database_url])
    assert result.exit_code == 0, result.output
    return result.output


def test_create_start_results_stop(
    container: Container, ws: Workspace, settings: Settings, tmp_path: Path
) -> None:
    shop(container, ws)
    file = tmp_path / "experiment.json"
    file.write_text(json.dumps(spec()), encoding="utf-8")
    created = json.loads(_run(settings, "create", ws.id, str(file), "--json"))
    experiment_id = created["experiment_id"]
    assert created["status"] == "draft"
    assert "is running since" in _run(settings, "start", experiment_id)
    [listed] = json.loads(_run(settings, "list", ws.id, "--json"))
    assert listed["status"] == "running"
    assert "running" in _run(settings, "list", ws.id)
    for i in range(10):
        ws.send("identify", {"userId": f"c{i}"})
        assert variant_of(ws, userId=f"c{i}") in ("A", "B")
    container.experiments.runtime.exposures.flush()
    found = json.loads(_run(settings, "results", experiment_id, "--json"))
    assert sum(found["exposures"].values()) == 10
    table = _run(settings, "results", experiment_id)
    assert "orders" in table and found["verdict"] in table
    assert "stopped at" in _run(settings, "stop", experiment_id)


def test_errors_are_one_line_with_exit_code_1(
    container: Container, ws: Workspace, settings: Settings, tmp_path: Path
) -> None:
    shop(container, ws)
    file = tmp_path / "experiment.json"
    bad = spec(variants=[{"name": "A", "weight": 0.2}, {"name": "B", "weight": 0.2}])
    file.write_text(json.dumps(bad), encoding="utf-8")
    result = runner.invoke(
        experiments_app, ["create", ws.id, str(file), "--database", settings.database_url]
    )
    assert result.exit_code == 1
    assert "sum to 0.4" in result.output and "(variants)" in result.output
    result = runner.invoke(
        experiments_app, ["start", "exp_nope", "--database", settings.database_url]
    )
    assert result.exit_code == 1 and "no experiment" in result.output
