"""Bandit allocation: Thompson sampling moves traffic to the better variant, new people
follow the new weights with their propensity logged, and people already in stay put."""

from __future__ import annotations

from tests.conftest import T0, Workspace
from tests.experiments.helpers import exposures, results, running, shop
from tests.experiments.population import HOUR, Events, behave, expose, ranks
from unico.container import Container
from unico.core.clock import ManualClock


def test_thompson_sampling_shifts_traffic_to_the_better_variant(
    container: Container, ws: Workspace, clock: ManualClock
) -> None:
    shop(container, ws)
    experiment_id = running(ws, allocation="bandit", bandit={"every_minutes": 60, "floor": 0.05})
    first = expose(ws, 120, prefix="early")
    assert {r["propensity"] for r in exposures(container, ws, experiment_id)} == {0.5}

    rank = ranks(first)

    def events(i: int, variant: str) -> Events:
        converts = rank[i] % 10 < (1 if variant == "A" else 6)
        return [("Order Completed", {}, T0 + HOUR)] if converts else []

    behave(ws, clock, first, events)
    weights = container.experiments.refresh_bandits()
    a, b = weights[experiment_id]
    assert b > 0.9 and a >= 0.05 and abs(a + b - 1) < 1e-9
    # Not due again within the hour; due after it.
    assert container.experiments.refresh_bandits() == {}
    clock.advance(3600)
    assert experiment_id in container.experiments.refresh_bandits()
    a, b = container.experiments.runtime.running(ws.id).by_id[experiment_id].weights
    later = expose(ws, 100, prefix="late")
    assert sum(v == "B" for v in later.values()) > 80
    rows = {r["unit_id"]: r for r in exposures(container, ws, experiment_id)}
    late_rows = [r for r in rows.values() if r["user_id"].startswith("late")]
    assert {round(r["propensity"], 9) for r in late_rows} <= {round(a, 9), round(b, 9)}
    assert any(r["propensity"] == b for r in late_rows)
    # The early people kept their variants.
    again = expose(ws, 120, prefix="early")
    assert again == first
    found = results(ws, experiment_id)
    assert found["srm"] == {"checked": False, "reason": "a bandit changes the split over time"}


def test_a_bandit_needs_a_conversion_metric(container: Container, ws: Workspace) -> None:
    shop(container, ws)
    r = ws.client.post(
        "/v1/experiments",
        json={
            "name": "b",
            "target": {"placement": "hero"},
            "variants": [{"name": "A"}, {"name": "B"}],
            "metrics": [
                {"name": "rev", "kind": "sum", "event": "Order Completed", "property": "revenue"}
            ],
            "allocation": "bandit",
        },
        headers=ws.admin,
    )
    assert r.status_code == 400 and "conversion metric" in r.json()["error"]["message"]
