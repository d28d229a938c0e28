"""What the segments context needs from storage, one protocol per concept, and the rows
they exchange. The SQL adapters in `unico.store.segments` implement them; segments code
types against these, and only the composition root names the adapters.

Some methods take or return SQLAlchemy expressions (``replace_members``,
``write_windows_from``, ``schedule_earlier_from``, ``least``): the batch recompute builds its
conditions as SQL over the profile table and hands them to the store to run on the server.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import ColumnElement, Connection, Select

from unico.core.types import EpochMs


@dataclass(frozen=True, slots=True)
class SegmentRow:
    """A stored definition. ``condition`` is the text (None for a static list)."""

    segment_id: str
    name: str
    kind: str
    condition: str | None
    description: str | None
    created_at: EpochMs
    updated_at: EpochMs


@dataclass(frozen=True, slots=True)
class Membership:
    since: EpochMs
    reason: dict[str, Any]


class SegmentDefinitions(Protocol):
    """Segment definitions and the workspace's catalog version (bumped by every change)."""

    def version(self, conn: Connection, workspace_id: str) -> int: ...

    def bump_version(self, conn: Connection, workspace_id: str) -> None: ...

    def segments(self, conn: Connection, workspace_id: str) -> list[SegmentRow]:
        """Oldest first (by creation time, then id)."""
        ...

    def workspaces_with_segments(self, conn: Connection) -> list[str]: ...

    def insert(self, conn: Connection, workspace_id: str, row: SegmentRow) -> None: ...

    def update(self, conn: Connection, workspace_id: str, row: SegmentRow) -> None: ...

    def delete(self, conn: Connection, workspace_id: str, segment_id: str) -> None:
        """The definition, its memberships and its list entries."""
        ...


class SegmentMemberships(Protocol):
    """Which profiles are in which segment, since when and why."""

    def memberships(
        self, conn: Connection, workspace_id: str, profile_ids: Iterable[str]
    ) -> dict[str, dict[str, Membership]]: ...

    def write_memberships(
        self,
        conn: Connection,
        workspace_id: str,
        upserts: Sequence[tuple[str, str, EpochMs, dict[str, Any]]],
        deletes: Sequence[tuple[str, str]],
    ) -> None: ...

    def replace_members(
        self,
        conn: Connection,
        workspace_id: str,
        segment_id: str,
        qualifies: ColumnElement[bool],
        since: EpochMs,
        reason: dict[str, Any],
    ) -> tuple[int, int]: ...

    def sizes(self, conn: Connection, workspace_id: str) -> dict[str, int]: ...

    def size(self, conn: Connection, workspace_id: str, segment_id: str) -> int: ...

    def members(
        self,
        conn: Connection,
        workspace_id: str,
        segment_id: str,
        *,
        after: str | None,
        limit: int | None,
    ) -> Iterator[tuple[str, EpochMs, dict[str, Any]]]:
        """(profile id, since, reason) in profile id order, after ``after``."""
        ...


class SegmentWindows(Protocol):
    """Per-profile states of windowed aggregates, by aggregate key."""

    def windows(
        self, conn: Connection, workspace_id: str, profile_ids: Iterable[str]
    ) -> dict[str, dict[str, Any]]: ...

    def write_windows(
        self,
        conn: Connection,
        workspace_id: str,
        upserts: Sequence[tuple[str, str, dict[str, Any]]],
        deletes: Sequence[tuple[str, str]],
    ) -> None: ...

    def write_windows_from(
        self, conn: Connection, workspace_id: str, agg_key: str, points: Select[Any], limit: int
    ) -> int: ...

    def drop_windows(self, conn: Connection, workspace_id: str, keep: set[str]) -> None: ...


class SegmentSchedule(Protocol):
    """When each profile's memberships must next be checked (time alone changes them)."""

    def write_schedule(
        self, conn: Connection, workspace_id: str, due: Sequence[tuple[str, EpochMs | None]]
    ) -> None: ...

    def schedule_earlier(
        self, conn: Connection, workspace_id: str, due: Sequence[tuple[str, EpochMs]]
    ) -> None: ...

    def schedule_earlier_from(self, conn: Connection, due: Select[Any]) -> None: ...

    @staticmethod
    def least(conn: Connection, values: Sequence[ColumnElement[Any]]) -> ColumnElement[Any]: ...

    def due(self, conn: Connection, workspace_id: str, now: EpochMs, limit: int) -> list[str]:
        """Profiles whose check is due by ``now``, soonest first."""
        ...

    def earliest_due(self, conn: Connection, workspace_id: str) -> EpochMs | None: ...


class SegmentLists(Protocol):
    """Static lists' entries: an identity (kind, value), resolved to a profile or pending."""

    def entries(
        self, conn: Connection, workspace_id: str, profile_ids: Iterable[str]
    ) -> dict[str, set[str]]: ...

    def add_entries(
        self,
        conn: Connection,
        workspace_id: str,
        segment_id: str,
        rows: Sequence[tuple[str, str, str | None]],
        now: EpochMs,
    ) -> None: ...

    def remove_entries(
        self, conn: Connection, workspace_id: str, segment_id: str, profile_id: str
    ) -> int: ...

    def remove_pending(
        self, conn: Connection, workspace_id: str, segment_id: str, key: tuple[str, str]
    ) -> int: ...

    def pending(
        self, conn: Connection, workspace_id: str, keys: Iterable[tuple[str, str]]
    ) -> list[tuple[str, str, str]]: ...

    def resolve_pending(
        self, conn: Connection, workspace_id: str, resolved: dict[tuple[str, str], str]
    ) -> None: ...

    def entry_counts(
        self, conn: Connection, workspace_id: str, segment_id: str
    ) -> dict[str, int]: ...


class SegmentPersonData(Protocol):
    """What segments hold on a person, across the concepts: merge, erase, export."""

    def move_profiles(self, conn: Connection, workspace_id: str, moves: dict[str, str]) -> None:
        """Merged profiles: list entries follow the survivor; the rest of their state goes."""
        ...

    def erase(
        self, conn: Connection, workspace_id: str, profile_ids: list[str], *, entries: bool = True
    ) -> dict[str, int]:
        """Deleted rows per table."""
        ...

    def erase_pending(
        self, conn: Connection, workspace_id: str, keys: Sequence[tuple[str, str]]
    ) -> int: ...

    def export_person(
        self,
        conn: Connection,
        workspace_id: str,
        profile_ids: list[str],
        keys: Sequence[tuple[str, str]],
    ) -> dict[str, list[dict[str, Any]]]: ...


class SegmentStore(
    SegmentDefinitions,
    SegmentMemberships,
    SegmentWindows,
    SegmentSchedule,
    SegmentLists,
    SegmentPersonData,
    Protocol,
):
    """All of the segments context's storage, for the services that span the concepts."""
