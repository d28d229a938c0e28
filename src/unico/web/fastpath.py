"""The hottest endpoint straight to its handler, past FastAPI's per-request machinery.

``POST /v1/decide`` is what a page waits for. Through the full stack a request also
passes the exception and body-limit middleware, an exit stack, route matching and
dependency solving: about 30 µs of a warm /health, more with cold caches under load.
`FastPaths` sits inside the CORS middleware (so CORS is applied exactly as everywhere
else) and calls the handler itself; errors get the same answers as the app's exception
handlers (`unico.web.errors.response_for`). The route stays registered for the OpenAPI
document and for every other method on the path.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from unico.web.errors import response_for

Handler = Callable[[Request], Awaitable[Response]]


class FastPaths:
    """Calls ``routes[(method, path)]`` directly; everything else goes to ``app``."""

    def __init__(self, app: ASGIApp, routes: Mapping[tuple[str, str], Handler]) -> None:
        self.app = app
        self.routes = dict(routes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        handler = (
            self.routes.get((scope["method"], scope["path"])) if scope["type"] == "http" else None
        )
        if handler is None:
            await self.app(scope, receive, send)
            return
        try:
            response = await handler(Request(scope, receive))
        except Exception as exc:  # the app's exception handlers' answers
            response = response_for(exc)
        await response(scope, receive, send)
