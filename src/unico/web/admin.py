"""The admin API (secret key): profiles, export, erasure, workspace settings, dead letters."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field, StrictBool

from unico.container import Container
from unico.core.clock import parse_iso_ms, to_iso
from unico.core.errors import InvalidInput
from unico.core.spec import invalid_input
from unico.profiles.service import ProfileFilter
from unico.web.auth import secret_principal
from unico.web.responses import error_responses
from unico.workspaces.model import Principal

router = APIRouter(
    tags=["admin"],
    responses=error_responses(400, 401, 403, 404, 422),
)

ProfileRef = Annotated[
    str,
    Path(
        min_length=1,
        max_length=600,
        description="A profile id, or kind:value (user_id:42, anonymous_id:abc, email:a@b.it).",
    ),
]


def container(request: Request) -> Container:
    found: Container = request.app.state.container
    return found


def principal(request: Request, c: Annotated[Container, Depends(container)]) -> Principal:
    found = secret_principal(request, c.workspaces)
    _refuse_nul(request)
    return found


def _refuse_nul(request: Request) -> None:
    """No store can look up a NUL character (PostgreSQL cannot even hold one): refuse it in any
    path or query parameter rather than letting it reach a query."""
    for name, value in [*request.path_params.items(), *request.query_params.multi_items()]:
        if "\x00" in name or "\x00" in str(value):
            raise InvalidInput("parameters cannot contain NUL characters", field=name[:64])


Auth = Annotated[Principal, Depends(principal)]
Deps = Annotated[Container, Depends(container)]


def _time(value: str | None, field: str) -> int | None:
    if value is None:
        return None
    try:
        return parse_iso_ms(value)
    except (ValueError, OverflowError):
        raise InvalidInput(f"{field} must be an ISO 8601 timestamp", field=field) from None


@router.get("/v1/profiles", summary="List profiles (paged, filtered)")
def list_profiles(
    request: Request,
    who: Auth,
    c: Deps,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=64)] = None,
    seen_since: Annotated[str | None, Query(max_length=64, description="ISO 8601")] = None,
    seen_before: Annotated[str | None, Query(max_length=64, description="ISO 8601")] = None,
) -> dict[str, Any]:
    """Filters: ``trait.NAME=VALUE`` (any number), ``seen_since``, ``seen_before``."""
    traits = {
        k.removeprefix("trait."): v
        for k, v in request.query_params.items()
        if k.startswith("trait.")
    }
    if any(not k or len(k) > 255 for k in traits):
        raise InvalidInput("trait filters look like trait.NAME=VALUE", field="trait")
    where = ProfileFilter(
        traits, _time(seen_since, "seen_since"), _time(seen_before, "seen_before")
    )
    return c.profiles.list(who.workspace_id, limit=limit, cursor=cursor, where=where)


@router.get("/v1/profiles/{ref}", summary="One profile")
def get_profile(ref: ProfileRef, who: Auth, c: Deps) -> dict[str, Any]:
    """Traits, computed features, identities, consent and recent events."""
    return c.profiles.get(who.workspace_id, ref)


@router.get("/v1/profiles/{ref}/export", summary="Everything held on one person")
def export_profile(ref: ProfileRef, who: Auth, c: Deps) -> dict[str, Any]:
    """The right of access: profile, identities, all events, consent and merge history."""
    return c.profiles.export(who.workspace_id, ref)


@router.delete("/v1/profiles/{ref}", summary="Erase a person")
def erase_profile(ref: ProfileRef, who: Auth, c: Deps) -> dict[str, Any]:
    """Deletes the profile, identities, events and derived data; keeps hashed suppressions so
    late events with the same ids create nothing."""
    return c.profiles.erase(who.workspace_id, ref)


@router.get("/v1/consent/{ref}", summary="A person's consent per purpose")
def get_consent(ref: ProfileRef, who: Auth, c: Deps) -> dict[str, Any]:
    return {"consent": c.profiles.consent(who.workspace_id, ref)}


class WorkspacePatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    consent_defaults: dict[str, StrictBool] | None = None
    timezone: str | None = Field(None, max_length=64)
    languages: list[Annotated[str, Field(pattern=r"^[A-Za-z0-9-]{1,35}$")]] | None = Field(
        None, max_length=50, description="BCP 47 language tags (en, it, pt-BR)."
    )


def _workspace_view(c: Container, workspace_id: str) -> dict[str, Any]:
    ws = c.workspaces.get(workspace_id)
    return {
        "workspace_id": ws.workspace_id,
        "name": ws.name,
        "settings": ws.settings.model_dump(),
        "created_at": to_iso(ws.created_at),
    }


@router.get("/v1/workspace", summary="This workspace and its settings")
def get_workspace(who: Auth, c: Deps) -> dict[str, Any]:
    return _workspace_view(c, who.workspace_id)


@router.patch("/v1/workspace", summary="Change settings (consent defaults, time zone, languages)")
def patch_workspace(patch: WorkspacePatch, who: Auth, c: Deps) -> dict[str, Any]:
    from pydantic import ValidationError

    try:
        c.workspaces.update_settings(who.workspace_id, patch.model_dump(exclude_none=True))
    except ValidationError as exc:
        raise invalid_input(exc) from None
    return _workspace_view(c, who.workspace_id)


@router.get("/v1/dead-letters", summary="Messages that were not accepted, newest first")
def dead_letters(
    who: Auth,
    c: Deps,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    before: Annotated[int | None, Query(ge=0, le=2**62)] = None,
) -> dict[str, Any]:
    return c.collect.dead_letters(who.workspace_id, limit=limit, before=before)


@router.get("/v1/stats/events", summary="Daily event counts (profiled and anonymous)")
def event_stats(
    who: Auth, c: Deps, days: Annotated[int, Query(ge=1, le=3650)] = 30
) -> dict[str, Any]:
    return c.collect.event_counts(who.workspace_id, days=days)
