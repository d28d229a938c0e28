"""The Alembic migrations build exactly the tables `unico.db.schema` describes."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from unico.db.engine import Store
from unico.db.tables import metadata


def test_migrations_match_the_schema(fresh_url: str) -> None:
    store = Store(fresh_url)
    try:
        with store.read() as conn:
            assert inspect(conn).get_table_names() == []
        store.upgrade()
        with store.read() as conn:
            context = MigrationContext.configure(
                conn, opts={"compare_type": True, "compare_server_default": True}
            )
            assert compare_metadata(context, metadata) == []
            tables = set(inspect(conn).get_table_names())
            assert context.get_current_revision() is not None
        assert tables == set(metadata.tables) | {"alembic_version"}
        store.upgrade()  # a second run is a no-op
    finally:
        store.dispose()
