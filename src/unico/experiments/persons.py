"""What the experiments context holds on a person: their exposures (the variant each
experiment showed them, with its propensity), queued or written. Assignments are not
stored: they are computed from the unit id, so erasing the exposures forgets them."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection

from unico.core.clock import to_iso
from unico.core.types import JSON, ProfileId, WorkspaceId
from unico.experiments.service import ExperimentService


class ExperimentData:
    """`unico.core.persons.PersonData` of experiments."""

    name = "experiments"
    tables = ("exposure",)

    def __init__(self, experiments: ExperimentService) -> None:
        self.experiments = experiments

    def flush(self) -> None:
        """The exposure log queues rows in memory: write them so the export sees them."""
        self.experiments.runtime.exposures.flush()

    def export(
        self, conn: Connection, workspace_id: WorkspaceId, profile_ids: Sequence[ProfileId]
    ) -> dict[str, list[JSON]]:
        ids: list[str] = list(profile_ids)
        named = self.experiments.identities
        rows = self.experiments.experiments.export_person(
            conn,
            workspace_id,
            ids,
            named(conn, workspace_id, ids, "anonymous_id"),
            named(conn, workspace_id, ids, "user_id"),
        )
        return {"exposure": [{**r, "at": to_iso(r["at"])} for r in rows]}

    def erase(
        self, conn: Connection, workspace_id: WorkspaceId, profile_ids: Sequence[ProfileId]
    ) -> dict[str, int]:
        return self.experiments.erase(conn, workspace_id, list(profile_ids))
