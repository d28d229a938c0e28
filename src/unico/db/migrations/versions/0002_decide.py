"""Catalog, recommend and decide tables.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    _decide_upgrade()
    _catalog_upgrade()


def downgrade() -> None:
    _catalog_downgrade()
    _decide_downgrade()


# -- decide context migration (placements, decision log, outcomes) --
def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def _decide_upgrade() -> None:
    op.create_table(
        "placement",
        sa.Column("workspace_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("spec", _json(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("workspace_id", "name"),
    )
    op.create_table(
        "placement_revision",
        sa.Column("workspace_id", sa.String(length=64), nullable=False),
        sa.Column("revision", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("workspace_id"),
    )
    op.create_table(
        "decision",
        sa.Column("workspace_id", sa.String(length=64), nullable=False),
        sa.Column("decision_id", sa.String(length=64), nullable=False),
        sa.Column("placement", sa.String(length=64), nullable=False),
        sa.Column("profile_id", sa.String(length=64), nullable=True),
        sa.Column("anonymous_id", sa.String(length=255), nullable=True),
        sa.Column("user_id", sa.String(length=255), nullable=True),
        sa.Column("strategy", sa.String(length=32), nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("items", _json(), nullable=False),
        sa.Column("context", _json(), nullable=False),
        sa.Column("explanation", _json(), nullable=False),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("workspace_id", "decision_id"),
    )
    with op.batch_alter_table("decision", schema=None) as batch_op:
        batch_op.create_index("ix_decision_profile", ["workspace_id", "profile_id"])
        batch_op.create_index("ix_decision_anonymous", ["workspace_id", "anonymous_id"])
        batch_op.create_index("ix_decision_user", ["workspace_id", "user_id"])
    op.create_table(
        "decision_outcome",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("workspace_id", sa.String(length=64), nullable=False),
        sa.Column("decision_id", sa.String(length=64), nullable=False),
        sa.Column("placement", sa.String(length=64), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("item_id", sa.String(length=255), nullable=False),
        sa.Column("position", sa.Integer(), nullable=True),
        sa.Column("profile_id", sa.String(length=64), nullable=True),
        sa.Column("message_id", sa.String(length=255), nullable=True),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("decision_outcome", schema=None) as batch_op:
        batch_op.create_index("ix_decision_outcome_decision", ["workspace_id", "decision_id"])
        batch_op.create_index("ix_decision_outcome_profile", ["workspace_id", "profile_id", "at"])


def _decide_downgrade() -> None:
    for table in ("decision_outcome", "decision", "placement_revision", "placement"):
        op.drop_table(table)


# -- catalog context migration (items, catalog versions, interactions) --
def _catalog_upgrade() -> None:
    op.create_table(
        "item",
        sa.Column("workspace_id", sa.String(length=64), nullable=False),
        sa.Column("item_id", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("url", sa.Text(), nullable=True),
        sa.Column("image", sa.Text(), nullable=True),
        sa.Column("price", sa.Float(), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("category", _json(), nullable=False),
        sa.Column("category_path", sa.Text(), nullable=False),
        sa.Column("brand", sa.String(length=255), nullable=True),
        sa.Column("tags", _json(), nullable=False),
        sa.Column("attributes", _json(), nullable=False),
        sa.Column("language", sa.String(length=35), nullable=True),
        sa.Column("valid_from", sa.BigInteger(), nullable=True),
        sa.Column("valid_until", sa.BigInteger(), nullable=True),
        sa.Column("in_stock", sa.Boolean(), nullable=False),
        sa.Column("stock", sa.BigInteger(), nullable=True),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("workspace_id", "item_id"),
    )
    with op.batch_alter_table("item", schema=None) as batch_op:
        batch_op.create_index("ix_item_version", ["workspace_id", "version"])
        batch_op.create_index("ix_item_category", ["workspace_id", "category_path"])
    op.create_table(
        "catalog_version",
        sa.Column("workspace_id", sa.String(length=64), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("workspace_id"),
    )
    op.create_table(
        "interaction",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("workspace_id", sa.String(length=64), nullable=False),
        sa.Column("profile_id", sa.String(length=64), nullable=False),
        sa.Column("item_id", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("weight", sa.Float(), nullable=False),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("interaction", schema=None) as batch_op:
        batch_op.create_index("ix_interaction_profile", ["workspace_id", "profile_id", "at"])
        batch_op.create_index("ix_interaction_ws_id", ["workspace_id", "id"])


def _catalog_downgrade() -> None:
    for table in ("interaction", "catalog_version", "item"):
        op.drop_table(table)
