"""The segments context's SQL adapters, one per concept (each implements the protocol of
the same name in `unico.segments.store`), and `SqlSegmentStore`, all of them on one store
for the services that span the concepts. The writes on the ingest path go through `Bulk`."""

from __future__ import annotations

from unico.store.segments.definitions import SqlSegmentDefinitions
from unico.store.segments.lists import SqlSegmentLists
from unico.store.segments.memberships import SqlSegmentMemberships
from unico.store.segments.persons import SqlSegmentPersonData
from unico.store.segments.schedule import SqlSegmentSchedule
from unico.store.segments.windows import SqlSegmentWindows


class SqlSegmentStore(
    SqlSegmentDefinitions,
    SqlSegmentMemberships,
    SqlSegmentWindows,
    SqlSegmentSchedule,
    SqlSegmentLists,
    SqlSegmentPersonData,
):
    """Everything the segments context keeps (implements `unico.segments.store.SegmentStore`)."""


__all__ = [
    "SqlSegmentDefinitions",
    "SqlSegmentLists",
    "SqlSegmentMemberships",
    "SqlSegmentPersonData",
    "SqlSegmentSchedule",
    "SqlSegmentStore",
    "SqlSegmentWindows",
]
