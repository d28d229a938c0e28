"""The catalog service: items in, snapshots out.

>>> # catalog.upsert(ws, [{"id": "sku-1", "title": "Trail shoe", "price": 89}])
>>> # catalog.snapshot(ws).items["sku-1"].price
>>> # 89.0
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from unico.catalog.importer import (
    Format,
    ImportReport,
    Rejected,
    Row,
    format_of,
    parse_rows,
)
from unico.catalog.model import Item
from unico.catalog.snapshot import CatalogSnapshot
from unico.catalog.store import CatalogStore
from unico.catalog.validation import category_path, item_from_json
from unico.core.clock import Clock
from unico.core.errors import InvalidInput, NotFound
from unico.core.types import EpochMs
from unico.db.engine import Store

MAX_PAGE = 500
#: Rows per import transaction.
IMPORT_CHUNK = 1000
#: How often (ms) a snapshot asks the store whether the catalog changed.
REFRESH_MS = 200

#: ``progress(rows_done, rows_total)`` during an import.
Progress = Callable[[int, int], None]


@dataclass(frozen=True, slots=True)
class ItemPage:
    items: list[Item]
    next_cursor: str | None


def _last_wins(items: Sequence[Item]) -> list[Item]:
    return list({it.item_id: it for it in items}.values())


class CatalogService:
    """Items of each workspace, validated, stored, and served from cached snapshots.

    ``snapshot`` is what decisions call on every request: it returns the cached snapshot
    unless ``refresh_ms`` passed since it last asked the store for the workspace's catalog
    version (one primary-key read) or this process itself changed the catalog. A change
    made by another process (the SQLite writer process, another server) is therefore seen
    within ``refresh_ms``; only the changed rows are read again.
    """

    def __init__(
        self, store: Store, items: CatalogStore, clock: Clock, *, refresh_ms: int = REFRESH_MS
    ) -> None:
        self.store = store
        self.items = items
        self.clock = clock
        self.refresh_ms = refresh_ms
        #: workspace -> (snapshot, when the version was last checked)
        self._cache: dict[str, tuple[CatalogSnapshot, int]] = {}
        #: workspace -> the newest version this process wrote (maybe not committed yet)
        self._written: dict[str, int] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    # -- writes --------------------------------------------------------------------------

    def upsert(self, workspace_id: str, items: list[Any]) -> dict[str, int]:
        """Validate every item, then store them all in one transaction (or none: the error
        names the item and field, ``items[3].price``). A repeated id: the last one wins."""
        now = self.clock.now_ms()
        valid = [item_from_json(d, now, f"items[{i}]") for i, d in enumerate(items)]
        self.write(workspace_id, valid)
        return {"upserted": len(valid)}

    def write(self, workspace_id: str, items: Sequence[Item]) -> None:
        """Store validated items in one transaction and bump the catalog version."""
        if not items:
            return
        with self.store.write() as conn:
            version = self.items.bump(conn, workspace_id)
            self.items.write_items(conn, workspace_id, _last_wins(items), version)
        self.wrote(workspace_id, version)

    def delete(self, workspace_id: str, item_id: str) -> None:
        """Delete an item. It stays deleted for ingested events; an upsert brings it back."""
        with self.store.write() as conn:
            version = self.items.bump(conn, workspace_id)
            if not self.items.mark_deleted(
                conn, workspace_id, item_id, version, self.clock.now_ms()
            ):
                raise NotFound(f"no item {item_id!r}", field="id")  # rolls the bump back
        self.wrote(workspace_id, version)

    def wrote(self, workspace_id: str, version: int) -> None:
        """This process wrote catalog ``version``: the next snapshot reads it."""
        with self._guard:
            self._written[workspace_id] = max(version, self._written.get(workspace_id, 0))

    def forget_writes(self, workspace_ids: Sequence[str]) -> None:
        """Writes announced with `wrote` were rolled back: stop waiting for them."""
        with self._guard:
            for workspace_id in workspace_ids:
                self._written.pop(workspace_id, None)

    # -- reads ---------------------------------------------------------------------------

    def get(self, workspace_id: str, item_id: str) -> Item:
        with self.store.read() as conn:
            found = self.items.get(conn, workspace_id, item_id)
        if found is None:
            raise NotFound(f"no item {item_id!r}", field="id")
        return found

    def list(
        self,
        workspace_id: str,
        limit: int = 50,
        cursor: str | None = None,
        category: str | None = None,
    ) -> ItemPage:
        """A page of items in id order, optionally under a category (``"Shoes > Running"``:
        that category and the ones below it); ``next_cursor`` fetches the next page."""
        limit = max(1, min(limit, MAX_PAGE))
        try:
            path = tuple(category_path(category))
        except ValueError as exc:
            raise InvalidInput(str(exc), field="category") from None
        with self.store.read() as conn:
            rows = self.items.page(conn, workspace_id, limit=limit + 1, after=cursor, category=path)
        page = rows[:limit]
        return ItemPage(page, page[-1].item_id if len(rows) > limit else None)

    def snapshot(self, workspace_id: str) -> CatalogSnapshot:
        """The workspace's catalog as an immutable in-memory view (microseconds when cached)."""
        entry = self._cache.get(workspace_id)
        if entry is not None:
            snap, checked = entry
            age = self.clock.now_ms() - checked
            if 0 <= age < self.refresh_ms and snap.version >= self._written.get(workspace_id, 0):
                return snap
        return self._refresh(workspace_id)

    def _refresh(self, workspace_id: str) -> CatalogSnapshot:
        with self._guard:
            lock = self._locks.setdefault(workspace_id, threading.Lock())
        with lock:  # one refresh per workspace at a time; the others then reuse it
            now = self.clock.now_ms()
            entry = self._cache.get(workspace_id)
            written = self._written.get(workspace_id, 0)
            if entry is not None and entry[1] == now and entry[0].version >= written:
                return entry[0]
            with self.store.read() as conn:
                version = self.items.version(conn, workspace_id)
                if entry is not None and entry[0].version == version:
                    snap = entry[0]
                elif entry is not None and entry[0].version < version:
                    changes = self.items.changed_since(conn, workspace_id, entry[0].version)
                    snap = entry[0].apply(changes, version)
                else:
                    found = self.items.changed_since(conn, workspace_id, 0)
                    snap = CatalogSnapshot.build((it for it, _ in found), version)
            self._cache[workspace_id] = (snap, now)
            return snap

    # -- imports -------------------------------------------------------------------------

    def import_file(
        self, workspace_id: str, path: Path | str, progress: Progress | None = None
    ) -> ImportReport:
        """Import a .csv, .json, .jsonl or .ndjson file (see `unico.catalog.importer`)."""
        path = Path(path)
        try:
            fmt = format_of(path)
        except ValueError as exc:
            raise InvalidInput(str(exc), field="file") from None
        try:
            text = path.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            raise InvalidInput(f"cannot read {path}: {exc}", field="file") from None
        return self.import_text(workspace_id, text, fmt, progress)

    def import_text(
        self, workspace_id: str, text: str, fmt: Format, progress: Progress | None = None
    ) -> ImportReport:
        """Import items in transactions of `IMPORT_CHUNK` rows; bad rows are reported with
        their line (or index) and field, and the good ones are kept."""
        rows = list(parse_rows(text, fmt))
        report = ImportReport(rows=len(rows))
        for start in range(0, len(rows), IMPORT_CHUNK):
            chunk = rows[start : start + IMPORT_CHUNK]
            good = _validate(chunk, report, self.clock.now_ms())
            self.write(workspace_id, good)
            report.imported += len(good)
            if progress is not None:
                progress(min(start + IMPORT_CHUNK, len(rows)), len(rows))
        return report


def _validate(rows: list[Row], report: ImportReport, now: EpochMs) -> list[Item]:
    """The valid rows as items; the others go to the report."""
    good: list[Item] = []
    for row in rows:
        if row.problem is not None:
            report.rejected.append(row.problem)
            continue
        try:
            good.append(item_from_json(row.data, now))
        except InvalidInput as exc:
            field = exc.field
            if row.index is not None:
                field = f"items[{row.index}].{field}" if field else f"items[{row.index}]"
            report.rejected.append(Rejected(row.line, field, exc.message, row.index))
    return good
