"""Workspaces (tenants) and their API keys."""

from __future__ import annotations

import threading
import time
from typing import Any

from sqlalchemy import select, update

from unico.core.clock import Clock
from unico.core.errors import InvalidInput, NotFound
from unico.core.ids import new_id, new_key
from unico.db.engine import Store
from unico.db.schema import api_key, workspace
from unico.workspaces.model import (
    KEY_PREFIX,
    CreatedWorkspace,
    KeyKind,
    Principal,
    Workspace,
    WorkspaceSettings,
    hash_key,
)


class WorkspaceService:
    """Create workspaces, resolve API keys, read and change settings.

    >>> # created = service.create("Demo shop"); service.authenticate(created.write_key)
    """

    def __init__(self, store: Store, clock: Clock, *, cache_seconds: float = 30.0) -> None:
        self.store = store
        self.clock = clock
        self.cache_seconds = cache_seconds
        self._keys: dict[str, tuple[float, Principal | None]] = {}
        self._workspaces: dict[str, tuple[float, Workspace]] = {}
        self._lock = threading.Lock()

    def create(self, name: str, settings: WorkspaceSettings | None = None) -> CreatedWorkspace:
        name = name.strip()
        if not name or len(name) > 200:
            raise InvalidInput("a workspace name is 1 to 200 characters", field="name")
        now = self.clock.now_ms()
        workspace_id = new_id("ws_", now)
        keys = {kind: new_key(prefix) for kind, prefix in KEY_PREFIX.items()}
        with self.store.write() as conn:
            conn.execute(
                workspace.insert().values(
                    workspace_id=workspace_id,
                    name=name,
                    settings=(settings or WorkspaceSettings()).model_dump(),
                    created_at=now,
                )
            )
            conn.execute(
                api_key.insert(),
                [
                    {
                        "key_hash": hash_key(key),
                        "workspace_id": workspace_id,
                        "kind": kind,
                        "prefix": key[:7],
                        "created_at": now,
                    }
                    for kind, key in keys.items()
                ],
            )
        return CreatedWorkspace(workspace_id, name, keys["write"], keys["secret"])

    def authenticate(self, key: str) -> Principal | None:
        """The principal behind a key, or None for an unknown or revoked key (cached briefly)."""
        digest = hash_key(key)
        now = time.monotonic()
        cached = self._keys.get(digest)
        if cached is not None and now - cached[0] < self.cache_seconds:
            return cached[1]
        with self.store.read() as conn:
            row = conn.execute(
                select(api_key.c.workspace_id, api_key.c.kind).where(
                    api_key.c.key_hash == digest, api_key.c.revoked_at.is_(None)
                )
            ).first()
        principal = None if row is None else Principal(row.workspace_id, row.kind)
        with self._lock:
            if len(self._keys) > 10_000:
                self._keys.clear()
            self._keys[digest] = (now, principal)
        return principal

    def get(self, workspace_id: str) -> Workspace:
        now = time.monotonic()
        cached = self._workspaces.get(workspace_id)
        if cached is not None and now - cached[0] < self.cache_seconds:
            return cached[1]
        with self.store.read() as conn:
            row = conn.execute(
                select(workspace).where(workspace.c.workspace_id == workspace_id)
            ).first()
        if row is None:
            raise NotFound(f"no workspace {workspace_id}", field="workspace_id")
        found = Workspace(
            row.workspace_id,
            row.name,
            WorkspaceSettings.model_validate(row.settings),
            row.created_at,
        )
        self._workspaces[workspace_id] = (now, found)
        return found

    def update_settings(self, workspace_id: str, patch: dict[str, Any]) -> Workspace:
        current = self.get(workspace_id)
        merged = {**current.settings.model_dump(), **patch}
        settings = WorkspaceSettings.model_validate(merged)
        with self.store.write() as conn:
            conn.execute(
                update(workspace)
                .where(workspace.c.workspace_id == workspace_id)
                .values(settings=settings.model_dump())
            )
        self._workspaces.pop(workspace_id, None)
        return self.get(workspace_id)

    def list(self) -> list[Workspace]:
        with self.store.read() as conn:
            rows = conn.execute(select(workspace).order_by(workspace.c.created_at)).all()
        return [
            Workspace(
                r.workspace_id, r.name, WorkspaceSettings.model_validate(r.settings), r.created_at
            )
            for r in rows
        ]

    def rotate_key(self, workspace_id: str, kind: KeyKind) -> str:
        """Revoke the workspace's keys of ``kind`` and issue a new one."""
        self.get(workspace_id)
        now = self.clock.now_ms()
        key = new_key(KEY_PREFIX[kind])
        with self.store.write() as conn:
            conn.execute(
                update(api_key)
                .where(
                    api_key.c.workspace_id == workspace_id,
                    api_key.c.kind == kind,
                    api_key.c.revoked_at.is_(None),
                )
                .values(revoked_at=now)
            )
            conn.execute(
                api_key.insert().values(
                    key_hash=hash_key(key),
                    workspace_id=workspace_id,
                    kind=kind,
                    prefix=key[:7],
                    created_at=now,
                )
            )
        self._keys.clear()
        return key
