"""Experiments tables.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004"
down_revision = "0003"

_ID = sa.String(length=64)
_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "experiment",
        sa.Column("workspace_id", _ID, nullable=False),
        sa.Column("experiment_id", _ID, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("layer", sa.String(length=64), nullable=True),
        sa.Column("bucket_start", sa.Integer(), nullable=True),
        sa.Column("bucket_end", sa.Integer(), nullable=True),
        sa.Column("spec", _JSON, nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.Column("started_at", sa.BigInteger(), nullable=True),
        sa.Column("stopped_at", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("workspace_id", "experiment_id"),
    )
    with op.batch_alter_table("experiment", schema=None) as batch_op:
        batch_op.create_index("ix_experiment_status", ["workspace_id", "status"], unique=False)

    op.create_table(
        "experiment_revision",
        sa.Column("workspace_id", _ID, nullable=False),
        sa.Column("revision", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("workspace_id"),
    )

    op.create_table(
        "exposure",
        sa.Column("workspace_id", _ID, nullable=False),
        sa.Column("experiment_id", _ID, nullable=False),
        sa.Column("unit_id", sa.String(length=255), nullable=False),
        sa.Column("variant", sa.String(length=200), nullable=False),
        sa.Column("profile_id", _ID, nullable=True),
        sa.Column("anonymous_id", sa.String(length=255), nullable=True),
        sa.Column("user_id", sa.String(length=255), nullable=True),
        sa.Column("propensity", sa.Float(), nullable=False),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("workspace_id", "experiment_id", "unit_id"),
    )
    with op.batch_alter_table("exposure", schema=None) as batch_op:
        batch_op.create_index("ix_exposure_profile", ["workspace_id", "profile_id"], unique=False)
        batch_op.create_index(
            "ix_exposure_anonymous", ["workspace_id", "anonymous_id"], unique=False
        )
        batch_op.create_index("ix_exposure_user", ["workspace_id", "user_id"], unique=False)
        batch_op.create_index(
            "ix_exposure_at", ["workspace_id", "experiment_id", "at"], unique=False
        )

    op.create_table(
        "experiment_allocation",
        sa.Column("workspace_id", _ID, nullable=False),
        sa.Column("experiment_id", _ID, nullable=False),
        sa.Column("weights", _JSON, nullable=False),
        sa.Column("computed_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("workspace_id", "experiment_id"),
    )


def downgrade() -> None:
    for table in ("experiment_allocation", "exposure", "experiment_revision", "experiment"):
        op.drop_table(table)
