"""Static lists: segments whose members are uploaded (CSV) or added one by one.

An entry is an identity: ``kind:value`` in any kind profiles know (``user_id``, ``email``
— normalized as profiles normalize it —, ``anonymous_id``, ``phone``, ``loyalty_id``,
external id kinds) or a ``profile_id``. An identity nobody has yet is remembered, and its
person joins the list when an event first carries it. Every change is applied to
membership at once (``Segment Entered`` / ``Exited`` events included), and segments that
use the list with ``in_segment`` follow.

CSV forms (a header row is required): one ``identity`` column of ``kind:value``; or
``kind`` and ``value`` columns; or one column named after a kind (``email``).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection

from unico.core.clock import Clock
from unico.core.errors import InvalidInput, NotFound
from unico.core.types import EpochMs
from unico.db.engine import Store
from unico.profiles.identity import normalize_kind, normalize_value, parse_kind_value
from unico.profiles.store import ProfileState, ProfileStore
from unico.segments.catalog import STATIC, CompiledSegment
from unico.segments.realtime import SegmentEngine, Trigger
from unico.segments.store import SegmentStore

PROFILE_ID = "profile_id"
MAX_REJECTED = 100
CHUNK = 2000
Key = tuple[str, str]


def _key(kind: str, value: str) -> Key | None:
    kind = normalize_kind(kind)
    if not kind:
        return None
    if kind == PROFILE_ID:
        value = value.strip()
        return (kind, value) if value else None
    normalized = normalize_value(kind, value)
    return (kind, normalized) if normalized else None


def parse_ref(ref: str) -> Key | None:
    """``'email:A@b.it'`` -> ``('email', 'a@b.it')``; a bare id -> ``('profile_id', id)``."""
    if ":" not in ref:
        return (PROFILE_ID, ref.strip()) if ref.strip() else None
    return parse_kind_value(ref)


def parse_csv(text: str, max_rows: int) -> tuple[list[Key], list[dict[str, Any]]]:
    """The identities of an upload and the rejected lines (line numbers count the header)."""
    reader = csv.reader(io.StringIO(text))
    header = [normalize_kind(h) for h in next(reader, [])]
    if not header:
        raise InvalidInput("the CSV is empty; it needs a header row", field="body")
    if "identity" in header:
        make = _by_identity(header.index("identity"))
    elif "kind" in header and "value" in header:
        make = _by_columns(header.index("kind"), header.index("value"))
    elif len(header) == 1:
        make = _by_columns(None, 0, header[0])
    else:
        raise InvalidInput(
            "the header needs an identity column, kind and value columns, or one column"
            " named after an identity kind (email, user_id, ...)",
            field="body",
        )
    keys: list[Key] = []
    rejected: list[dict[str, Any]] = []
    for line, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(keys) >= max_rows:
            raise InvalidInput(f"a list upload holds at most {max_rows} rows", field="body")
        key = make(row)
        if key is None:
            if len(rejected) < MAX_REJECTED:
                rejected.append({"line": line, "message": "not an identity: " + ",".join(row)})
            continue
        keys.append(key)
    return list(dict.fromkeys(keys)), rejected


def _by_identity(index: int) -> Any:
    def make(row: list[str]) -> Key | None:
        if index >= len(row):
            return None
        return parse_ref(row[index]) if ":" in row[index] else None

    return make


def _by_columns(kind_at: int | None, value_at: int, fixed: str | None = None) -> Any:
    def make(row: list[str]) -> Key | None:
        if value_at >= len(row) or (kind_at is not None and kind_at >= len(row)):
            return None
        kind = fixed if kind_at is None else row[kind_at]
        return _key(kind or "", row[value_at])

    return make


class ListService:
    """Static lists of a workspace.

    >>> # lists.upload("ws_…", "newsletter", "email\\nada@example.com\\n")
    """

    def __init__(
        self,
        store: Store,
        segments: SegmentStore,
        engine: SegmentEngine,
        profiles: ProfileStore,
        clock: Clock,
        *,
        max_rows: int = 1_000_000,
    ) -> None:
        self.store = store
        self.segments = segments
        self.engine = engine
        self.profiles = profiles
        self.clock = clock
        self.max_rows = max_rows

    def _static(self, conn: Connection, workspace_id: str, ref: str) -> CompiledSegment:
        for seg in self.engine.catalog(conn, workspace_id).segments:
            if ref in (seg.segment_id, seg.name):
                if seg.kind != STATIC:
                    raise InvalidInput(
                        f"segment {seg.name!r} is defined by a condition, not a list",
                        field="segment",
                    )
                return seg
        raise NotFound(f"no segment {ref!r}", field="segment")

    def _resolve(self, conn: Connection, workspace_id: str, keys: list[Key]) -> dict[Key, str]:
        """The surviving profile of each known identity."""
        found: dict[Key, str] = {}
        identities = [k for k in keys if k[0] != PROFILE_ID]
        for start in range(0, len(identities), CHUNK):
            part = identities[start : start + CHUNK]
            found.update(self.profiles.find_identities(conn, workspace_id, part))
        for key in keys:
            if key[0] == PROFILE_ID:
                found[key] = key[1]
        states = self.profiles.load_profiles(conn, workspace_id, set(found.values()), lock=True)
        out: dict[Key, str] = {}
        for key, pid in found.items():
            hops = 0
            while pid in states and states[pid].merged_into and hops < 100:
                pid, hops = states[pid].merged_into or pid, hops + 1
            if pid in states:
                out[key] = pid
        return out

    def upload(self, workspace_id: str, segment_ref: str, text: str) -> dict[str, Any]:
        """Add a CSV's identities to a static list."""
        keys, rejected = parse_csv(text, self.max_rows)
        now = self.clock.now_ms()
        with self.store.write() as conn:
            seg = self._static(conn, workspace_id, segment_ref)
            owners = self._resolve(conn, workspace_id, keys)
            keys = [k for k in keys if k[0] != PROFILE_ID or k in owners]
            rows = [(k, v, owners.get((k, v))) for k, v in keys]
            for start in range(0, len(rows), CHUNK):
                chunk = rows[start : start + CHUNK]
                self.segments.add_entries(conn, workspace_id, seg.segment_id, chunk, now)
            self._apply(conn, workspace_id, set(owners.values()), now, "upload")
            counts = self.segments.entry_counts(conn, workspace_id, seg.segment_id)
        matched = sum(1 for k in keys if k in owners)
        return {
            "segment_id": seg.segment_id,
            "received": len(keys) + len(rejected),
            "matched": matched,
            "pending": len(keys) - matched,
            "rejected": rejected,
            "list": counts,
        }

    def add(self, workspace_id: str, segment_ref: str, ref: str) -> dict[str, Any]:
        """Add one person (a profile id or ``kind:value``); an unknown identity waits."""
        key = parse_ref(ref)
        if key is None:
            raise InvalidInput(f"{ref!r} is not a profile id or kind:value", field="ref")
        now = self.clock.now_ms()
        with self.store.write() as conn:
            seg = self._static(conn, workspace_id, segment_ref)
            owner = self._resolve(conn, workspace_id, [key]).get(key)
            if owner is None and key[0] == PROFILE_ID:
                raise NotFound(f"no profile {ref!r}", field="ref")
            self.segments.add_entries(conn, workspace_id, seg.segment_id, [(*key, owner)], now)
            if owner is not None:
                self._apply(conn, workspace_id, {owner}, now, "manual")
        return {
            "segment_id": seg.segment_id,
            "profile_id": owner,
            "status": "member" if owner else "pending",
        }

    def remove(self, workspace_id: str, segment_ref: str, ref: str) -> dict[str, Any]:
        """Take one person (every entry naming them) or one waiting identity off the list."""
        key = parse_ref(ref)
        if key is None:
            raise InvalidInput(f"{ref!r} is not a profile id or kind:value", field="ref")
        now = self.clock.now_ms()
        with self.store.write() as conn:
            seg = self._static(conn, workspace_id, segment_ref)
            owner = self._resolve(conn, workspace_id, [key]).get(key)
            removed = 0
            if owner is not None:
                removed = self.segments.remove_entries(conn, workspace_id, seg.segment_id, owner)
                self._apply(conn, workspace_id, {owner}, now, "manual")
            else:
                removed = self.segments.remove_pending(conn, workspace_id, seg.segment_id, key)
            if not removed:
                raise NotFound(f"{ref!r} is not on list {seg.name!r}", field="ref")
        return {"segment_id": seg.segment_id, "profile_id": owner, "removed": removed}

    def _apply(
        self, conn: Connection, workspace_id: str, pids: Iterable[str], now: EpochMs, kind: str
    ) -> None:
        pids = sorted(pids)
        for start in range(0, len(pids), CHUNK):
            part = pids[start : start + CHUNK]
            states: dict[str, ProfileState] = self.profiles.load_profiles(
                conn, workspace_id, part, lock=True
            )
            self.engine.process(conn, workspace_id, states, now, Trigger(kind))
