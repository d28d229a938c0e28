"""Fixtures shared by every test: both stores, a container, an app client, a workspace.

Every store test runs on SQLite and on PostgreSQL. PostgreSQL comes from
``UNICO_TEST_POSTGRES_URL`` (``make test`` and ``.ci/run`` set it); each test session
creates its own database there and drops it at the end. If the variable is set and the
server is unreachable, the tests fail: they never silently skip a store.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, make_url, text

from unico.container import Container
from unico.core.clock import ManualClock
from unico.core.settings import Settings, load_settings
from unico.web.app import create_app
from unico.workspaces.model import CreatedWorkspace

#: 2026-01-15T10:00:00Z: tests run on a clock they control.
T0 = 1_768_471_200_000
POSTGRES_ENV = "UNICO_TEST_POSTGRES_URL"
BACKENDS = ["sqlite", "postgres"]


def _postgres_admin_url() -> str | None:
    return os.environ.get(POSTGRES_ENV) or None


@contextmanager
def temporary_postgres_database(prefix: str) -> Iterator[str]:
    """A new PostgreSQL database on ``UNICO_TEST_POSTGRES_URL``, dropped on exit. Skips when
    the variable is unset; fails (never skips) when the server is unreachable."""
    admin = _postgres_admin_url()
    if admin is None:
        pytest.skip(f"{POSTGRES_ENV} is not set (make test sets it): PostgreSQL tests not run")
    name = f"{prefix}_{os.getpid()}_{secrets.token_hex(4)}"
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # fail loudly: an unreachable store is a broken run
        pytest.fail(f"PostgreSQL at {admin} is unreachable: {exc}", pytrace=False)
    try:
        yield make_url(admin).set(database=name).render_as_string(hide_password=False)
    finally:
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this session, dropped afterwards."""
    with temporary_postgres_database("unico_test") as url:
        yield url


@pytest.fixture(scope="session")
def migrated_urls() -> dict[str, str]:
    """backend -> database URL, filled once per session as backends are first used."""
    return {}


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def database_url(
    backend: str, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> str:
    """The session's database for this backend, migrated once. Tests share it and isolate by
    workspace (no query crosses workspaces, which the tests thereby also exercise)."""
    cache: dict[str, str] = request.getfixturevalue("migrated_urls")
    if backend not in cache:
        if backend == "sqlite":
            url = f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'unico.db'}"
        else:
            url = request.getfixturevalue("postgres_url")
        container = Container.build(load_settings(database_url=url))
        container.store.upgrade()
        container.store.dispose()
        cache[backend] = url
    return cache[backend]


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def settings(database_url: str) -> Settings:
    # No model tail: tests share one database per session, and a container's tail watches
    # (and, once a test moves its clock, trains) every workspace with placements in it.
    # Tests of real-time models drive the tail themselves (tests/decide).
    return load_settings(
        database_url=database_url, auto_migrate=False, key_cache_seconds=0, decide_tail_ms=0
    )


@pytest.fixture
def container(settings: Settings, clock: ManualClock) -> Iterator[Container]:
    c = Container.build(settings, clock)
    yield c
    c.ingestor.stop()
    c.store.dispose()


@pytest.fixture
def client(container: Container) -> Iterator[TestClient]:
    with TestClient(create_app(container), raise_server_exceptions=False) as c:
        yield c


@dataclass
class Workspace:
    """A workspace of the test's own, with helpers to call the API as it."""

    created: CreatedWorkspace
    client: TestClient

    @property
    def id(self) -> str:
        return self.created.workspace_id

    @property
    def admin(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.created.secret_key}"}

    def send(self, kind: str, body: object, **kwargs: Any) -> httpx2.Response:
        """POST to ``/v1/{kind}`` with the write key as Basic user, as Segment clients do."""
        return self.client.post(
            f"/v1/{kind}", json=body, auth=(self.created.write_key, ""), **kwargs
        )

    def profile(self, ref: str) -> httpx2.Response:
        return self.client.get(f"/v1/profiles/{ref}", headers=self.admin)


@pytest.fixture
def ws(container: Container, client: TestClient) -> Workspace:
    return Workspace(container.workspaces.create(f"test-{secrets.token_hex(3)}"), client)


@pytest.fixture
def tmp_sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'unico.db'}"
