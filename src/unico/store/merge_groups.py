"""The people behind merged profiles: every profile that belongs to the same person.

A merge leaves the loser in place with ``merged_into`` naming the survivor, and the events
stored before it keep the loser's id; the store re-points older losers to the new survivor,
but chains of a few hops can still be left by concurrent merges. A person is a root (a
profile merged into nothing) with every profile whose ``merged_into`` chain leads to it.

>>> from unico.db.engine import Store
>>> store = Store("sqlite://"); store.upgrade()
>>> with store.read() as conn:
...     person_groups(conn, "ws", select(profile.c.profile_id))
{}
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, Select, literal, select, union_all

from unico.db.schema import profile
from unico.store.profiles import MAX_MERGE_HOPS, chunks


def person_groups(
    conn: Connection, workspace_id: str, profile_ids: Select[Any]
) -> dict[str, frozenset[str]]:
    """Profile id -> every profile of the same person (itself included), for those of the
    profiles ``profile_ids`` selects that took part in a merge. Profiles never merged, the
    common case, are left out: finding that costs one indexed query."""
    parent, units, settled = _edges(conn, workspace_id, profile_ids)
    if not units:
        return {}
    for _ in range(MAX_MERGE_HOPS):  # up, to the roots
        pending = {t for t in parent.values() if t not in parent and t not in settled}
        if not pending:
            break
        parent.update(_merged_into(conn, workspace_id, pending, by="profile_id"))
        settled |= pending
    roots = {_root(parent, u) for u in units}
    seen, frontier = set(roots), set(roots)
    for _ in range(MAX_MERGE_HOPS):  # down, to every profile merged into them
        found = _merged_into(conn, workspace_id, frontier, by="merged_into")
        parent.update(found)
        frontier = set(found) - seen
        seen |= frontier
        if not frontier:
            break
    people: dict[str, set[str]] = {}
    for pid in seen:
        people.setdefault(_root(parent, pid), set()).add(pid)
    return {u: frozenset(people.get(_root(parent, u), {u})) for u in units}


def _edges(
    conn: Connection, workspace_id: str, profile_ids: Select[Any]
) -> tuple[dict[str, str], set[str], set[str]]:
    """(profile -> the one it was merged into, the selected profiles in a merge, those
    known to be roots) from the selected profiles merged into another and the profiles
    merged into a selected one."""
    p = profile
    ws = p.c.workspace_id == workspace_id
    losers = select(p.c.profile_id, p.c.merged_into, literal(True).label("selected")).where(
        ws, p.c.merged_into.is_not(None), p.c.profile_id.in_(profile_ids)
    )
    into = select(p.c.profile_id, p.c.merged_into, literal(False).label("selected")).where(
        ws, p.c.merged_into.in_(profile_ids)
    )
    parent: dict[str, str] = {}
    units: set[str] = set()
    targets: set[str] = set()
    for pid, merged_into, selected in conn.execute(union_all(losers, into)):
        parent[pid] = merged_into
        if selected:
            units.add(pid)
        else:
            targets.add(merged_into)
    # A selected profile with others merged into it and no row among the losers is a root.
    settled = targets - parent.keys()
    return parent, units | targets, settled


def _merged_into(
    conn: Connection, workspace_id: str, profile_ids: Iterable[str], *, by: str
) -> dict[str, str]:
    """Profile -> merged_into, of the merged profiles whose ``by`` column is one of
    ``profile_ids``."""
    column = profile.c[by]
    out: dict[str, str] = {}
    for part in chunks(sorted(profile_ids)):
        rows = conn.execute(
            select(profile.c.profile_id, profile.c.merged_into).where(
                profile.c.workspace_id == workspace_id,
                profile.c.merged_into.is_not(None),
                column.in_(part),
            )
        )
        out.update((r.profile_id, r.merged_into) for r in rows)
    return out


def _root(parent: dict[str, str], pid: str) -> str:
    for _ in range(MAX_MERGE_HOPS):
        into = parent.get(pid)
        if into is None:
            break
        pid = into
    return pid


__all__ = ["person_groups"]
