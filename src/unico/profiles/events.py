"""What the profiles context reads and erases of the event log, which collect owns.

Profiles sits before collect in the flow (collect calls the profile updater), so it declares
the few methods it needs here instead of importing collect's `EventStore`; the event store
(``unico.store.events``) implements both."""

from __future__ import annotations

from typing import Any, Protocol

from sqlalchemy import Connection


class PersonEvents(Protocol):
    """A person's events and dead letters: to show, export and erase them."""

    def events_of(
        self, conn: Connection, workspace_id: str, profile_ids: list[str], *, limit: int | None
    ) -> list[dict[str, Any]]: ...

    def erase(
        self,
        conn: Connection,
        workspace_id: str,
        profile_ids: list[str],
        anonymous_ids: list[str],
        user_ids: list[str],
    ) -> dict[str, int]: ...

    def export_person(
        self,
        conn: Connection,
        workspace_id: str,
        profile_ids: list[str],
        anonymous_ids: list[str],
        user_ids: list[str],
    ) -> dict[str, list[dict[str, Any]]]:
        """``event`` and ``dead_letter`` rows naming these profiles or identities."""
