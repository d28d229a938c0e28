"""Experiment tests see every change at once (no cache delay) and no exploration."""

from __future__ import annotations

import pytest

from unico.core.settings import Settings, load_settings


@pytest.fixture
def settings(database_url: str) -> Settings:
    return load_settings(
        database_url=database_url,
        auto_migrate=False,
        key_cache_seconds=0,
        decide_train_minutes=0,
        decide_tail_ms=0,
        decide_epsilon=0,
        decide_placement_cache_seconds=0,
    )
