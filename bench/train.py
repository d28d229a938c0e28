"""Training cost of the recommenders at shop scale: fit time, peak memory, query latency.

Synthetic interactions: 100,000 people x 10,000 items, item popularity following a Zipf
law (a long tail), ~15 interactions per person on average (~1.5M rows). Each model runs
in a process of its own so that its peak RSS (``ru_maxrss``) is its own:

    .venv/bin/python bench/train.py                 # every model, a table on stdout
    .venv/bin/python bench/train.py --model als     # one model, JSON on stdout
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from unico.recommend.als import ALSRecommender
from unico.recommend.base import Query, Recommender, TrainingData
from unico.recommend.cooccurrence import ItemToItemRecommender
from unico.recommend.data import from_arrays, history_of
from unico.recommend.ease import EASERecommender
from unico.recommend.popular import PopularRecommender

MODELS = {
    "popular": lambda: PopularRecommender(),
    "cooccurrence": lambda: ItemToItemRecommender(),
    "als": lambda: ALSRecommender(num_threads=2),
    "ease": lambda: EASERecommender(max_items=5000),
}


def synthetic(people: int, items: int, per_person: float, zipf: float, seed: int) -> TrainingData:
    rng = np.random.default_rng(seed)
    counts = np.maximum(1, rng.geometric(1.0 / per_person, size=people))
    popularity = 1.0 / np.arange(1, items + 1) ** zipf
    item_index = rng.choice(items, size=int(counts.sum()), p=popularity / popularity.sum())
    user_index = np.repeat(np.arange(people), counts)
    weights = rng.choice([1.0, 3.0, 5.0], size=len(item_index), p=[0.8, 0.15, 0.05])
    times = rng.integers(0, 90 * 86_400_000, size=len(item_index))
    return from_arrays(
        [f"u{u}" for u in range(people)],
        [f"i{i}" for i in range(items)],
        user_index,
        item_index,
        weights,
        times,
    )


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_one(name: str, args: argparse.Namespace) -> dict[str, Any]:
    data = synthetic(args.people, args.items, args.per_person, args.zipf, args.seed)
    before = peak_rss_mib()
    model: Recommender = MODELS[name]()
    started = time.perf_counter()
    model.fit(data)
    fit_seconds = time.perf_counter() - started
    after_fit = peak_rss_mib()
    rng = np.random.default_rng(args.seed + 1)
    users = rng.choice(len(data.users), size=args.queries, replace=False)
    queries = [Query(history=history_of(data, int(u)), k=10) for u in users]
    with threadpool_limits(1, "blas"):
        latencies = []
        for query in queries:
            t = time.perf_counter()
            model.recommend(query)
            latencies.append(time.perf_counter() - t)
    ms = np.asarray(latencies) * 1000
    return {
        "model": name,
        "interactions": int(data.matrix.nnz),
        "fit_seconds": round(fit_seconds, 2),
        "rss_before_fit_mib": round(before, 1),
        "peak_rss_mib": round(after_fit, 1),
        "recommend_p50_ms": round(float(np.percentile(ms, 50)), 3),
        "recommend_p99_ms": round(float(np.percentile(ms, 99)), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--model", choices=sorted(MODELS))
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--per-person", type=float, default=15.0)
    parser.add_argument("--zipf", type=float, default=1.0)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.model:
        print(json.dumps(run_one(args.model, args)))
        return
    rows = []
    for name in MODELS:
        argv = [sys.executable, __file__, "--model", name]
        for flag in ("people", "items", "per_person", "zipf", "queries", "seed"):
            argv += [f"--{flag.replace('_', '-')}", str(getattr(args, flag))]
        out = subprocess.run(argv, check=True, capture_output=True, text=True).stdout
        rows.append(json.loads(out))
        print(json.dumps(rows[-1]), file=sys.stderr)
    print("| model | interactions | fit s | peak RSS MiB (data alone) | p50 ms | p99 ms |")
    print("| --- | --- | --- | --- | --- | --- |")
    for r in rows:
        print(
            f"| {r['model']} | {r['interactions']:,} | {r['fit_seconds']} | "
            f"{r['peak_rss_mib']} ({r['rss_before_fit_mib']}) | "
            f"{r['recommend_p50_ms']} | {r['recommend_p99_ms']} |"
        )


if __name__ == "__main__":
    main()
