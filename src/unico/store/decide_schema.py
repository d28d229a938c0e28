"""Tables of the catalog, recommend and decide contexts (same conventions as `schema`)."""

from __future__ import annotations

from unico.store.schema import metadata

__all__ = ["metadata"]
