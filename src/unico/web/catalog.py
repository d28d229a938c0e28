"""The catalog admin API (secret key): upsert, list, read, delete and import items."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from starlette.concurrency import run_in_threadpool

from unico.catalog.importer import Format
from unico.core.errors import (
    InvalidInput,
    UnsupportedMediaType,
)
from unico.web.admin import Auth, Deps
from unico.web.body import read_body, read_json
from unico.web.responses import error_responses

router = APIRouter(
    tags=["catalog"],
    responses=error_responses(400, 401, 403, 404, 413, 415, 422, say={404: "Unknown item"}),
)

ItemId = Annotated[str, Path(min_length=1, max_length=255, description="The item's id.")]

#: Content-Type of an import -> the format it is read as.
IMPORT_TYPES: dict[str, Format] = {
    "text/csv": "csv",
    "application/csv": "csv",
    "application/json": "json",
    "application/x-ndjson": "jsonl",
    "application/jsonl": "jsonl",
    "application/jsonlines": "jsonl",
    "application/x-jsonlines": "jsonl",
}


@router.post("/v1/catalog/items", summary="Create or replace items")
async def upsert_items(request: Request, who: Auth, c: Deps) -> dict[str, int]:
    """A JSON list of items, or ``{"items": [...]}``. All or nothing: one invalid item
    refuses the request, naming it (``items[3].price``)."""
    body = await read_json(request, c.settings.catalog_max_body_bytes)
    items = body.get("items") if isinstance(body, dict) else body
    if not isinstance(items, list):
        raise InvalidInput('send a JSON list of items or {"items": [...]}', field="items")
    result: dict[str, int] = await run_in_threadpool(c.catalog.upsert, who.workspace_id, items)
    return result


@router.get("/v1/catalog/items", summary="List items (paged, by category)")
def list_items(
    who: Auth,
    c: Deps,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=255)] = None,
    category: Annotated[
        str | None, Query(max_length=2600, description='A category path: "Shoes > Running".')
    ] = None,
) -> dict[str, Any]:
    """Items in id order; ``category`` keeps that category and the ones below it."""
    page = c.catalog.list(who.workspace_id, limit, cursor, category)
    return {"items": [it.admin() for it in page.items], "next_cursor": page.next_cursor}


@router.get("/v1/catalog/items/{item_id:path}", summary="One item")
def get_item(item_id: ItemId, who: Auth, c: Deps) -> dict[str, Any]:
    return c.catalog.get(who.workspace_id, item_id).admin()


@router.delete("/v1/catalog/items/{item_id:path}", summary="Delete an item")
def delete_item(item_id: ItemId, who: Auth, c: Deps) -> dict[str, str]:
    """Decisions stop showing it at once; events about it no longer bring it back."""
    c.catalog.delete(who.workspace_id, item_id)
    return {"deleted": item_id}


@router.post("/v1/catalog/import", summary="Import a CSV, JSON or JSON-lines catalog")
async def import_items(request: Request, who: Auth, c: Deps) -> dict[str, Any]:
    """The format follows Content-Type: ``text/csv``, ``application/json`` (a list or
    ``{"items": [...]}``) or ``application/x-ndjson``. Good rows are imported even when
    others are rejected; the answer lists each rejected row's line (or index) and field."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    fmt = IMPORT_TYPES.get(media)
    if fmt is None:
        raise UnsupportedMediaType(
            "send text/csv, application/json or application/x-ndjson", field="content-type"
        )
    data = await read_body(request, c.settings.catalog_max_body_bytes)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput("the body is not UTF-8 text", field="body") from None
    report = await run_in_threadpool(c.catalog.import_text, who.workspace_id, text, fmt)
    return report.as_dict()
