"""The tables of the core contexts, in SQLAlchemy Core.

Times are epoch milliseconds (BIGINT) on every backend: portable, compact and
cheap to compare. JSON columns are JSONB on PostgreSQL. Every table carries
``workspace_id`` first in its keys so that no query can cross workspaces by accident.
The Alembic migrations create exactly these tables; a test compares the two.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)
from sqlalchemy.dialects.postgresql import JSONB

metadata = MetaData()

Json = JSON().with_variant(JSONB(), "postgresql")
Id = String(64)
#: An auto-incrementing BIGINT key (INTEGER on SQLite, where only that type autoincrements).
Serial = BigInteger().with_variant(Integer, "sqlite")

workspace = Table(
    "workspace",
    metadata,
    Column("workspace_id", Id, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("settings", Json, nullable=False),
    Column("created_at", BigInteger, nullable=False),
)

api_key = Table(
    "api_key",
    metadata,
    Column("key_hash", String(64), primary_key=True),
    Column("workspace_id", Id, nullable=False, index=True),
    Column("kind", String(16), nullable=False),
    Column("prefix", String(16), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("revoked_at", BigInteger),
)

profile = Table(
    "profile",
    metadata,
    Column("workspace_id", Id, primary_key=True),
    Column("profile_id", Id, primary_key=True),
    Column("traits", Json, nullable=False),
    Column("trait_times", Json, nullable=False),
    Column("computed", Json, nullable=False),
    Column("soft", Json, nullable=False),
    Column("consent", Json, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Column("first_seen", BigInteger),
    Column("last_seen", BigInteger),
    Column("merged_into", Id),
    Index("ix_profile_last_seen", "workspace_id", "last_seen"),
    Index("ix_profile_merged_into", "workspace_id", "merged_into"),
)

identity = Table(
    "identity",
    metadata,
    Column("workspace_id", Id, primary_key=True),
    Column("kind", String(64), primary_key=True),
    Column("value", String(512), primary_key=True),
    Column("profile_id", Id, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Index("ix_identity_profile", "workspace_id", "profile_id"),
)

profile_merge = Table(
    "profile_merge",
    metadata,
    Column("id", Serial, primary_key=True, autoincrement=True),
    Column("workspace_id", Id, nullable=False),
    Column("from_profile", Id, nullable=False),
    Column("into_profile", Id, nullable=False),
    Column("at", BigInteger, nullable=False),
    Column("reason", String(64), nullable=False),
    Column("message_id", String(255)),
    Index("ix_profile_merge_into", "workspace_id", "into_profile"),
)

consent_log = Table(
    "consent_log",
    metadata,
    Column("id", Serial, primary_key=True, autoincrement=True),
    Column("workspace_id", Id, nullable=False),
    Column("profile_id", Id, nullable=False),
    Column("purpose", String(32), nullable=False),
    Column("granted", Boolean, nullable=False),
    Column("at", BigInteger, nullable=False),
    Column("source", String(64), nullable=False),
    Column("message_id", String(255)),
    Index("ix_consent_log_profile", "workspace_id", "profile_id"),
)

suppression = Table(
    "suppression",
    metadata,
    Column("workspace_id", Id, primary_key=True),
    Column("hash", String(64), primary_key=True),
    Column("created_at", BigInteger, nullable=False),
)

message = Table(
    "message",
    metadata,
    Column("workspace_id", Id, primary_key=True),
    Column("message_id", String(255), primary_key=True),
    Column("received_at", BigInteger, nullable=False),
)

event = Table(
    "event",
    metadata,
    Column("id", Serial, primary_key=True, autoincrement=True),
    Column("workspace_id", Id, nullable=False),
    Column("message_id", String(255), nullable=False),
    Column("type", String(16), nullable=False),
    Column("name", String(255)),
    Column("anonymous_id", String(255)),
    Column("user_id", String(255)),
    #: group's groupId and alias's previousId
    Column("group_id", String(255)),
    Column("previous_id", String(255)),
    Column("profile_id", Id),
    Column("timestamp", BigInteger, nullable=False),
    Column("received_at", BigInteger, nullable=False),
    Column("properties", Json, nullable=False),
    Column("traits", Json, nullable=False),
    Column("context", Json, nullable=False),
    Column("integrations", Json, nullable=False),
    Index("ix_event_profile", "workspace_id", "profile_id", "timestamp"),
)

event_aggregate = Table(
    "event_aggregate",
    metadata,
    Column("workspace_id", Id, primary_key=True),
    Column("day", Integer, primary_key=True),
    Column("type", String(16), primary_key=True),
    Column("name", String(255), primary_key=True),
    Column("profiled", Boolean, primary_key=True),
    Column("count", BigInteger, nullable=False),
)

dead_letter = Table(
    "dead_letter",
    metadata,
    Column("id", Serial, primary_key=True, autoincrement=True),
    Column("workspace_id", Id, nullable=False),
    Column("received_at", BigInteger, nullable=False),
    Column("code", String(64), nullable=False),
    Column("reason", Text, nullable=False),
    Column("field", String(255)),
    Column("payload", Text, nullable=False),
    Column("anonymous_id", String(255)),
    Column("user_id", String(255)),
    Index("ix_dead_letter_ws", "workspace_id", "id"),
)
