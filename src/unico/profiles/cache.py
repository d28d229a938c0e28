"""The ingest writer's memory of identities and profiles (single-writer stores only).

With SQLite there is exactly one writer, so what it last wrote is what the database
holds: keeping identities, profile states and user ids in memory saves three queries
and a JSON decode per profile in every group. The cache is written through (the store
is always written), bounded (least recently used profiles go first), dropped whole
when a transaction fails (its states may hold uncommitted changes) and when anything
else changes profiles (`invalidate`, called by erasure). Erasure in another process
cannot call it, and need not: every identity of an erased person is suppressed, and
suppressions are read from the database in every group, so no event can reach a
cached state of an erased profile.

PostgreSQL may have several writers, so it runs without this cache.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable

from unico.profiles.identity import IdentityKey
from unico.profiles.store import ProfileState


class ProfileCache:
    """Bounded, write-through memory of the writer's last view.

    >>> cache = ProfileCache(max_profiles=2)
    >>> cache.begin()
    >>> cache.remember("ws", {("user_id", "42"): "p1"}, {}, {})
    >>> cache.identities("ws", [("user_id", "42"), ("user_id", "7")])
    {('user_id', '42'): 'p1'}
    """

    def __init__(self, max_profiles: int) -> None:
        self.max_profiles = max_profiles
        self.max_identities = max_profiles * 4
        self._identities: dict[tuple[str, str, str], str] = {}
        self._profiles: OrderedDict[tuple[str, str], ProfileState] = OrderedDict()
        self._uids: dict[tuple[str, str], set[str]] = {}
        self._generation = 0
        self._seen = 0
        self._lock = threading.Lock()

    def invalidate(self) -> None:
        """Forget everything before the next group (safe from any thread)."""
        with self._lock:
            self._generation += 1

    def begin(self) -> None:
        """Called by the writer before each group."""
        with self._lock:
            generation = self._generation
        if generation != self._seen:
            self.clear()
            self._seen = generation

    def clear(self) -> None:
        self._identities.clear()
        self._profiles.clear()
        self._uids.clear()

    def identities(self, workspace_id: str, keys: Iterable[IdentityKey]) -> dict[IdentityKey, str]:
        found = {}
        for key in keys:
            pid = self._identities.get((workspace_id, key[0], key[1]))
            if pid is not None:
                found[key] = pid
        return found

    def profiles(self, workspace_id: str, pids: Iterable[str]) -> dict[str, ProfileState]:
        found = {}
        for pid in pids:
            state = self._profiles.get((workspace_id, pid))
            if state is not None:
                self._profiles.move_to_end((workspace_id, pid))
                found[pid] = state
        return found

    def user_ids(self, workspace_id: str, pids: Iterable[str]) -> dict[str, set[str]]:
        found = {}
        for pid in pids:
            uids = self._uids.get((workspace_id, pid))
            if uids is not None:
                found[pid] = uids
        return found

    def remember(
        self,
        workspace_id: str,
        identities: dict[IdentityKey, str],
        profiles: dict[str, ProfileState],
        user_ids: dict[str, set[str]],
    ) -> None:
        for (kind, value), pid in identities.items():
            self._identities[(workspace_id, kind, value)] = pid
        for pid, state in profiles.items():
            self._profiles[(workspace_id, pid)] = state
            self._profiles.move_to_end((workspace_id, pid))
        for pid, uids in user_ids.items():
            self._uids[(workspace_id, pid)] = uids
        while len(self._profiles) > self.max_profiles:
            (ws, pid), _ = self._profiles.popitem(last=False)
            self._uids.pop((ws, pid), None)
        while len(self._identities) > self.max_identities:
            del self._identities[next(iter(self._identities))]
