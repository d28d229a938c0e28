"""The experiments API refuses bad input with clear 4xx errors and never changes a running
experiment's assignments."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Workspace
from tests.experiments.helpers import create, post, running, shop, spec, start, variant_of
from unico.container import Container


def _error(r: Any, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    error: dict[str, Any] = r.json()["error"]
    assert set(error) >= {"code", "message", "field"}
    return error


@pytest.mark.parametrize(
    ("change", "status", "field", "words"),
    [
        (
            {"variants": [{"name": "A", "weight": 0.6}, {"name": "B", "weight": 0.6}]},
            400,
            "variants",
            "sum to 1.2",
        ),
        (
            {"variants": [{"name": "A", "weight": 60}, {"name": "B"}]},
            400,
            "variants",
            "every variant a weight",
        ),
        ({"variants": [{"name": "A"}]}, 400, "variants", "at least two"),
        ({"variants": [{"name": "A"}, {"name": "A"}]}, 400, "variants", "two variants"),
        ({"metrics": [{"name": "m", "event": "Order Complete"}]}, 422, "metrics[0]", "typo"),
        (
            {"metrics": [{"name": "rev", "kind": "sum", "event": "Order Completed"}]},
            400,
            "metrics[0]",
            "property",
        ),
        ({"target": {"placement": "nowhere"}}, 422, "target.placement", "no placement"),
        ({"segment": "nobody"}, 422, "segment", "no segment"),
        (
            {"variants": [{"name": "A"}, {"name": "B", "placement": {"items": ["nope"]}}]},
            422,
            "variants[1].placement.items",
            "not in the catalog",
        ),
        ({"traffic": 0}, 400, "traffic", "greater than 0"),
        ({"holdout": 0.7}, 400, "holdout", "less than 0.5"),
        ({"colour": "red"}, 400, "colour", "Extra inputs"),
    ],
)
def test_bad_experiments_are_refused(
    container: Container,
    ws: Workspace,
    change: dict[str, Any],
    status: int,
    field: str | None,
    words: str,
) -> None:
    shop(container, ws)
    error = _error(post(ws, spec(**change)), status)
    assert error["field"] == field
    assert words in error["message"]


def test_metrics_on_unknown_events_pass_when_forced(container: Container, ws: Workspace) -> None:
    shop(container, ws)
    body = spec(metrics=[{"name": "m", "event": "Wishlist Added"}])
    assert _error(post(ws, body), 422)["code"] == "unknown_event"
    r = post(ws, body, force="true")
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "draft"


def test_a_running_experiment_keeps_its_variants(container: Container, ws: Workspace) -> None:
    shop(container, ws)
    experiment_id = running(ws)
    for i in range(20):
        ws.send("identify", {"userId": f"r{i}"})
    before = [variant_of(ws, userId=f"r{i}") for i in range(20)]
    url = f"/v1/experiments/{experiment_id}"
    changes: list[dict[str, Any]] = [
        {"variants": [{"name": "A", "weight": 0.1}, {"name": "B", "weight": 0.9}]},
        {"metrics": [{"name": "views", "event": "Product Viewed"}]},
        {"layer": "home"},
    ]
    for change in changes:
        error = _error(ws.client.patch(url, json=change, headers=ws.admin), 409)
        assert error["code"] == "experiment_running"
        assert error["field"] == next(iter(change))
    assert [variant_of(ws, userId=f"r{i}") for i in range(20)] == before
    assert ws.client.get(url, headers=ws.admin).json()["cells"] == [
        {"name": "A", "weight": 0.5},
        {"name": "B", "weight": 0.5},
    ]
    # The name may change while it runs.
    r = ws.client.patch(url, json={"name": "renamed"}, headers=ws.admin)
    assert r.status_code == 200 and r.json()["name"] == "renamed"


def test_lifecycle_errors(container: Container, ws: Workspace) -> None:
    shop(container, ws)
    experiment_id = create(ws)["experiment_id"]
    url = f"/v1/experiments/{experiment_id}"
    assert _error(ws.client.post(f"{url}/stop", headers=ws.admin), 409)["code"] == "conflict"
    start(ws, experiment_id)
    assert _error(ws.client.post(f"{url}/start", headers=ws.admin), 409)["code"] == "conflict"
    ws.client.post(f"{url}/stop", headers=ws.admin)
    assert _error(ws.client.post(f"{url}/start", headers=ws.admin), 409)["code"] == "conflict"
    assert _error(ws.client.patch(url, json={"name": "x"}, headers=ws.admin), 409)
    missing = "/v1/experiments/exp_nope"
    assert _error(ws.client.get(missing, headers=ws.admin), 404)["field"] == "experiment_id"
    assert _error(ws.client.get(f"{missing}/results", headers=ws.admin), 404)


def test_two_experiments_on_one_placement_need_a_layer(container: Container, ws: Workspace) -> None:
    shop(container, ws)
    running(ws)
    other = create(ws, name="other")["experiment_id"]
    r = ws.client.post(f"/v1/experiments/{other}/start", headers=ws.admin)
    error = _error(r, 409)
    assert error["code"] == "overlapping_experiments" and error["field"] == "layer"


def test_the_api_wants_the_secret_key(container: Container, ws: Workspace) -> None:
    shop(container, ws)
    r = ws.client.get("/v1/experiments", auth=(ws.created.write_key, ""))
    assert r.status_code in (401, 403)
    assert ws.client.get("/v1/experiments").status_code == 401
    r = ws.client.post("/v1/experiments", content=b"{", headers=ws.admin)
    assert _error(r, 400)["code"] == "invalid_json"


def test_list_and_get(container: Container, ws: Workspace) -> None:
    shop(container, ws)
    made = create(ws, layer="home", traffic=40)
    r = ws.client.get("/v1/experiments", headers=ws.admin)
    assert r.status_code == 200
    [listed] = r.json()["experiments"]
    assert listed["experiment_id"] == made["experiment_id"] and listed["status"] == "draft"
    assert listed["buckets"] is None and listed["traffic"] == 40
    started = start(ws, made["experiment_id"])
    assert started["buckets"] == [0, 399] and started["started_at"] is not None


def test_traffic_in_a_layer_grows_only_into_free_buckets(
    container: Container, ws: Workspace
) -> None:
    shop(container, ws)
    first = running(ws, layer="home", traffic=0.3)
    url = f"/v1/experiments/{first}"
    r = ws.client.patch(url, json={"traffic": 0.5}, headers=ws.admin)
    assert r.status_code == 200 and r.json()["buckets"] == [0, 499]
    second = running(ws, name="second", layer="home", traffic=0.2)
    assert ws.client.get(f"/v1/experiments/{second}", headers=ws.admin).json()["buckets"] == [
        500,
        699,
    ]
    error = _error(ws.client.patch(url, json={"traffic": 0.6}, headers=ws.admin), 409)
    assert error["code"] == "layer_full" and error["field"] == "traffic"
    assert ws.client.get(url, headers=ws.admin).json()["buckets"] == [0, 499]
