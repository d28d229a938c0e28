"""MovieLens-100k (943 people, 1,682 films, 100,000 ratings), read from the RecBole wheel.

The `recbole==1.2.1` wheel on PyPI ships the data set as atomic files under
``recbole/dataset_example/ml-100k/``; a wheel is a zip, so it is read in place and
RecBole itself is never installed. ``make movielens`` downloads the wheel once into
``.unico/data``; nothing is downloaded at run time.
"""

from __future__ import annotations

import csv
import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from unico.core.errors import NotFound
from unico.recommend.base import ItemInfo

DEFAULT_DATA_DIR = Path(".unico/data")
WHEEL_GLOB = "recbole-1.2.1-*.whl"
_PREFIX = "recbole/dataset_example/ml-100k/ml-100k"


@dataclass(frozen=True)
class Ratings:
    """Parallel arrays, one entry per rating, and the films' descriptions."""

    users: np.ndarray  # user ids (str)
    items: np.ndarray  # item ids (str)
    ratings: np.ndarray  # 1..5
    at_ms: np.ndarray  # epoch ms
    catalog: dict[str, ItemInfo]

    def __len__(self) -> int:
        return len(self.users)


def find_wheel(data_dir: Path = DEFAULT_DATA_DIR) -> Path:
    """The RecBole wheel in ``data_dir``; NotFound says how to get it."""
    found = sorted(Path(data_dir).glob(WHEEL_GLOB))
    if not found:
        raise NotFound(
            f"MovieLens-100k: no {WHEEL_GLOB} in {data_dir}; run `make movielens` (it runs "
            f"`python -m pip download --no-deps recbole==1.2.1 -d {data_dir}`)"
        )
    return found[-1]


def load_movielens_100k(data_dir: Path = DEFAULT_DATA_DIR) -> Ratings:
    """Every rating of MovieLens-100k, with titles, years and genres as the catalog."""
    with zipfile.ZipFile(find_wheel(data_dir)) as wheel:
        inter = _read(wheel, f"{_PREFIX}.inter")
        films = _read(wheel, f"{_PREFIX}.item")
    columns = list(zip(*inter, strict=True))
    return Ratings(
        users=np.asarray(columns[0], dtype=str),
        items=np.asarray(columns[1], dtype=str),
        ratings=np.asarray(columns[2], dtype=np.float64),
        at_ms=np.asarray(columns[3], dtype=np.float64).astype(np.int64) * 1000,
        catalog={row[0]: _film(row) for row in films},
    )


def _read(wheel: zipfile.ZipFile, name: str) -> list[list[str]]:
    with wheel.open(name) as raw:
        reader = csv.reader(io.TextIOWrapper(raw, encoding="utf-8"), delimiter="\t")
        next(reader)  # the header: "user_id:token", "item_id:token", ...
        return [row for row in reader if row]


def _film(row: list[str]) -> ItemInfo:
    item_id, title, year, genres = [*row, "", "", ""][:4]
    genre_list = genres.split()
    attributes = {"decade": f"{year[:3]}0s"} if year else {}
    return ItemInfo(
        item_id=item_id,
        text=f"{title} {genres}",
        category=("movies", genre_list[0]) if genre_list else ("movies",),
        attributes=attributes,
    )
