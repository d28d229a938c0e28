"""The database underneath every context: the engine and its per-thread read connections
(`engine`), the table definitions (`schema`, `*_schema`, `tables`), Alembic migrations,
bulk writes and the queued writer. It imports nothing of Unico's but ``core``; the SQL
adapters that implement the contexts' store protocols sit above it, in ``unico.store``."""
