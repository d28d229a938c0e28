"""Experiment tests run with the decide tests' settings: every change seen at once (no
cache delay), no exploration, training and tailing only when a test asks."""

from __future__ import annotations

from tests.decide.conftest import settings

__all__ = ["settings"]
