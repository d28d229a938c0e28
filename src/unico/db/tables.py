"""Every context's tables on one `MetaData`: what Alembic and the schema test compare."""

from __future__ import annotations

from unico.db import decide_schema, experiments_schema, segments_schema
from unico.db.schema import metadata

__all__ = ["decide_schema", "experiments_schema", "metadata", "segments_schema"]
