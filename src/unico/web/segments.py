"""The segments API (secret key): definitions, preview, members (paged or CSV), static
lists, and each person's segments with the reasons."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, Response, StreamingResponse

from unico.core.errors import InvalidInput, UnsupportedMediaType
from unico.web.admin import Auth, Deps, ProfileRef
from unico.web.body import read_body
from unico.web.responses import error_responses

#: What this router's errors mean, where the admin API's words do not say it.
_SAY = {
    404: "No such segment or profile",
    409: "Name taken, or other segments depend on this one",
    413: "List upload too large",
    415: "A list upload that is not text/csv",
    422: "Invalid condition (syntax errors carry line and column)",
}

router = APIRouter(
    tags=["segments"],
    responses=error_responses(400, 401, 403, 404, 409, 413, 415, 422, say=_SAY),
)

SegmentRef = Annotated[
    str, Path(min_length=1, max_length=200, description="A segment id (seg_…) or its name.")
]
Condition = Annotated[str, Field(min_length=1, max_length=10_000)]


class SegmentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    condition: Condition | None = Field(
        None, description="The condition; leave it out with kind=static for a list."
    )
    description: str | None = Field(None, max_length=2000)
    kind: str = Field("dynamic", pattern="^(dynamic|static)$")


class SegmentPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, min_length=1, max_length=200)
    condition: Condition | None = None
    description: str | None = Field(None, max_length=2000)


class Preview(BaseModel):
    model_config = ConfigDict(extra="forbid")

    condition: Condition
    sample: int = Field(10, ge=0, le=100)


@router.post("/v1/segments", status_code=201, summary="Create a segment (members back-filled)")
def create_segment(body: SegmentCreate, who: Auth, c: Deps) -> dict[str, Any]:
    if body.kind == "dynamic" and body.condition is None:
        raise InvalidInput("condition is required (or kind=static for a list)", field="condition")
    return c.segments.create(
        who.workspace_id, body.name, body.condition, description=body.description, kind=body.kind
    )


@router.post("/v1/segments/preview", summary="Size estimate and sample profiles, not saved")
def preview_segment(body: Preview, who: Auth, c: Deps) -> dict[str, Any]:
    return c.segments.preview(who.workspace_id, body.condition, sample=body.sample)


@router.get("/v1/segments", summary="Every segment with its size")
def list_segments(who: Auth, c: Deps) -> dict[str, Any]:
    return {"segments": c.segments.list(who.workspace_id)}


@router.get("/v1/segments/{segment}", summary="One segment")
def get_segment(segment: SegmentRef, who: Auth, c: Deps) -> dict[str, Any]:
    return c.segments.get(who.workspace_id, segment)


@router.patch("/v1/segments/{segment}", summary="Rename, redescribe or redefine a segment")
def patch_segment(segment: SegmentRef, body: SegmentPatch, who: Auth, c: Deps) -> dict[str, Any]:
    return c.segments.update(
        who.workspace_id,
        segment,
        name=body.name,
        condition=body.condition,
        description=body.description,
    )


@router.delete("/v1/segments/{segment}", summary="Delete a segment")
def delete_segment(
    segment: SegmentRef,
    who: Auth,
    c: Deps,
    force: Annotated[bool, Query(description="Delete even if other segments use it.")] = False,
) -> dict[str, Any]:
    """409 while other segments use it in ``in_segment`` (named in the message), unless
    ``force=true``."""
    return c.segments.delete(who.workspace_id, segment, force=force)


@router.get("/v1/segments/{segment}/members", summary="Members (paged JSON, or CSV)")
def segment_members(
    segment: SegmentRef,
    who: Auth,
    c: Deps,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[str | None, Query(max_length=64)] = None,
    format: Annotated[str, Query(pattern="^(json|csv)$")] = "json",
) -> Any:
    """``format=csv`` streams every member as ``profile_id,since``."""
    if format == "json":
        return c.segments.members(who.workspace_id, segment, limit=limit, cursor=cursor)
    found = c.segments.get(who.workspace_id, segment)  # 404 before the stream starts
    rows = c.segments.export_members(who.workspace_id, found["segment_id"])
    filename = f"{found['segment_id']}.csv"
    return StreamingResponse(
        _csv(rows),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _csv(rows: Iterator[tuple[str, str]]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(("profile_id", "since"))
    for n, row in enumerate(rows, start=1):
        writer.writerow(row)
        if n % 1000 == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


@router.post("/v1/segments/{segment}/members", summary="Upload identities to a static list")
async def upload_members(segment: SegmentRef, request: Request, who: Auth, c: Deps) -> Response:
    """A ``text/csv`` body: an ``identity`` column (``kind:value``), ``kind`` and ``value``
    columns, or one column named after a kind (``email``). Unknown identities wait for
    their person."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind not in ("text/csv", "text/plain"):
        raise UnsupportedMediaType("send the list as text/csv", field="content-type")
    body = await read_body(request, c.settings.segment_upload_max_bytes)
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput("the CSV must be UTF-8", field="body") from None
    if "\x00" in text:
        raise InvalidInput("the CSV cannot contain NUL characters", field="body")
    out = await run_in_threadpool(c.segments.lists.upload, who.workspace_id, segment, text)
    return JSONResponse(out)


@router.put("/v1/segments/{segment}/members/{ref}", summary="Add one person to a static list")
def add_member(segment: SegmentRef, ref: ProfileRef, who: Auth, c: Deps) -> dict[str, Any]:
    return c.segments.lists.add(who.workspace_id, segment, ref)


@router.delete("/v1/segments/{segment}/members/{ref}", summary="Take one person off a static list")
def remove_member(segment: SegmentRef, ref: ProfileRef, who: Auth, c: Deps) -> dict[str, Any]:
    return c.segments.lists.remove(who.workspace_id, segment, ref)


@router.get("/v1/profiles/{ref}/segments", summary="A person's segments, and why")
def profile_segments(ref: ProfileRef, who: Auth, c: Deps) -> dict[str, Any]:
    """Each segment's name, since when, what started the membership and why it holds."""
    return c.segments.profile_segments(who.workspace_id, ref)
