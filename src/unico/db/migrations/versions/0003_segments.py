"""Segments tables.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003"
down_revision = "0002"

_ID = sa.String(length=64)
_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "segment",
        sa.Column("workspace_id", _ID, nullable=False),
        sa.Column("segment_id", _ID, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("condition", sa.Text(), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("workspace_id", "segment_id"),
    )
    with op.batch_alter_table("segment", schema=None) as batch_op:
        batch_op.create_index("ux_segment_name", ["workspace_id", "name"], unique=True)

    op.create_table(
        "segment_catalog",
        sa.Column("workspace_id", _ID, nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("workspace_id"),
    )

    op.create_table(
        "segment_membership",
        sa.Column("workspace_id", _ID, nullable=False),
        sa.Column("segment_id", _ID, nullable=False),
        sa.Column("profile_id", _ID, nullable=False),
        sa.Column("since", sa.BigInteger(), nullable=False),
        sa.Column("reason", _JSON, nullable=False),
        sa.PrimaryKeyConstraint("workspace_id", "segment_id", "profile_id"),
    )
    with op.batch_alter_table("segment_membership", schema=None) as batch_op:
        batch_op.create_index(
            "ix_segment_membership_profile", ["workspace_id", "profile_id"], unique=False
        )

    op.create_table(
        "segment_window",
        sa.Column("workspace_id", _ID, nullable=False),
        sa.Column("profile_id", _ID, nullable=False),
        sa.Column("agg_key", sa.String(length=32), nullable=False),
        sa.Column("state", _JSON, nullable=False),
        sa.PrimaryKeyConstraint("workspace_id", "profile_id", "agg_key"),
    )

    op.create_table(
        "segment_schedule",
        sa.Column("workspace_id", _ID, nullable=False),
        sa.Column("profile_id", _ID, nullable=False),
        sa.Column("next_check_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("workspace_id", "profile_id"),
    )
    with op.batch_alter_table("segment_schedule", schema=None) as batch_op:
        batch_op.create_index(
            "ix_segment_schedule_due", ["workspace_id", "next_check_at"], unique=False
        )

    op.create_table(
        "segment_list_entry",
        sa.Column("workspace_id", _ID, nullable=False),
        sa.Column("segment_id", _ID, nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("value", sa.String(length=512), nullable=False),
        sa.Column("profile_id", _ID, nullable=True),
        sa.Column("added_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("workspace_id", "segment_id", "kind", "value"),
    )
    with op.batch_alter_table("segment_list_entry", schema=None) as batch_op:
        batch_op.create_index(
            "ix_segment_list_entry_profile", ["workspace_id", "profile_id"], unique=False
        )
        batch_op.create_index(
            "ix_segment_list_entry_identity", ["workspace_id", "kind", "value"], unique=False
        )


def downgrade() -> None:
    for table in (
        "segment_list_entry",
        "segment_schedule",
        "segment_window",
        "segment_membership",
        "segment_catalog",
        "segment",
    ):
        op.drop_table(table)
