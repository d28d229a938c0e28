"""Window state: exact values, expiry times, pruning, merging and bounded compression."""

from __future__ import annotations

from unico.segments.ast import EventAggregate
from unico.segments.windows import Window, aggregate_key

DAY = 86_400_000
T = 1_768_471_200_000


def agg(fn: str = "count", window: int = DAY) -> EventAggregate:
    return EventAggregate(fn, "Viewed", None, None, window)  # type: ignore[arg-type]


def test_count_leaves_when_the_window_passes() -> None:
    w = Window.empty(agg())
    w.add(T, None)
    w.add(T + 1000, None)
    assert w.value(T + 1000) == 2
    assert w.next_change_at(T + 1000) == T + DAY
    assert w.value(T + DAY - 1) == 2
    assert w.value(T + DAY) == 1  # exclusive bound: stamped after now - window
    assert w.next_change_at(T + DAY) == T + 1000 + DAY
    assert w.value(T + DAY + 1000) == 0
    assert w.next_change_at(T + DAY + 1000) is None


def test_sum_avg_min_max_skip_events_without_a_number() -> None:
    values = [10, 5.5, "x", None, True, 20]
    results = {}
    for fn in ("sum", "avg", "min", "max"):
        w = Window.empty(agg(fn))
        for i, v in enumerate(values):
            w.add(T + i, v)
        results[fn] = w.value(T + 10)
    assert results == {"sum": 35.5, "avg": 35.5 / 3, "min": 5.5, "max": 20.0}
    empty = Window.empty(agg("avg"))
    assert empty.value(T) is None
    assert Window.empty(agg("sum")).value(T) == 0


def test_late_events_keep_time_order_and_prune_drops_the_expired() -> None:
    w = Window.empty(agg())
    w.add(T + 5000, None)
    w.add(T, None)
    assert [p[0] for p in w.points] == [T, T + 5000]
    w.prune(T + DAY + 1)
    assert [p[0] for p in w.points] == [T + 5000]
    assert w.dirty


def test_dump_and_load_round_trip() -> None:
    w = Window.empty(agg("sum"))
    w.add(T, 3)
    again = Window.load(agg("sum"), w.dump())
    assert again.points == w.points and again.value(T) == 3
    assert Window.load(agg(), {"unexpected": 1}).points == []


def test_merge_folds_another_profiles_events() -> None:
    a, b = Window.empty(agg()), Window.empty(agg())
    a.add(T + 10, None)
    b.add(T, None)
    a.merge(b)
    assert a.value(T + 20) == 2 and a.points[0][0] == T


def test_compression_keeps_counts_exact_and_state_bounded() -> None:
    w = Window.empty(agg("count", 7 * DAY), max_points=50)
    for i in range(1000):
        w.add(T + i * 1000, None)  # one a second: 1000 events in under 17 minutes
    assert len(w.points) <= 50
    assert w.value(T + 1_000_000) == 1000
    # A bucket leaves with its latest event: never early, at most a bucket width late.
    assert w.value(T + 7 * DAY) == 1000
    assert w.value(T + 7 * DAY + 1_000_000) == 0


def test_compressed_sums_stay_exact() -> None:
    w = Window.empty(agg("sum", DAY), max_points=20)
    for i in range(200):
        w.add(T + i * 100, 2)
    assert len(w.points) <= 20
    assert w.value(T + 30_000) == 400


def test_aggregate_keys_are_stable_and_distinct() -> None:
    assert aggregate_key(agg()) == aggregate_key(agg())
    assert aggregate_key(agg()) != aggregate_key(agg("sum"))
    assert len(aggregate_key(agg())) <= 32
