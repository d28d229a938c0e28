from __future__ import annotations

from collections.abc import Iterator

import pytest

from unico.container import Container
from unico.core.clock import ManualClock
from unico.core.settings import load_settings
from unico.workspaces.model import CreatedWorkspace

#: How long a submission waits for its commit in the impatient container.
TIMEOUT_SECONDS = 0.3


@pytest.fixture
def impatient(database_url: str, clock: ManualClock) -> Iterator[Container]:
    """A started container whose requests give up waiting for a commit after 0.3 s."""
    settings = load_settings(
        database_url=database_url,
        auto_migrate=False,
        key_cache_seconds=0,
        ingest_timeout_seconds=TIMEOUT_SECONDS,
    )
    container = Container.build(settings, clock)
    container.start()
    try:
        yield container
    finally:
        container.stop()


@pytest.fixture
def workspace(container: Container) -> CreatedWorkspace:
    return container.workspaces.create("collect-test")


@pytest.fixture
def running(container: Container) -> Container:
    """The shared test container with its ingest writer started (the fixture stops it)."""
    container.ingestor.start()
    return container
