"""The FastAPI application: routers over the container's services."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema
from starlette.requests import Request
from starlette.responses import Response

from unico import __version__
from unico.collect.models import TYPE_MODELS, BatchRequest, ConsentRequest
from unico.container import Container
from unico.web import admin, catalog, collect, decide, errors, experiments, sdk, segments
from unico.web.cors import WriteKeyCors
from unico.web.fastpath import UnicoApp

_HEALTH = b'{"status":"ok"}'


def create_app(container: Container, *, manage: bool = True) -> FastAPI:
    """The app. With ``manage``, its lifespan starts and stops the container."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if manage:
            container.start()
        try:
            yield
        finally:
            if manage:
                container.stop()

    app = UnicoApp(
        title="Unico",
        version=__version__,
        summary="Real-time, one-to-one personalization: collect, analyze, activate, measure.",
        lifespan=lifespan,
    )
    app.state.container = container
    errors.install(app)

    @app.get("/health", tags=["ops"], summary="Liveness")
    async def health(_: Request) -> Response:
        return Response(_HEALTH, media_type="application/json")

    # Routes match in order: the hot paths (`/v1/decide`, `/v1/batch`) come first.
    app.include_router(decide.router)
    app.include_router(collect.router)
    app.include_router(admin.router)
    # -- decide context routers --
    app.include_router(catalog.router)
    app.include_router(sdk.router)
    app.add_middleware(WriteKeyCors)
    # The hot path past FastAPI's middleware, inside the same CORS layer.
    app.fast_paths({("POST", "/v1/decide"): decide.decide}, wrap=WriteKeyCors)
    # -- segments context routers --
    app.include_router(segments.router)
    # -- experiments context routers --
    app.include_router(experiments.router)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def _openapi(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(
        title=app.title, version=app.version, summary=app.summary, routes=app.routes
    )
    models: list[type[BaseModel]] = [*TYPE_MODELS.values(), BatchRequest, ConsentRequest]
    _, defs = models_json_schema(
        [(m, "validation") for m in models], ref_template="#/components/schemas/{model}"
    )
    schema.setdefault("components", {}).setdefault("schemas", {}).update(defs.get("$defs", {}))
    app.openapi_schema = schema
    return schema
