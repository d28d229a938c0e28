"""CORS for the endpoints the web tag calls from customers' own sites, and only those.

Write-key endpoints answer preflights and carry ``Access-Control-Allow-Origin: *``: a write
key is public and these requests never use cookies, so any origin may send them. Admin
endpoints get no CORS headers at all, so a browser on another origin cannot read them even
with a stolen secret key.

A preflight may ask for any request header. Tracking libraries add their own (RudderStack's
``AnonymousId`` and ``SentAt``, its ``Rsa-Retry-*`` on retries, analytics.js's
``X-Retry-Count``) and each release may add more; a header the answer leaves out makes the
browser drop the request, and with it every later event. ``Retry-After`` is exposed, since
a browser hides it from a page on another origin otherwise and libraries wait as it says.
"""

from __future__ import annotations

from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

#: The paths a browser may call from any origin (the tag, and the write-key API).
PUBLIC_PATHS = frozenset(
    {
        "/sdk/unico.js",
        *(
            f"/v1/{name}"
            for name in (
                "track",
                "identify",
                "page",
                "screen",
                "group",
                "alias",
                "batch",
                "decide",
                "consent",
            )
        ),
        # analytics.js 2.0's one-letter aliases and RudderStack's beacon path (web/collect.py).
        *(f"/v1/{letter}" for letter in "tipsgab"),
        "/beacon/v1/batch",
    }
)
#: How long a browser may cache a preflight answer (seconds).
PREFLIGHT_MAX_AGE = 86_400


class WriteKeyCors:
    """Starlette's CORS middleware, applied to `PUBLIC_PATHS` and nothing else."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.cors = CORSMiddleware(
            app,
            allow_origins=["*"],
            allow_methods=["GET", "POST"],
            allow_headers=["*"],
            allow_credentials=False,
            expose_headers=["Retry-After"],
            max_age=PREFLIGHT_MAX_AGE,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] in PUBLIC_PATHS:
            await self.cors(scope, receive, send)
        else:
            await self.app(scope, receive, send)
