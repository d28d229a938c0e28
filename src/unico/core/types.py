"""Type aliases shared by every context."""

from __future__ import annotations

from typing import Any, NewType, TypeAlias

WorkspaceId = NewType("WorkspaceId", str)
ProfileId = NewType("ProfileId", str)

JSON: TypeAlias = Any
JSONObject: TypeAlias = dict[str, Any]

#: Milliseconds since the Unix epoch, UTC. Every stored time is one of these.
EpochMs: TypeAlias = int
