"""Tables of the segments context (same conventions as `schema`).

* ``segment``: definitions (dynamic: a condition's text; static: a list).
* ``segment_catalog``: one version per workspace, bumped on every definition change, so
  that every process caching compiled segments notices with one cheap read.
* ``segment_membership``: who is in which segment, since when and why.
* ``segment_window``: per profile and windowed aggregate, the events still inside the
  window (see ``segments/windows.py``).
* ``segment_schedule``: per profile, the earliest time a membership may change with no new
  event (a window expiring, a relative date passing): what the sweeper works through.
* ``segment_list_entry``: the identities uploaded to static lists, resolved to a profile
  when known (``profile_id`` NULL: waiting for the identity to appear).
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, String, Table, Text

from unico.db.schema import Id, Json, metadata

__all__ = [
    "metadata",
    "segment",
    "segment_catalog",
    "segment_list_entry",
    "segment_membership",
    "segment_schedule",
    "segment_window",
]

segment = Table(
    "segment",
    metadata,
    Column("workspace_id", Id, primary_key=True),
    Column("segment_id", Id, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("description", Text),
    Column("kind", String(16), nullable=False),
    Column("condition", Text),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Index("ux_segment_name", "workspace_id", "name", unique=True),
)

segment_catalog = Table(
    "segment_catalog",
    metadata,
    Column("workspace_id", Id, primary_key=True),
    Column("version", BigInteger, nullable=False),
)

segment_membership = Table(
    "segment_membership",
    metadata,
    Column("workspace_id", Id, primary_key=True),
    Column("segment_id", Id, primary_key=True),
    Column("profile_id", Id, primary_key=True),
    Column("since", BigInteger, nullable=False),
    Column("reason", Json, nullable=False),
    Index("ix_segment_membership_profile", "workspace_id", "profile_id"),
)

segment_window = Table(
    "segment_window",
    metadata,
    Column("workspace_id", Id, primary_key=True),
    Column("profile_id", Id, primary_key=True),
    Column("agg_key", String(32), primary_key=True),
    Column("state", Json, nullable=False),
)

segment_schedule = Table(
    "segment_schedule",
    metadata,
    Column("workspace_id", Id, primary_key=True),
    Column("profile_id", Id, primary_key=True),
    Column("next_check_at", BigInteger, nullable=False),
    Index("ix_segment_schedule_due", "workspace_id", "next_check_at"),
)

segment_list_entry = Table(
    "segment_list_entry",
    metadata,
    Column("workspace_id", Id, primary_key=True),
    Column("segment_id", Id, primary_key=True),
    Column("kind", String(64), primary_key=True),
    Column("value", String(512), primary_key=True),
    Column("profile_id", Id),
    Column("added_at", BigInteger, nullable=False),
    Index("ix_segment_list_entry_profile", "workspace_id", "profile_id"),
    Index("ix_segment_list_entry_identity", "workspace_id", "kind", "value"),
)
