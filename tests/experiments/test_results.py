"""Results from exposures joined with the events that followed them, checked against the
statistics engine on the same per-person values; verdicts, SRM and the chart."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import select

from tests.conftest import T0, Workspace
from tests.experiments.helpers import exposures, results, running, shop, variant_of
from tests.experiments.population import HOUR, Events, behave, expose, ranks
from tests.profiles.helpers import batch, iso
from unico.container import Container
from unico.core.clock import ManualClock
from unico.db.schema import event, profile
from unico.experiments.stats import (
    Baseline,
    CovariateStats,
    ProportionStats,
    RatioStats,
    SampleStats,
    adjust,
    holm,
    two_sided_ttest,
    units_to_go,
    winsorize,
)
from unico.experiments.verdicts import about, interval
from unico.store.experiments import SqlExperimentStore
from unico.store.merge_groups import person_groups

METRICS = [
    {"name": "orders", "event": "Order Completed", "window_hours": 2},
    {"name": "revenue per visitor", "kind": "sum", "event": "Order Completed",
     "property": "revenue"},
    {"name": "order value", "kind": "mean", "event": "Order Completed", "property": "revenue"},
    {
        "name": "revenue per view",
        "kind": "ratio",
        "numerator": {"event": "Order Completed", "kind": "sum", "property": "revenue"},
        "denominator": {"event": "Product Viewed"},
    },
    {"name": "capped revenue", "kind": "sum", "event": "Order Completed", "property": "revenue",
     "winsorize": 90},
    {"name": "signups", "event": "Signed Up", "guardrail": True},
]  # fmt: skip


def _events(i: int, variant: str) -> Events:
    """Before exposure: an order that must not count. After: views, orders (B converts
    more), a late order outside the 2-hour window, a big spender now and then."""
    out: Events = [("Order Completed", {"revenue": 999}, T0 - HOUR)]
    out += [("Product Viewed", {}, T0 + HOUR)] * (1 + i % 3)
    if i % 10 < (3 if variant == "A" else 6):
        out.append(("Order Completed", {"revenue": 10 + (i % 7) * 5}, T0 + HOUR))
        if i % 4 == 0:
            out.append(("Order Completed", {"revenue": 20}, T0 + HOUR + 60_000))
    if i % 5 == 0:
        out.append(("Order Completed", {"revenue": 30 if i % 15 else 400}, T0 + 3 * HOUR))
    if i % 9 == 0:
        out.append(("Signed Up", {}, T0 + HOUR))
    return out


def _values(people: dict[str, str], variant: str) -> dict[str, list[float]]:
    """Each metric's per-person values, computed from ``_events`` by hand."""
    out: dict[str, list[float]] = {k: [] for k in ("orders", "revenue", "count", "views", "sign")}
    for i, (_, v) in enumerate(people.items()):
        if v != variant:
            continue
        after = [e for e in _events(i, v) if e[2] >= T0]
        orders = [e for e in after if e[0] == "Order Completed"]
        out["orders"].append(float(any(e[2] < T0 + 2 * HOUR for e in orders)))
        out["revenue"].append(float(sum(e[1]["revenue"] for e in orders)))
        out["count"].append(float(len(orders)))
        out["views"].append(float(sum(e[0] == "Product Viewed" for e in after)))
        out["sign"].append(float(any(e[0] == "Signed Up" for e in after)))
    return out


def _stats(values: dict[str, list[float]], cap: float) -> dict[str, Any]:
    return {
        "orders": ProportionStats.from_values(values["orders"]),
        "revenue per visitor": SampleStats.from_values(values["revenue"]),
        "order value": RatioStats.from_values(values["revenue"], values["count"]),
        "revenue per view": RatioStats.from_values(values["revenue"], values["views"]),
        "capped revenue": SampleStats.from_values([min(x, cap) for x in values["revenue"]]),
        "signups": ProportionStats.from_values(values["sign"]),
    }


def test_results_match_the_engine_on_the_same_values(
    container: Container, ws: Workspace, clock: ManualClock
) -> None:
    shop(container, ws)
    experiment_id = running(ws, metrics=METRICS)
    people = expose(ws, 160)
    behave(ws, clock, people, _events)
    found = results(ws, experiment_id)
    a, b = _values(people, "A"), _values(people, "B")
    everyone = a["revenue"] + b["revenue"]
    cap = float(winsorize(everyone, upper=90).max())
    expected_a, expected_b = _stats(a, cap), _stats(b, cap)
    assert found["exposures"] == {"A": len(a["orders"]), "B": len(b["orders"])}
    raw_p = []
    for metric in found["metrics"]:
        control, variant = metric["variants"]
        name = metric["name"]
        assert control["users"] == len(a["orders"]) and variant["users"] == len(b["orders"])
        assert control["mean"] == pytest.approx(expected_a[name].mean, rel=1e-9)
        assert variant["mean"] == pytest.approx(expected_b[name].mean, rel=1e-9)
        engine = two_sided_ttest(expected_a[name], expected_b[name])
        assert variant["lift"]["expected"] == pytest.approx(engine.expected, rel=1e-9)
        assert variant["lift"]["ci"] == pytest.approx(list(engine.ci), rel=1e-9)
        assert variant["p_value"] == pytest.approx(engine.p_value, rel=1e-6, abs=1e-12)
        if not metric["guardrail"]:
            raw_p.append(variant["p_value"])
    assert found["metrics"][0]["variants"][1]["conversions"] == sum(b["orders"])
    adjusted = [m["variants"][1].get("p_value_adjusted") for m in found["metrics"][:-1]]
    assert adjusted == pytest.approx(holm(raw_p))
    assert "p_value_adjusted" not in found["metrics"][-1]["variants"][1]  # a guardrail
    assert found["srm"]["checked"] and not found["srm"]["flagged"]


def test_a_clear_winner_gets_a_plain_verdict(
    container: Container, ws: Workspace, clock: ManualClock
) -> None:
    shop(container, ws)
    experiment_id = running(ws, metrics=METRICS[:1])
    people = expose(ws, 200)
    rank = ranks(people)

    def events(i: int, variant: str) -> Events:
        wins = rank[i] % 10 < (2 if variant == "A" else 7)
        return [("Order Completed", {}, T0 + HOUR)] if wins else []

    behave(ws, clock, people, events)
    found = results(ws, experiment_id)
    b = found["metrics"][0]["variants"][1]
    text = f"B wins on orders, {interval(b['lift']['expected'], b['lift']['ci'])}"
    assert found["verdict"] == text == b["verdict"]["text"]
    assert re.fullmatch(r"B wins on orders, \+\d+\.\d% \[\+\d+\.\d%, \+\d+\.\d%\]", text)


def test_too_little_data_says_how_many_more_people(
    container: Container, ws: Workspace, clock: ManualClock
) -> None:
    shop(container, ws)
    experiment_id = running(ws, metrics=METRICS[:1], mde=0.1)
    people = expose(ws, 60)
    rank = ranks(people)

    def events(i: int, variant: str) -> Events:
        return [("Order Completed", {}, T0 + HOUR)] if rank[i] % 10 < 3 else []

    behave(ws, clock, people, events)
    found = results(ws, experiment_id)
    control, variant = found["metrics"][0]["variants"]
    to_go = units_to_go(
        Baseline.of_stats(ProportionStats(control["users"], control["conversions"])),
        enrolled=min(control["users"], variant["users"]),
        mde=0.1,
    )
    assert to_go > 1000
    assert found["verdict"] == (
        f"keep running: about {about(to_go)} more visitors per variant"
        " to detect a 10% change in orders"
    )


def test_a_broken_split_is_flagged(container: Container, ws: Workspace) -> None:
    shop(container, ws)
    experiment_id = running(ws)
    rows = [
        {
            "workspace_id": ws.id,
            "experiment_id": experiment_id,
            "unit_id": f"p_{i}",
            "variant": "A" if i < 600 else "B",
            "profile_id": f"p_{i}",
            "anonymous_id": None,
            "user_id": None,
            "propensity": 0.5,
            "at": T0,
        }
        for i in range(1000)
    ]
    with container.store.write() as conn:
        SqlExperimentStore(container.store).record_exposures(conn, rows)
    found = results(ws, experiment_id)
    assert found["srm"]["flagged"] and found["srm"]["p_value"] < 1e-9
    assert found["verdict"].startswith("sample ratio mismatch: do not trust these results")


def test_bayesian_results_give_the_chance_to_win(
    container: Container, ws: Workspace, clock: ManualClock
) -> None:
    shop(container, ws)
    experiment_id = running(ws, metrics=METRICS[:2], method="bayesian")
    people = expose(ws, 80)
    behave(ws, clock, people, _events)
    b = results(ws, experiment_id)["metrics"][0]["variants"][1]
    assert 0 <= b["chance_to_win"] <= 1 and len(b["risk"]) == 2 and "p_value" not in b


def test_the_chart_draws_the_daily_lift(
    container: Container, ws: Workspace, clock: ManualClock
) -> None:
    shop(container, ws)
    experiment_id = running(ws, metrics=METRICS[:1])
    people = expose(ws, 80)

    def events(i: int, variant: str) -> Events:
        day = (i % 3) * 24 * HOUR
        return [("Order Completed", {}, T0 + day + HOUR)] if i % 10 < 5 else []

    behave(ws, clock, people, events)
    r = ws.client.get(f"/v1/experiments/{experiment_id}/chart", headers=ws.admin)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    page = r.text
    assert "<svg" in page and "<polyline" in page and "<script" not in page
    assert page.count("<tr><td>2026-01-1") == 3  # three days, cumulative
    r = ws.client.get(f"/v1/experiments/{experiment_id}/chart")
    assert r.status_code == 401


def test_a_full_factorial_test_reads_out_main_effects_and_the_interaction(
    container: Container, ws: Workspace, clock: ManualClock
) -> None:
    shop(container, ws)
    factors = [
        {
            "name": "layout",
            "levels": [{"name": "own"}, {"name": "shoes", "placement": {"items": ["s1", "s2"]}}],
        },
        {"name": "promo", "levels": [{"name": "off"}, {"name": "on", "payload": {"b": 1}}]},
    ]
    experiment_id = running(ws, variants=[], factors=factors, metrics=METRICS[:1])
    people = expose(ws, 320)
    rank = ranks(people)
    rates = {
        "layout=own|promo=off": 1,
        "layout=own|promo=on": 6,
        "layout=shoes|promo=off": 6,
        "layout=shoes|promo=on": 1,  # each alone helps; together they do not
    }

    def events(i: int, cell: str) -> Events:
        return [("Order Completed", {}, T0 + HOUR)] if rank[i] % 10 < rates[cell] else []

    behave(ws, clock, people, events)
    found = results(ws, experiment_id)
    assert [v["name"] for v in found["metrics"][0]["variants"]] == list(rates)
    means = {v["name"]: v["mean"] for v in found["metrics"][0]["variants"]}
    by_hand = {}
    for cell in rates:
        values = [
            float(rank[i] % 10 < rates[cell]) for i, c in enumerate(people.values()) if c == cell
        ]
        by_hand[cell] = sum(values) / len(values)
        assert means[cell] == pytest.approx(by_hand[cell])
    factorial = found["factorial"]
    [interaction] = factorial["interactions"]
    m = list(by_hand.values())
    assert interaction["factors"] == ["layout", "promo"]
    assert interaction["estimate"] == pytest.approx((m[3] - m[2]) - (m[1] - m[0]))
    assert interaction["estimate"] < 0 and interaction["p_value"] < 0.05
    low, high = interaction["ci"]
    assert low < interaction["estimate"] < high
    assert [(e["factor"], e["level"], e["against"]) for e in factorial["main_effects"]] == [
        ("layout", "shoes", "own"),
        ("promo", "on", "off"),
    ]


def test_cuped_uses_what_people_did_before_exposure(
    container: Container, ws: Workspace, clock: ManualClock
) -> None:
    shop(container, ws)
    revenue = {"name": "revenue", "kind": "sum", "event": "Order Completed", "property": "revenue"}
    experiment_id = running(ws, metrics=[{**revenue, "cuped_days": 7}, {**revenue, "name": "raw"}])
    people = expose(ws, 120)

    def spend(i: int) -> int:
        return 20 + (i * 37) % 100  # each person's habit, before and after

    def events(i: int, variant: str) -> Events:
        after = spend(i) + (10 if variant == "B" else 0) + (i % 3)
        return [
            ("Order Completed", {"revenue": spend(i)}, T0 - 2 * 24 * HOUR),
            ("Order Completed", {"revenue": 5}, T0 - 9 * 24 * HOUR),  # outside the 7 days
            ("Order Completed", {"revenue": after}, T0 + HOUR),
        ]

    behave(ws, clock, people, events)
    found = results(ws, experiment_id)
    cuped, plain = (m["variants"][1] for m in found["metrics"])

    def values(variant: str) -> tuple[list[float], list[float]]:
        rows = [(i, v) for i, v in enumerate(people.values()) if v == variant]
        post = [float(spend(i) + (10 if v == "B" else 0) + i % 3) for i, v in rows]
        return post, [float(spend(i)) for i, _ in rows]

    a, b = (CovariateStats.from_values(*values(v)) for v in ("A", "B"))
    engine = two_sided_ttest(*adjust(a, b))
    assert cuped["lift"]["expected"] == pytest.approx(engine.expected, rel=1e-9)
    assert cuped["lift"]["ci"] == pytest.approx(list(engine.ci), rel=1e-9)
    assert cuped["p_value"] == pytest.approx(engine.p_value, rel=1e-6, abs=1e-12)
    width = cuped["lift"]["ci"][1] - cuped["lift"]["ci"][0]
    assert width < (plain["lift"]["ci"][1] - plain["lift"]["ci"][0]) / 5
    assert cuped["mean"] == plain["mean"]  # the reported mean is the raw one


ORDERS = [
    {"name": "orders", "event": "Order Completed"},
    {"name": "order count", "kind": "count", "event": "Order Completed"},
]


def _visitor(ws: Workspace, anonymous_id: str) -> str:
    """An anonymous visitor (a profile with no user id yet) exposed at T0: their variant."""
    batch(ws, [{"type": "page", "anonymousId": anonymous_id, "timestamp": iso(T0 - HOUR)}])
    variant = variant_of(ws, anonymousId=anonymous_id)
    assert variant is not None
    return variant


def _order(at: int, **who: str) -> dict[str, Any]:
    return {"type": "track", "event": "Order Completed", "timestamp": iso(at), **who}


def _order_profiles(container: Container, ws: Workspace) -> set[str]:
    """The profiles the orders after T0 are stored with."""
    with container.store.read() as conn:
        rows = conn.execute(
            select(event.c.profile_id).where(
                event.c.workspace_id == ws.id,
                event.c.name == "Order Completed",
                event.c.timestamp > T0,  # not the shop's own
            )
        )
        return {r.profile_id for r in rows}


def _orders(found: dict[str, Any]) -> dict[str, tuple[int, float]]:
    """Variant -> (people who ordered, orders), from the ``ORDERS`` metrics."""
    conversions, counts = found["metrics"]
    totals = {v["name"]: v["total"] for v in counts["variants"]}
    return {v["name"]: (v["conversions"], totals[v["name"]]) for v in conversions["variants"]}


def test_a_visitor_who_logs_in_to_an_existing_profile_keeps_their_conversions(
    container: Container, ws: Workspace, clock: ManualClock
) -> None:
    shop(container, ws)
    experiment_id = running(ws, metrics=ORDERS)
    # Ada has a profile already, and ordered before the exposure (which must not count).
    batch(ws, [{"type": "identify", "userId": "ada", "timestamp": iso(T0 - 2 * HOUR)}])
    batch(ws, [_order(T0 - HOUR, userId="ada")])
    variant = _visitor(ws, "a-1")
    clock.set(T0 + 3 * HOUR)
    # She logs in on that device (the visitor's profile is merged into hers), then orders.
    batch(
        ws,
        [{"type": "identify", "userId": "ada", "anonymousId": "a-1", "timestamp": iso(T0 + HOUR)}],
    )
    batch(ws, [_order(T0 + 2 * HOUR, userId="ada")])
    [row] = exposures(container, ws, experiment_id)
    survivor = ws.profile("anonymous_id:a-1").json()["profile_id"]
    assert row["profile_id"] is not None and row["profile_id"] != survivor
    found = _orders(results(ws, experiment_id))
    assert found[variant] == (1, 1.0)
    assert all(v == (0, 0.0) for name, v in found.items() if name != variant)


def test_conversions_follow_a_person_through_several_merges(
    container: Container, ws: Workspace, clock: ManualClock
) -> None:
    shop(container, ws)
    experiment_id = running(ws, metrics=ORDERS)
    batch(
        ws, [{"type": "identify", "userId": u, "timestamp": iso(T0 - HOUR)} for u in ("bo", "cy")]
    )
    variant, other = _visitor(ws, "a-1"), _visitor(ws, "a-2")
    clock.set(T0 + 6 * HOUR)
    steps = [
        _order(T0 + HOUR // 2, anonymousId="a-1"),  # as the visitor
        {"type": "identify", "userId": "bo", "anonymousId": "a-1", "timestamp": iso(T0 + HOUR)},
        _order(T0 + 2 * HOUR, userId="bo"),  # as Bo, into whom the visitor was merged
        {"type": "alias", "previousId": "bo", "userId": "cy", "timestamp": iso(T0 + 3 * HOUR)},
        _order(T0 + 4 * HOUR, userId="cy"),  # as Cy, into whom Bo was merged
        # Another visitor, who becomes someone else: none of the orders above are theirs.
        {"type": "identify", "userId": "di", "anonymousId": "a-2", "timestamp": iso(T0 + HOUR)},
    ]
    for step in steps:  # one at a time: each order keeps the profile it had then
        batch(ws, [step])
    survivor = ws.profile("user_id:cy").json()["profile_id"]
    assert ws.profile("anonymous_id:a-1").json()["profile_id"] == survivor
    assert len(_order_profiles(container, ws)) == 3  # the visitor's, Bo's and Cy's
    expected = {variant: (1, 3.0)}
    expected.setdefault(other, (0, 0.0))
    found = _orders(results(ws, experiment_id))
    assert {k: v for k, v in found.items() if k in expected} == expected
    assert all(v == (0, 0.0) for name, v in found.items() if name not in expected)


def test_people_are_found_along_chains_that_concurrent_merges_leave(
    container: Container, ws: Workspace
) -> None:
    # The store re-points older losers at each merge; racing merges can still leave chains.
    chain = {"c1": "c2", "c2": "c3", "c3": "c4", "x1": "c4", "y1": "c2", "solo": None}
    rows = [
        {"workspace_id": ws.id, "profile_id": pid, "merged_into": into, "traits": {},
         "trait_times": {}, "computed": {}, "soft": {}, "consent": {}, "created_at": T0,
         "updated_at": T0}
        for pid, into in {**chain, "c4": None}.items()
    ]  # fmt: skip
    with container.store.write() as conn:
        conn.execute(profile.insert(), rows)
    exposed = select(profile.c.profile_id).where(
        profile.c.workspace_id == ws.id, profile.c.profile_id.in_(["c1", "solo"])
    )
    with container.store.read() as conn:
        found = person_groups(conn, ws.id, exposed)
    assert found == {"c1": frozenset({"c1", "c2", "c3", "c4", "x1", "y1"})}
