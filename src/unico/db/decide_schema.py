"""Tables of the catalog, recommend and decide contexts (same conventions as `schema`)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    String,
    Table,
    Text,
    text,
)

from unico.db.schema import Id, Json, Serial, metadata

__all__ = ["metadata"]


# -- decide context tables (placements, decision log, outcomes) --

#: The conditions of the decision log's partial indexes (see `decision`).
KNOWN = "profile_id IS NOT NULL"
UNKNOWN_ANONYMOUS = "profile_id IS NULL AND anonymous_id IS NOT NULL"
UNKNOWN_USER = "profile_id IS NULL AND user_id IS NOT NULL"


def _where(condition: str) -> dict[str, Any]:
    """A partial index's condition, for both stores."""
    return {"sqlite_where": text(condition), "postgresql_where": text(condition)}


#: A named slot on a page, in an email...: its strategy, size, rules and default.
placement = Table(
    "placement",
    metadata,
    Column("workspace_id", Id, primary_key=True),
    Column("name", String(64), primary_key=True),
    Column("spec", Json, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
)

#: One row per workspace, bumped by every placement change: the version decisions check.
placement_revision = Table(
    "placement_revision",
    metadata,
    Column("workspace_id", Id, primary_key=True),
    Column("revision", BigInteger, nullable=False),
)

#: Every decision served, with each shown item's position, score and propensity.
decision = Table(
    "decision",
    metadata,
    Column("workspace_id", Id, primary_key=True),
    Column("decision_id", String(64), primary_key=True),
    Column("placement", String(64), nullable=False),
    Column("profile_id", Id),
    Column("anonymous_id", String(255)),
    Column("user_id", String(255)),
    Column("strategy", String(32), nullable=False),
    Column("is_default", Boolean, nullable=False),
    Column("items", Json, nullable=False),
    Column("context", Json, nullable=False),
    Column("explanation", Json, nullable=False),
    Column("at", BigInteger, nullable=False),
    # What erasure looks rows up by. Rows are written for every placement of every decision
    # in time order, while these keys come in random order: each key indexed costs a page
    # written per row. So a known person's rows are found by profile only (erasure passes
    # the merged profiles too), and the ids a request named only where no profile was found.
    Index("ix_decision_profile", "workspace_id", "profile_id", **_where(KNOWN)),
    Index("ix_decision_anonymous", "workspace_id", "anonymous_id", **_where(UNKNOWN_ANONYMOUS)),
    Index("ix_decision_user", "workspace_id", "user_id", **_where(UNKNOWN_USER)),
)

#: What became of decisions: impressions (``Placement Viewed``) and clicks
#: (``Placement Clicked``), one row per item.
decision_outcome = Table(
    "decision_outcome",
    metadata,
    Column("id", Serial, primary_key=True, autoincrement=True),
    Column("workspace_id", Id, nullable=False),
    Column("decision_id", String(64), nullable=False),
    Column("placement", String(64)),
    Column("kind", String(16), nullable=False),
    Column("item_id", String(255), nullable=False),
    Column("position", Integer),
    Column("profile_id", Id),
    Column("message_id", String(255)),
    Column("at", BigInteger, nullable=False),
    Index("ix_decision_outcome_decision", "workspace_id", "decision_id"),
    Index("ix_decision_outcome_profile", "workspace_id", "profile_id", "at"),
)


# -- catalog context tables (items, catalog versions, interactions) --

#: Products, content, offers and promotions. A deleted item stays as a tombstone
#: (``deleted``) so that snapshots can drop it incrementally and events do not bring it back.
item = Table(
    "item",
    metadata,
    Column("workspace_id", Id, primary_key=True),
    Column("item_id", String(255), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("title", Text, nullable=False),
    Column("url", Text),
    Column("image", Text),
    Column("price", Float),
    Column("currency", String(3)),
    #: The path as a JSON list, and as "A > B" text for prefix filters.
    Column("category", Json, nullable=False),
    Column("category_path", Text, nullable=False),
    Column("brand", String(255)),
    Column("tags", Json, nullable=False),
    Column("attributes", Json, nullable=False),
    Column("language", String(35)),
    Column("valid_from", BigInteger),
    Column("valid_until", BigInteger),
    Column("in_stock", Boolean, nullable=False),
    Column("stock", BigInteger),
    Column("value", Float),
    Column("updated_at", BigInteger, nullable=False),
    Column("deleted", Boolean, nullable=False),
    #: The catalog version that last changed the row: snapshots reload only newer rows.
    Column("version", BigInteger, nullable=False),
    Index("ix_item_version", "workspace_id", "version"),
    Index("ix_item_category", "workspace_id", "category_path"),
)

#: One row per workspace, bumped by every catalog change (any process): what snapshots check.
catalog_version = Table(
    "catalog_version",
    metadata,
    Column("workspace_id", Id, primary_key=True),
    Column("version", BigInteger, nullable=False),
)

#: Implicit feedback: who viewed, clicked, carted or bought which item, and when.
interaction = Table(
    "interaction",
    metadata,
    Column("id", Serial, primary_key=True, autoincrement=True),
    Column("workspace_id", Id, nullable=False),
    Column("profile_id", Id, nullable=False),
    Column("item_id", String(255), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("weight", Float, nullable=False),
    Column("at", BigInteger, nullable=False),
    Index("ix_interaction_profile", "workspace_id", "profile_id", "at"),
    Index("ix_interaction_ws_id", "workspace_id", "id"),
)
