"""A server's memory habits: frozen long-lived objects, cycles still collected."""

from __future__ import annotations

import gc
import weakref

from unico.core.memory import settle_garbage_collector


class _Node:
    def __init__(self) -> None:
        self.other: _Node | None = None


def test_settling_freezes_what_lives_and_collects_older_cycles():
    try:
        first, second = _Node(), _Node()
        first.other, second.other = second, first
        gone = weakref.ref(first)
        settle_garbage_collector()
        assert gc.get_freeze_count() > 0
        del first, second  # a cycle among frozen objects: only the next settle frees it
        gc.collect()
        assert gone() is not None
        settle_garbage_collector()
        assert gone() is None
    finally:
        gc.unfreeze()
