"""The decision log's person indexes become partial: a known person's rows by profile, the
request's ids only for rows without one (see `unico.db.decide_schema.decision`).

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"

_INDEXES = (
    ("ix_decision_profile", "profile_id", "profile_id IS NOT NULL"),
    ("ix_decision_anonymous", "anonymous_id", "profile_id IS NULL AND anonymous_id IS NOT NULL"),
    ("ix_decision_user", "user_id", "profile_id IS NULL AND user_id IS NOT NULL"),
)


def upgrade() -> None:
    for name, column, condition in _INDEXES:
        op.drop_index(name, table_name="decision")
        op.create_index(
            name,
            "decision",
            ["workspace_id", column],
            unique=False,
            sqlite_where=sa.text(condition),
            postgresql_where=sa.text(condition),
        )


def downgrade() -> None:
    for name, column, _ in _INDEXES:
        op.drop_index(name, table_name="decision")
        op.create_index(name, "decision", ["workspace_id", column], unique=False)
