"""What the profiles context holds on a person: the profile, its identities, consent and merge
history, and the event log and dead letters naming the person (collect's tables, which the
profiles service has always exported and erased with the profile)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Connection

from unico.core.clock import Clock, to_iso
from unico.core.types import JSON, ProfileId, WorkspaceId
from unico.profiles.events import PersonEvents
from unico.profiles.store import ProfileState, ProfileStore

#: How the service shows a profile: (state, workspace id) -> JSON.
ProfileView = Callable[[ProfileState, str], dict[str, Any]]


def event_view(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "timestamp": to_iso(row["timestamp"]), "received_at": to_iso(row["received_at"])}


def anonymous_and_user_ids(
    profiles: ProfileStore, conn: Connection, workspace_id: str, profile_ids: Sequence[str]
) -> tuple[list[str], list[str]]:
    """The anonymous and user ids of these profiles: what the event log, dead letters and the
    decision log name people by, besides their profile ids."""
    anonymous: list[str] = []
    users: list[str] = []
    for pid in profile_ids:
        for i in profiles.identities_of(conn, workspace_id, pid):
            if i["kind"] == "anonymous_id":
                anonymous.append(i["value"])
            elif i["kind"] == "user_id":
                users.append(i["value"])
    return anonymous, users


class ProfilesData:
    """`unico.core.persons.PersonData` of the profiles context. ``erase`` deletes the
    identities, so the profiles service calls it after every other context; it keeps a
    hashed suppression of each identity, and its counts keep their historical names
    (``profiles``, ``identities``, ``events``...)."""

    name = "profiles"
    tables = ("profile", "identity", "profile_merge", "consent_log", "event", "dead_letter")

    def __init__(
        self, profiles: ProfileStore, events: PersonEvents, clock: Clock, view: ProfileView
    ) -> None:
        self.profiles = profiles
        self.events = events
        self.clock = clock
        self.view = view

    def flush(self) -> None:
        """Nothing queued: events and profiles are written in the ingest transaction."""

    def export(
        self, conn: Connection, workspace_id: WorkspaceId, profile_ids: Sequence[ProfileId]
    ) -> dict[str, list[JSON]]:
        pid = profile_ids[0]
        state = self.profiles.load_profiles(conn, workspace_id, [pid], lock=False)[pid]
        history = self.profiles.history(conn, workspace_id, pid)
        anonymous, users = anonymous_and_user_ids(self.profiles, conn, workspace_id, profile_ids)
        logged = self.events.export_person(conn, workspace_id, list(profile_ids), anonymous, users)
        view = self.view(state, workspace_id)
        view["trait_times"] = {k: to_iso(v) for k, v in state.trait_times.items()}
        return {
            "profile": [view],
            "identity": [
                {**i, "created_at": to_iso(i["created_at"])}
                for i in self.profiles.identities_of(conn, workspace_id, pid)
            ],
            "consent_log": [{**c, "at": to_iso(c["at"])} for c in history["consent"]],
            "profile_merge": [{**m, "at": to_iso(m["at"])} for m in history["merges"]],
            "event": [event_view(e) for e in logged["event"]],
            "dead_letter": [
                {**d, "received_at": to_iso(d["received_at"])} for d in logged["dead_letter"]
            ],
        }

    def erase(
        self, conn: Connection, workspace_id: WorkspaceId, profile_ids: Sequence[ProfileId]
    ) -> dict[str, int]:
        ids: list[str] = list(profile_ids)
        anonymous, users = anonymous_and_user_ids(self.profiles, conn, workspace_id, ids)
        counts = self.events.erase(conn, workspace_id, ids, anonymous, users)
        counts.update(self.profiles.erase(conn, workspace_id, ids, self.clock.now_ms()))
        return counts
