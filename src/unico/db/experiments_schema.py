"""Tables of the experiments context: definitions, their revision, exposures and bandit
allocations (same conventions as `schema`)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Float, Index, Integer, String, Table

from unico.db.schema import Id, Json, metadata

__all__ = ["metadata"]

#: An experiment: its spec (variants, weights, metrics, layer...), status and times.
experiment = Table(
    "experiment",
    metadata,
    Column("workspace_id", Id, primary_key=True),
    Column("experiment_id", Id, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("status", String(16), nullable=False),
    Column("layer", String(64)),
    #: First and last layer bucket held (inclusive), while the experiment is running.
    Column("bucket_start", Integer),
    Column("bucket_end", Integer),
    Column("spec", Json, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Column("started_at", BigInteger),
    Column("stopped_at", BigInteger),
    Index("ix_experiment_status", "workspace_id", "status"),
)

#: One row per workspace, bumped by every experiment change: what decision caches check.
experiment_revision = Table(
    "experiment_revision",
    metadata,
    Column("workspace_id", Id, primary_key=True),
    Column("revision", BigInteger, nullable=False),
)

#: The first exposure of each unit (profile id, else anonymous id) to an experiment.
exposure = Table(
    "exposure",
    metadata,
    Column("workspace_id", Id, primary_key=True),
    Column("experiment_id", Id, primary_key=True),
    Column("unit_id", String(255), primary_key=True),
    Column("variant", String(200), nullable=False),
    Column("profile_id", Id),
    Column("anonymous_id", String(255)),
    Column("user_id", String(255)),
    #: The chance this unit had of getting its variant (bandits change it over time).
    Column("propensity", Float, nullable=False),
    Column("at", BigInteger, nullable=False),
    Index("ix_exposure_profile", "workspace_id", "profile_id"),
    Index("ix_exposure_anonymous", "workspace_id", "anonymous_id"),
    Index("ix_exposure_user", "workspace_id", "user_id"),
    Index("ix_exposure_at", "workspace_id", "experiment_id", "at"),
)

#: A bandit experiment's current variant weights, recomputed from its conversions.
experiment_allocation = Table(
    "experiment_allocation",
    metadata,
    Column("workspace_id", Id, primary_key=True),
    Column("experiment_id", Id, primary_key=True),
    Column("weights", Json, nullable=False),
    Column("computed_at", BigInteger, nullable=False),
)
