"""The revision cache: rebuilt when the revision changes, read at most every
``check_seconds``, dropped by ``forget``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from unico.core.revisions import RevisionCache


class _Rows:
    def __init__(self) -> None:
        self.revision = 1
        self.reads = 0
        self.builds: list[int] = []

    @contextmanager
    def read(self) -> Iterator[str]:
        self.reads += 1
        yield "conn"

    def cache(self, check_seconds: float) -> RevisionCache[list[int]]:
        def revision(conn: str, workspace_id: str) -> int:
            assert conn == "conn" and workspace_id == "ws_a"
            return self.revision

        def build(conn: str, workspace_id: str, revision: int) -> list[int]:
            self.builds.append(revision)
            return [revision]

        return RevisionCache(
            revision=revision, build=build, check_seconds=check_seconds, read=self.read
        )


def test_the_same_revision_keeps_the_value_and_what_it_remembered():
    rows = _Rows()
    cache = rows.cache(0)
    first = cache.cached("ws_a")
    first.append(99)  # remembered in the value
    assert cache.cached("ws_a") == [1, 99]
    rows.revision = 2
    assert cache.cached("ws_a") == [2]
    assert rows.builds == [1, 2]
    assert rows.reads == 3


def test_the_revision_is_read_at_most_every_check_seconds():
    rows = _Rows()
    cache = rows.cache(3600)
    assert cache.cached("ws_a") == [1]
    rows.revision = 2
    assert cache.cached("ws_a") == [1]  # not checked again yet
    assert rows.reads == 1
    cache.forget("ws_a")  # this process changed it: shows at once
    assert cache.cached("ws_a") == [2]
    rows.revision = 3
    cache.forget()
    assert cache.get("conn", "ws_a") == [3]
    assert rows.builds == [1, 2, 3]


def test_cached_needs_a_read():
    cache: RevisionCache[int] = RevisionCache(
        revision=lambda conn, ws: 1, build=lambda conn, ws, rev: rev, check_seconds=1
    )
    assert cache.get(None, "ws_a") == 1
    cache.forget()
    with pytest.raises(TypeError):
        cache.cached("ws_a")
