"""Diagnostics applied by monkeypatching, to measure parts of the server without editing src/.

`bench/ingest.py --patch NAME` starts the server with ``PYTHONPATH`` pointing here and
``BENCH_PATCHES=NAME``: ``sitecustomize.py`` then applies the patch in every Python
process of the server, the spawned writer process included. Not production code.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def null_writer() -> None:
    """The writer acknowledges every event without touching the database: what is left is
    the API side (uvicorn, FastAPI, parsing, validation, handing events to the writer). The
    after-run check then finds no events, as it should."""
    from unico.collect import pipeline

    def process(self: Any, conn: Any, submissions: list[Any], now: int) -> list[Any]:
        return [
            pipeline.Receipt(accepted=len(s.events), rejected=len(s.dead_letters))
            for s in submissions
        ]

    pipeline.IngestPipeline.process = process  # type: ignore[method-assign]


PATCHES = {"null_writer": null_writer}


def apply(names: Iterable[str]) -> None:
    for name in names:
        PATCHES[name]()
