"""The decision log: propensities, outcomes from the web tag's events, erasure, shutdown."""

from __future__ import annotations

from collections import Counter

import pytest

from tests.conftest import Workspace
from tests.decide.helpers import decide, ids, logged, manual, stock, track, view
from tests.profiles.helpers import ref_path
from tests.web.helpers import error_of, ok
from unico.container import Container


def test_every_decision_is_logged_with_context_and_positions(
    container: Container, ws: Workspace
) -> None:
    stock(container, ws)
    manual(ws, "a", ["s1", "s2"], size=2)
    manual(ws, "b", ["t1"], size=1)
    view(ws, "ada", "s4")
    context = {"channel": "web", "page": {"url": "https://shop/p", "type": "product"}}
    both = decide(ws, "a", "b", userId="ada", anonymousId="anon-1", context=context)
    rows = {r["placement"]: r for r in logged(container, ws)}
    assert set(rows) == {"a", "b"}
    row = rows["a"]
    assert row["decision_id"] == both["a"]["decision_id"]
    assert (row["user_id"], row["anonymous_id"], row["strategy"]) == ("ada", "anon-1", "manual")
    assert row["profile_id"] is not None and row["is_default"] is False
    assert row["context"] == context
    assert [(i["id"], i["position"], i["propensity"]) for i in row["items"]] == [
        ("s1", 1, 1.0),
        ("s2", 2, 1.0),
    ]


def test_full_exploration_logs_uniform_propensities(container: Container, ws: Workspace) -> None:
    stock(container, ws)
    manual(ws, "explore", ["s1", "s2", "s3", "s4", "t1"], size=2, epsilon=1.0)
    for _ in range(20):
        decide(ws, "explore")
    for row in logged(container, ws):
        assert [i["propensity"] for i in row["items"]] == [1 / 5, 1 / 4]


def test_propensities_match_how_often_items_are_shown(container: Container, ws: Workspace) -> None:
    """Epsilon 0.5 over 5 candidates: the best item fills slot 1 with 0.5 + 0.5/5 = 0.6,
    each other with 0.1; the logged propensities say so and the frequencies agree."""
    stock(container, ws)
    manual(ws, "explore", ["s1", "s2", "s3", "s4", "t1"], size=1, epsilon=0.5)
    runs = 400
    for _ in range(runs):
        decide(ws, "explore")
    rows = logged(container, ws)
    firsts = [r["items"][0] for r in rows]
    propensity = {i["id"]: i["propensity"] for i in firsts}
    assert propensity == {"s1": 0.6, "s2": 0.1, "s3": 0.1, "s4": 0.1, "t1": 0.1}
    assert sum(propensity.values()) == pytest.approx(1.0)
    shown = Counter(i["id"] for i in firsts)
    assert abs(shown["s1"] / runs - 0.6) < 0.1
    explored = sum(r["explanation"]["exploration"]["explored"] for r in rows)
    assert explored == runs - shown["s1"]


def test_default_experiences_do_not_explore(container: Container, ws: Workspace) -> None:
    stock(container, ws)
    from tests.decide.helpers import create_placement

    create_placement(ws, name="d", strategy="als", size=2, default_items=["s1", "s2"], epsilon=1)
    for _ in range(5):
        assert ids(decide(ws, "d")["d"]) == ["s1", "s2"]
    assert all(i["propensity"] == 1.0 for r in logged(container, ws) for i in r["items"])


def test_impressions_and_clicks_are_attributed(container: Container, ws: Workspace) -> None:
    stock(container, ws)
    manual(ws, "home", ["s1", "s2", "s3"], size=3)
    one = decide(ws, "home", userId="ada")["home"]
    did = one["decision_id"]
    track(ws, "ada", "Placement Viewed", decision_id=did, placement="home", item_ids=ids(one))
    track(
        ws, "ada", "Placement Clicked", decision_id=did, placement="home", item_id="s2", position=2
    )
    track(ws, "ada", "Placement Clicked", placement="home", item_id="s2")  # names no decision
    found = ok(ws.client.get(f"/v1/decisions/{did}", headers=ws.admin))
    assert found["decision_id"] == did and found["placement"] == "home"
    assert [(i["item_id"], i["position"]) for i in found["impressions"]] == [
        ("s1", 1),
        ("s2", 2),
        ("s3", 3),
    ]
    assert [(c["item_id"], c["position"]) for c in found["clicks"]] == [("s2", 2)]
    assert [i["propensity"] for i in found["items"]] == [1.0, 1.0, 1.0]
    missing = ws.client.get("/v1/decisions/d_nope", headers=ws.admin)
    assert error_of(missing, 404)["field"] == "decision_id"


def test_erasure_removes_the_persons_decisions(container: Container, ws: Workspace) -> None:
    stock(container, ws)
    manual(ws, "home", ["s1", "s2"], size=2)
    view(ws, "ada", "s4")
    mine = decide(ws, "home", userId="ada")["home"]["decision_id"]
    theirs = decide(ws, "home", userId="bo")["home"]["decision_id"]
    track(ws, "ada", "Placement Viewed", decision_id=mine, item_ids=["s1"])
    queued = decide(ws, "home", userId="ada")["home"]["decision_id"]  # maybe not written yet
    erased = ok(ws.client.delete(f"/v1/profiles/{ref_path('user_id:ada')}", headers=ws.admin))
    assert erased["erased"]["decision_outcome"] == 1
    assert error_of(ws.client.get(f"/v1/decisions/{queued}", headers=ws.admin), 404)
    assert {r["user_id"] for r in logged(container, ws)} == {"bo"}
    assert error_of(ws.client.get(f"/v1/decisions/{mine}", headers=ws.admin), 404)
    assert ok(ws.client.get(f"/v1/decisions/{theirs}", headers=ws.admin))["user_id"] == "bo"


def test_erasure_finds_decisions_made_before_the_person_was_known(
    container: Container, ws: Workspace
) -> None:
    """Rows of requests that found no profile are found by the ids they named, once those
    ids belong to the erased person (here through an identify that links them)."""
    stock(container, ws)
    manual(ws, "home", ["s1", "s2"], size=2)
    before = decide(ws, "home", anonymousId="anon-7")["home"]["decision_id"]
    by_user = decide(ws, "home", userId="cy")["home"]["decision_id"]
    stranger = decide(ws, "home", anonymousId="anon-8")["home"]["decision_id"]
    r = ws.send("identify", {"userId": "cy", "anonymousId": "anon-7", "traits": {}})
    assert r.status_code == 200, r.text
    known = decide(ws, "home", userId="cy")["home"]["decision_id"]
    rows = {r["decision_id"]: r for r in logged(container, ws)}
    assert rows[before]["profile_id"] is None and rows[known]["profile_id"] is not None
    erased = ok(ws.client.delete(f"/v1/profiles/{ref_path('user_id:cy')}", headers=ws.admin))
    assert erased["erased"]["decision"] == 3
    assert {r["decision_id"] for r in logged(container, ws)} == {stranger}
    for gone in (before, by_user, known):
        assert error_of(ws.client.get(f"/v1/decisions/{gone}", headers=ws.admin), 404)


def test_decisions_of_other_workspaces_are_invisible(container: Container, ws: Workspace) -> None:
    stock(container, ws)
    manual(ws, "home", ["s1"], size=1)
    did = decide(ws, "home")["home"]["decision_id"]
    other = Workspace(container.workspaces.create("other"), ws.client)
    assert error_of(ws.client.get(f"/v1/decisions/{did}", headers=other.admin), 404)
    r = other.client.post(
        "/v1/decide", json={"placements": ["home"]}, auth=(other.created.write_key, "")
    )
    assert error_of(r, 404)["field"] == "placements[0]"


def test_a_clean_stop_writes_every_queued_decision(container: Container, ws: Workspace) -> None:
    stock(container, ws)
    manual(ws, "home", ["s1"], size=1)
    for _ in range(30):
        decide(ws, "home")
    container.decisions.log.stop()
    assert container.decisions.log.pending == 0
    assert len(logged(container, ws)) == 30
    container.decisions.log.start()


def test_adds_and_orders_of_recommended_items_are_attributed(
    container: Container, ws: Workspace
) -> None:
    stock(container, ws)
    manual(ws, "home", ["s1", "s2", "s3"], size=3)
    did = decide(ws, "home", userId="ada")["home"]["decision_id"]
    track(ws, "ada", "Product Added", decision_id=did, placement="home", product_id="s2")
    track(ws, "ada", "Product Added", product_id="s3")  # names no decision
    track(
        ws,
        "ada",
        "Order Completed",
        order_id="o-1",
        products=[
            {"product_id": "s2", "decision_id": did, "placement": "home"},
            {"product_id": "s3"},
            {"sku": "s1", "decision_id": did},
            "not a product",
        ],
    )
    # An order-wide decision id counts for each of its products.
    other = decide(ws, "home", userId="ada")["home"]["decision_id"]
    track(ws, "ada", "Order Completed", decision_id=other, products=[{"product_id": 7}])
    found = ok(ws.client.get(f"/v1/decisions/{did}", headers=ws.admin))
    assert [(c["kind"], c["item_id"]) for c in found["conversions"]] == [
        ("add", "s2"),
        ("order", "s2"),
        ("order", "s1"),
    ]
    assert found["clicks"] == [] and found["impressions"] == []
    later = ok(ws.client.get(f"/v1/decisions/{other}", headers=ws.admin))
    assert [(c["kind"], c["item_id"]) for c in later["conversions"]] == [("order", "7")]


def test_batches_larger_than_one_statement_are_written_whole(
    container: Container, ws: Workspace
) -> None:
    from unico.store.decide import DECISIONS_PER_STATEMENT

    count = 2 * DECISIONS_PER_STATEMENT + 3
    container.decisions.log.record(
        {
            "workspace_id": ws.id,
            "decision_id": f"d_{n:04d}",
            "placement": "home",
            "profile_id": None,
            "anonymous_id": f"anon-{n}",
            "user_id": None,
            "strategy": "popular",
            "is_default": n % 2 == 0,
            "items": [{"id": f"s{n}", "position": 1, "score": 0.5, "propensity": 1.0}],
            "context": {"page": {"url": f"https://shop/{n}"}},
            "explanation": {"reason": "popular", "rules": []},
            "at": 1_000 + n,
        }
        for n in range(count)
    )
    rows = logged(container, ws)
    assert [r["decision_id"] for r in rows] == [f"d_{n:04d}" for n in range(count)]
    n = count - 1
    last = rows[-1]
    assert (last["anonymous_id"], last["is_default"], last["at"]) == (
        f"anon-{n}",
        n % 2 == 0,
        1_000 + n,
    )
    assert last["items"] == [{"id": f"s{n}", "position": 1, "score": 0.5, "propensity": 1.0}]
    assert last["context"] == {"page": {"url": f"https://shop/{n}"}}
