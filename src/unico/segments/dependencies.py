"""How segments depend on each other through ``in_segment``: who uses a segment (a delete
or rename warns them), cycles (refused when a condition is saved), and what a recompute
of several segments must finish before starting the next."""

from __future__ import annotations

from collections.abc import Collection

from unico.core.errors import Unprocessable
from unico.segments import ast
from unico.segments.catalog import Catalog


def dependents(catalog: Catalog, name: str) -> list[str]:
    """Names of the segments whose condition names ``name``."""
    return sorted(
        s.name
        for s in catalog.segments
        if s.condition is not None and name in ast.segment_refs(s.condition)
    )


def refuse_cycles(catalog: Catalog, name: str, cond: ast.Condition) -> None:
    """Refuse a condition that would make a segment depend on itself."""
    refs = {
        s.name: ast.segment_refs(s.condition) if s.condition else set() for s in catalog.segments
    }
    refs[name] = ast.segment_refs(cond)
    stack, seen = list(refs[name]), set()
    while stack:
        current = stack.pop()
        if current == name:
            raise Unprocessable(
                f"in_segment makes {name!r} depend on itself", field="condition", code="cycle"
            )
        if current not in seen:
            seen.add(current)
            stack.extend(refs.get(current, ()))


def prerequisites(catalog: Catalog, segment_ids: Collection[str]) -> dict[str, set[str]]:
    """segment id -> the ids among ``segment_ids`` that its ``in_segment`` names (directly:
    theirs wait for their own)."""
    wanted = set(segment_ids)
    ids = {s.name: s.segment_id for s in catalog.segments if s.segment_id in wanted}
    needs: dict[str, set[str]] = {}
    for seg in catalog.segments:
        if seg.segment_id in wanted:
            refs = ast.segment_refs(seg.condition) if seg.condition is not None else set()
            needs[seg.segment_id] = {ids[r] for r in refs if r in ids}
    return needs
