"""What a training run leaves: each model's status, and the snapshot of a workspace's
models that decisions serve and the shelf shares between processes.

>>> Fitted().trained, ModelStatus("als", False).view()["trained_at"] is None
(False, True)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from unico.core.clock import to_iso
from unico.recommend.base import Recommender


@dataclass(frozen=True, slots=True)
class ModelStatus:
    name: str
    fitted: bool
    trained_at: int | None = None
    rows: int = 0
    users: int = 0
    items: int = 0
    duration_ms: float = 0.0
    error: str | None = None

    def view(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "fitted": self.fitted,
            "trained_at": to_iso(self.trained_at),
            "rows": self.rows,
            "users": self.users,
            "items": self.items,
            "duration_ms": round(self.duration_ms, 1),
            "error": self.error,
        }


@dataclass(frozen=True)
class Fitted:
    """One workspace's models after a training run (or the real-time models' empty start,
    with no status): replaced whole, never changed."""

    models: Mapping[str, Recommender] = field(default_factory=dict)
    status: Mapping[str, ModelStatus] = field(default_factory=dict)
    #: The run's cut: the newest interaction row id it learnt from.
    trained_row_id: int = 0
    #: Row ids within ``lookback`` of ``trained_row_id`` already seen (PostgreSQL's tail).
    seen: frozenset[int] = frozenset()
    #: The catalog's item ids when the run read it ("new items since" compares with them).
    items: frozenset[str] = frozenset()

    @property
    def trained(self) -> bool:
        """Whether a training run made these models."""
        return bool(self.status)
