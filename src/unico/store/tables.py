"""Every context's tables on one `MetaData`: what Alembic and the schema test compare."""

from __future__ import annotations

from unico.store import decide_schema, experiments_schema, segments_schema
from unico.store.schema import metadata

__all__ = ["decide_schema", "experiments_schema", "metadata", "segments_schema"]
