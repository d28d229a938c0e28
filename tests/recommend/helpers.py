"""Small rating data in MovieLens' shape, in memory and as a RecBole-style wheel, so the
evaluation and tuning commands can be run end to end in a second."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from tests.recommend.conftest import DAY, T0, catalog
from unico.recommend.movielens import Ratings

PREFIX = "recbole/dataset_example/ml-100k/ml-100k"


def small_ratings(seed: int = 0, people: int = 60, per_person: int = 8) -> Ratings:
    """Shoe people and garden people, each rating ``per_person`` of their 12 items."""
    rng = np.random.default_rng(seed)
    popularity = 1.0 / np.arange(1, 13)
    users, items, times = [], [], []
    for p in range(people):
        kind = ("shoes", "garden")[p % 2]
        for n in rng.choice(12, size=per_person, replace=False, p=popularity / popularity.sum()):
            users.append(f"{kind}-person-{p}")
            items.append(f"{kind}-{n}")
            times.append(T0 - int(rng.integers(0, 30)) * DAY)
    return Ratings(
        users=np.asarray(users, dtype=str),
        items=np.asarray(items, dtype=str),
        ratings=np.ones(len(users)),
        at_ms=np.asarray(times, dtype=np.int64),
        catalog=catalog(),
    )


def write_wheel(folder: Path, ratings: Ratings) -> Path:
    """``ratings`` as the RecBole wheel `load_movielens_100k` reads (a zip of atomic files)."""
    inter = ["user_id:token\titem_id:token\trating:float\ttimestamp:float"]
    for user, item, rating, at in zip(
        ratings.users, ratings.items, ratings.ratings, ratings.at_ms, strict=True
    ):
        inter.append(f"{user}\t{item}\t{rating:g}\t{at // 1000}")
    films = ["item_id:token\tmovie_title:token_seq\trelease_year:token\tclass:token_seq"]
    for info in ratings.catalog.values():
        films.append(f"{info.item_id}\t{info.text}\t1990\t{info.category[-1]}")
    path = folder / "recbole-1.2.1-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as wheel:
        wheel.writestr(f"{PREFIX}.inter", "\n".join(inter) + "\n")
        wheel.writestr(f"{PREFIX}.item", "\n".join(films) + "\n")
    return path
