"""The revision cache: what a workspace's rows compile to, kept in memory and rebuilt only
when the workspace's revision number in the store changes.

Placements, running experiments and segments each keep one: a change bumps the workspace's
revision (one row), so another process's change shows once the revision is read again,
and a read finding the same number keeps the compiled value (and whatever it
remembered). ``check_seconds`` bounds how often the revision is read: 0 reads it on every
call (segments, read inside the ingest transaction that may have changed them), more
lets a decision read nothing from the store at all between checks. This process's own
changes call `RevisionCache.forget`, so they show at once.

>>> from contextlib import nullcontext
>>> revisions = {"ws_a": 1}
>>> builds = []
>>> cache = RevisionCache(
...     revision=lambda conn, ws: revisions[ws],
...     build=lambda conn, ws, rev: builds.append(rev) or f"{ws}@{rev}",
...     check_seconds=0,
... )
>>> cache.get(None, "ws_a"), cache.get(None, "ws_a"), builds
('ws_a@1', 'ws_a@1', [1])
>>> revisions["ws_a"] = 2
>>> cache.get(None, "ws_a"), builds
('ws_a@2', [1, 2])
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

T = TypeVar("T")


@dataclass(slots=True)
class _Entry(Generic[T]):
    value: T
    revision: int
    #: ``time.monotonic()`` of the last revision read.
    checked: float


class RevisionCache(Generic[T]):
    """Per-workspace values of type ``T``.

    ``revision(conn, workspace_id)`` reads the workspace's revision number;
    ``build(conn, workspace_id, revision)`` compiles its value. `get` works in a
    connection the caller holds; `cached` opens a read with ``read`` only when the
    revision is due for a check.
    """

    def __init__(
        self,
        *,
        revision: Callable[[Any, str], int],
        build: Callable[[Any, str, int], T],
        check_seconds: float,
        read: Callable[[], AbstractContextManager[Any]] | None = None,
    ) -> None:
        self.revision = revision
        self.build = build
        self.check_seconds = check_seconds
        self.read = read
        # Plain dict reads and writes (atomic under the GIL): the request path takes no lock;
        # two threads finding a stale entry at once both rebuild it, and either result is
        # current.
        self._entries: dict[str, _Entry[T]] = {}

    def cached(self, workspace_id: str) -> T:
        """The workspace's value; reads the revision (in a read of its own) only when the
        last check is ``check_seconds`` old."""
        now = time.monotonic()
        entry = self._entries.get(workspace_id)
        if entry is not None and now - entry.checked < self.check_seconds:
            return entry.value
        if self.read is None:
            raise TypeError("a RevisionCache without `read` needs a connection: use get()")
        with self.read() as conn:
            return self._check(conn, workspace_id, entry, now)

    def get(self, conn: Any, workspace_id: str) -> T:
        """The workspace's value, checked in the caller's connection ``conn`` (as
        `cached`, honouring ``check_seconds``)."""
        entry = self._entries.get(workspace_id)
        if self.check_seconds <= 0:  # checked on every call: no need to know the time
            return self._check(conn, workspace_id, entry, 0.0)
        now = time.monotonic()
        if entry is not None and now - entry.checked < self.check_seconds:
            return entry.value
        return self._check(conn, workspace_id, entry, now)

    def _check(self, conn: Any, workspace_id: str, entry: _Entry[T] | None, now: float) -> T:
        revision = self.revision(conn, workspace_id)
        if entry is not None and entry.revision == revision:
            entry.checked = now
            return entry.value
        value = self.build(conn, workspace_id, revision)
        self._entries[workspace_id] = _Entry(value, revision, now)
        return value

    def forget(self, workspace_id: str | None = None) -> None:
        """Drop a workspace's value (every workspace's with None): this process changed
        what it is built from, or what it remembered must go."""
        if workspace_id is None:
            self._entries.clear()
        else:
            self._entries.pop(workspace_id, None)
