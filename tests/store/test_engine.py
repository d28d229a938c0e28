"""Connection settings the SQLite store relies on."""

from __future__ import annotations

from pathlib import Path

from unico.store.engine import Store


def _pragma(store: Store, name: str) -> int:
    with store.read() as conn:
        return int(conn.exec_driver_sql(f"PRAGMA {name}").scalar_one())


def test_sqlite_reads_through_a_memory_map_when_asked(tmp_path: Path) -> None:
    mapped = Store(f"sqlite:///{tmp_path / 'mapped.db'}", sqlite_mmap_mib=64)
    plain = Store(f"sqlite:///{tmp_path / 'plain.db'}")
    try:
        assert _pragma(mapped, "mmap_size") == 64 * 2**20
        assert _pragma(plain, "mmap_size") == 0
        mapped.upgrade()
        with mapped.write() as conn:
            conn.exec_driver_sql("CREATE TABLE t (x INTEGER)")
            conn.exec_driver_sql("INSERT INTO t VALUES (1), (2)")
        with mapped.read() as conn:
            assert conn.exec_driver_sql("SELECT sum(x) FROM t").scalar_one() == 3
    finally:
        mapped.dispose()
        plain.dispose()
