"""What the decide context holds on a person: the decisions served to them and what became
of them (impressions, clicks, add-to-carts and orders)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection

from unico.core.clock import to_iso
from unico.core.types import JSON, ProfileId, WorkspaceId
from unico.decide.log import DecisionLog
from unico.decide.store import DecideStore
from unico.profiles.persons import anonymous_and_user_ids
from unico.profiles.store import ProfileStore


class DecisionData:
    """`unico.core.persons.PersonData` of decide: a person's decisions are found by profile id
    and by the anonymous and user ids the person was asked about with."""

    name = "decisions"
    tables = ("decision", "decision_outcome")

    def __init__(
        self, decide_store: DecideStore, profiles: ProfileStore, decision_log: DecisionLog
    ) -> None:
        self.decide_store = decide_store
        self.profiles = profiles
        self.decision_log = decision_log

    def flush(self) -> None:
        """The decision log queues rows in memory: write them so the export sees them."""
        self.decision_log.flush()

    def export(
        self, conn: Connection, workspace_id: WorkspaceId, profile_ids: Sequence[ProfileId]
    ) -> dict[str, list[JSON]]:
        anonymous, users = anonymous_and_user_ids(self.profiles, conn, workspace_id, profile_ids)
        rows = self.decide_store.export_person(conn, workspace_id, profile_ids, anonymous, users)
        return {
            table: [{**r, "at": to_iso(r["at"])} for r in found] for table, found in rows.items()
        }

    def erase(
        self, conn: Connection, workspace_id: WorkspaceId, profile_ids: Sequence[ProfileId]
    ) -> dict[str, int]:
        anonymous, users = anonymous_and_user_ids(self.profiles, conn, workspace_id, profile_ids)
        people: list[tuple[str, str]] = [("profile_id", p) for p in profile_ids]
        people += [("anonymous_id", a) for a in anonymous] + [("user_id", u) for u in users]
        self.decision_log.forget(workspace_id, people)
        return self.decide_store.erase(conn, workspace_id, profile_ids, anonymous, users)
