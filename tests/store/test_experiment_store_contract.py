"""The experiments context's store protocol (`unico.experiments.store.ExperimentStore`, and
`ExperimentMetricReads` for its ``metrics``): what any implementation must do, run against
the SQL adapter on SQLite and PostgreSQL. A second implementation passes by being returned
from the `experiments` fixture."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import T0
from unico.core.event import Event
from unico.core.ids import new_id
from unico.db.engine import Store
from unico.experiments.store import ExperimentStore, Measure, Sums
from unico.store.events import SqlEventStore
from unico.store.experiments import SqlExperimentStore


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    s = Store(database_url)
    yield s
    s.dispose()


@pytest.fixture
def experiments(store: Store) -> ExperimentStore:
    return SqlExperimentStore(store)


def _ws() -> str:
    return new_id("ws_", T0)


def _experiment(ws: str, experiment_id: str, status: str = "draft") -> dict[str, Any]:
    return {
        "workspace_id": ws,
        "experiment_id": experiment_id,
        "name": f"Prova {experiment_id} 🌍",
        "status": status,
        "layer": None,
        "bucket_start": None,
        "bucket_end": None,
        "spec": {"variants": [{"key": "A"}, {"key": "B"}], "nested": [1, 2.5, None]},
        "created_at": T0,
        "updated_at": T0,
        "started_at": None,
        "stopped_at": None,
    }


def _exposure(
    ws: str,
    experiment_id: str,
    unit: str,
    variant: str,
    at: int = T0,
    *,
    profile_id: str | None = None,
    anonymous_id: str | None = None,
    user_id: str | None = None,
) -> dict[str, Any]:
    return {
        "workspace_id": ws,
        "experiment_id": experiment_id,
        "unit_id": unit,
        "variant": variant,
        "profile_id": profile_id,
        "anonymous_id": anonymous_id,
        "user_id": user_id,
        "propensity": 0.5,
        "at": at,
    }


def test_experiments_round_trip_and_every_change_bumps_the_revision(
    store: Store, experiments: ExperimentStore
) -> None:
    ws, other = _ws(), _ws()
    with store.read() as conn:
        assert experiments.revision(conn, ws) == 0
        assert experiments.get(conn, ws, "exp_b") is None
        assert experiments.workspace_of(conn, "exp_nowhere") is None
    b, a = _experiment(ws, f"exp_b_{ws}"), _experiment(ws, f"exp_a_{ws}", "running")
    with store.write() as conn:
        experiments.insert(conn, b)
        experiments.insert(conn, a)
        experiments.insert(conn, _experiment(other, f"exp_o_{other}", "running"))
    with store.read() as conn:
        assert experiments.revision(conn, ws) == 2
        assert experiments.revision(conn, other) == 1
        assert experiments.get(conn, ws, b["experiment_id"]) == b
        assert experiments.get(conn, other, b["experiment_id"]) is None
        assert experiments.workspace_of(conn, b["experiment_id"]) == ws
        assert experiments.experiments_of(conn, ws) == [a, b]
        assert experiments.experiments_of(conn, ws, "running") == [a]
        running = {r["experiment_id"] for r in experiments.running_everywhere(conn)}
        assert {a["experiment_id"], f"exp_o_{other}"} <= running
        assert b["experiment_id"] not in running
    with store.write() as conn:
        experiments.update(
            conn, ws, b["experiment_id"], status="running", started_at=T0 + 5, bucket_start=3
        )
        experiments.bump(conn, ws)
    with store.read() as conn:
        assert experiments.get(conn, ws, b["experiment_id"]) == {
            **b,
            "status": "running",
            "started_at": T0 + 5,
            "bucket_start": 3,
        }
        assert experiments.revision(conn, ws) == 4
        assert experiments.revision(conn, other) == 1


def test_allocations_replace_the_last_and_bump_the_revision(
    store: Store, experiments: ExperimentStore
) -> None:
    ws, other = _ws(), _ws()
    with store.read() as conn:
        assert experiments.allocations(conn, ws) == {}
    with store.write() as conn:
        experiments.save_allocation(conn, ws, "e1", [0.25, 0.75], T0)
        experiments.save_allocation(conn, ws, "e2", [1.0], T0)
        experiments.save_allocation(conn, ws, "e1", [0.5, 0.5], T0 + 9)
        experiments.save_allocation(conn, other, "e1", [0.1, 0.9], T0)
    with store.read() as conn:
        assert experiments.allocations(conn, ws) == {
            "e1": ([0.5, 0.5], T0 + 9),
            "e2": ([1.0], T0),
        }
        assert experiments.allocations(conn, other) == {"e1": ([0.1, 0.9], T0)}
        assert experiments.revision(conn, ws) == 3


def test_the_first_exposure_stays_and_gains_the_ids_it_lacked(
    store: Store, experiments: ExperimentStore
) -> None:
    ws = _ws()
    with store.write() as conn:
        experiments.record_exposures(conn, [])
        experiments.record_exposures(conn, [_exposure(ws, "e", "anon-1", "A", anonymous_id="a1")])
        experiments.record_exposures(
            conn,
            [
                _exposure(ws, "e", "anon-1", "B", T0 + 5, profile_id="p1", user_id="u1"),
                _exposure(ws, "e", "p2", "B", T0 + 1, profile_id="p2"),
            ],
        )
    with store.read() as conn:
        found = experiments.find_exposures(conn, ws, ["e"], [], ["a1"])
        assert found["e"] == {
            **_exposure(ws, "e", "anon-1", "A", anonymous_id="a1"),
            "profile_id": "p1",
            "user_id": "u1",
        }
        assert experiments.exposure_counts(conn, ws, "e", T0 + 100) == {"A": 1, "B": 1}
        # Only the exposures before ``until`` count.
        assert experiments.exposure_counts(conn, ws, "e", T0 + 1) == {"A": 1}


def test_find_exposures_by_any_id_of_the_person_earliest_first(
    store: Store, experiments: ExperimentStore
) -> None:
    ws, other = _ws(), _ws()
    with store.write() as conn:
        experiments.record_exposures(
            conn,
            [
                _exposure(ws, "e1", "anon-1", "A", T0 + 10, anonymous_id="a1"),
                _exposure(ws, "e1", "p1", "B", T0, profile_id="p1"),
                _exposure(ws, "e2", "u-unit", "A", T0, user_id="u1"),
                _exposure(ws, "e3", "p1", "A", T0, profile_id="p1"),
                _exposure(other, "e1", "p1", "A", T0, profile_id="p1"),
            ],
        )
    with store.read() as conn:
        found = experiments.find_exposures(conn, ws, ["e1", "e2"], ["p1"], ["a1"], "u1")
        assert {e: r["variant"] for e, r in found.items()} == {"e1": "B", "e2": "A"}
        by_anonymous = experiments.find_exposures(conn, ws, ["e1"], [], ["a1"])
        assert by_anonymous["e1"]["unit_id"] == "anon-1"
        assert experiments.find_exposures(conn, ws, ["e2"], [], [], "u1")["e2"]["unit_id"] == (
            "u-unit"
        )
        assert experiments.find_exposures(conn, ws, ["e1"], [], []) == {}
        assert experiments.find_exposures(conn, ws, [], ["p1"], []) == {}
        assert experiments.find_exposures(conn, other, ["e1"], ["p1"], [])["e1"]["variant"] == "A"


def test_export_then_erase_a_persons_exposures_leaves_the_others(
    store: Store, experiments: ExperimentStore
) -> None:
    ws, other = _ws(), _ws()
    with store.write() as conn:
        experiments.record_exposures(
            conn,
            [
                _exposure(ws, "e2", "p1", "A", T0 + 2, profile_id="p1"),
                _exposure(ws, "e1", "anon-1", "B", T0 + 1, anonymous_id="a1"),
                _exposure(ws, "e3", "u-unit", "A", T0 + 3, user_id="u1"),
                _exposure(ws, "e1", "p2", "A", T0, profile_id="p2"),
                _exposure(other, "e1", "p1", "A", T0, profile_id="p1"),
            ],
        )
    with store.read() as conn:
        exported = experiments.export_person(conn, ws, ["p1"], ["a1"], ["u1"])
        assert [(r["experiment_id"], r["unit_id"]) for r in exported] == [
            ("e1", "anon-1"),
            ("e2", "p1"),
            ("e3", "u-unit"),
        ]
        assert all("workspace_id" not in r for r in exported)
        assert exported[1]["at"] == T0 + 2
        assert [r["unit_id"] for r in experiments.export_person(conn, ws, ["p1"], [])] == ["p1"]
    with store.write() as conn:
        assert experiments.erase(conn, ws, ["p1"], ["a1"], ["u1"]) == 3
    with store.read() as conn:
        assert experiments.export_person(conn, ws, ["p1"], ["a1"], ["u1"]) == []
        assert [r["unit_id"] for r in experiments.export_person(conn, ws, ["p2"], [])] == ["p2"]
        assert len(experiments.export_person(conn, other, ["p1"], [])) == 1


def _buy(ws: str, profile_id: str, at: int, amount: float) -> tuple[Event, str]:
    event = Event(
        type="track",
        message_id=new_id("m_", at),
        timestamp=at,
        received_at=at,
        name="Buy",
        properties={"amount": amount},
    )
    return event, profile_id


def test_metric_sums_and_unit_values_per_variant(
    store: Store, experiments: ExperimentStore
) -> None:
    ws, other = _ws(), _ws()
    with store.write() as conn:
        experiments.record_exposures(
            conn,
            [
                _exposure(ws, "e", "p1", "A", T0, profile_id="p1"),
                _exposure(ws, "e", "p2", "A", T0, profile_id="p2"),
                _exposure(ws, "e", "p3", "B", T0, profile_id="p3"),
            ],
        )
        SqlEventStore(store).insert_events(
            conn,
            ws,
            [
                _buy(ws, "p1", T0 + 1, 10.0),
                _buy(ws, "p1", T0 + 2, 30.0),
                _buy(ws, "p2", T0 - 5, 99.0),  # before the exposure
                _buy(ws, "p3", T0 + 3, 5.0),
            ],
        )
        SqlEventStore(store).insert_events(conn, other, [_buy(other, "p2", T0 + 1, 1.0)])
    until = T0 + 100
    count, amount = Measure("Buy", "count"), Measure("Buy", "sum", "amount")
    with store.read() as conn:
        metrics = experiments.metrics
        assert metrics.sums(conn, ws, "e", [count], until) == {
            "A": Sums(2, 2.0, 4.0, 1),
            "B": Sums(1, 1.0, 1.0, 1),
        }
        assert metrics.sums(conn, ws, "e", [amount], until, [15.0])["A"] == Sums(2, 15.0, 225.0, 1)
        ratio = metrics.sums(conn, ws, "e", [amount, count], until)["A"]
        assert (ratio.sum, ratio.sum2, ratio.sum_products) == (40.0, 2.0, 80.0)
        converted = metrics.sums(conn, ws, "e", [Measure("Buy", "conversion")], until)
        assert converted["A"].positive == 1 and converted["A"].sum == 1.0
        before = metrics.sums(conn, ws, "e", [Measure("Buy", "count", before_ms=10)], until)
        assert before["A"].sum == 1.0 and before["B"].sum == 0.0
        assert sorted(metrics.unit_values(conn, ws, "e", amount, until)) == [0.0, 5.0, 40.0]
        assert metrics.sums(conn, other, "e", [count], until) == {}
