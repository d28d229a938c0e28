"""What each context holds on a person, so that access and erasure cannot forget a table.

Every context that stores rows naming a person (a profile id, an anonymous or user id, an
identity) registers one `PersonData`: the tables it owns that name a person, how to export
its rows for the right of access and how to erase them. The profiles service calls every
registered context inside its own transaction; a test walks the schema and fails if a table
naming a person is claimed by no context (tests/profiles/test_person_data_coverage.py).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol

from sqlalchemy import Connection

from unico.core.types import JSON, ProfileId, WorkspaceId


class PersonData(Protocol):
    """One context's rows on a person.

    ``profile_ids`` are the surviving profile first, then every profile merged into it.
    Both methods run inside the caller's transaction (a read one for ``export``, the
    erasure's write one for ``erase``), before the person's identities are deleted, so a
    context may look them up.
    """

    @property
    def name(self) -> str:
        """The context's name: the export answer's key for its rows."""

    @property
    def tables(self) -> tuple[str, ...]:
        """The tables it owns that name a person (every one is exported and erased)."""

    def flush(self) -> None:
        """Write what the context keeps queued in memory, so that an export sees it."""

    def export(
        self, conn: Connection, workspace_id: WorkspaceId, profile_ids: Sequence[ProfileId]
    ) -> dict[str, list[JSON]]:
        """The person's rows, per table, ready for JSON (times as ISO 8601)."""

    def erase(
        self, conn: Connection, workspace_id: WorkspaceId, profile_ids: Sequence[ProfileId]
    ) -> dict[str, int]:
        """Delete the person's rows; rows deleted per table."""


class PersonRegistry:
    """The contexts holding data on people, in registration order (the flow's order).

    >>> registry = PersonRegistry()
    >>> registry.claims()
    {}
    """

    def __init__(self) -> None:
        self._contexts: dict[str, PersonData] = {}

    def register(self, data: PersonData) -> None:
        """Add a context; a name or a table registered twice is a wiring mistake."""
        if data.name in self._contexts:
            raise ValueError(f"person data {data.name!r} is registered twice")
        taken = self.claims()
        for table in data.tables:
            if table in taken:
                raise ValueError(f"table {table!r} is claimed by {taken[table]!r} already")
        self._contexts[data.name] = data

    def claims(self) -> dict[str, str]:
        """Table name -> the context that exports and erases it."""
        return {t: d.name for d in self._contexts.values() for t in d.tables}

    def __iter__(self) -> Iterator[PersonData]:
        return iter(list(self._contexts.values()))

    def __len__(self) -> int:
        return len(self._contexts)
