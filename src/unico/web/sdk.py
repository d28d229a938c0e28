"""The web tag (``GET /sdk/unico.js``) and the demo shop that shows it at work (``/demo``).

The demo pages need the demo workspace's write key. Keys are stored hashed, so the server
cannot look it up: the visitor opens ``/demo?key=WRITE_KEY`` once (``make run`` prints the
key), the key is checked, kept in a cookie for the other demo pages, and written into the
page for the tag. A write key is public by design, so this shows nothing secret.
"""

from __future__ import annotations

import hashlib
from importlib.resources import files
from typing import Annotated, Any
from urllib.parse import unquote
from xml.sax.saxutils import escape

from fastapi import APIRouter, Path, Query, Request
from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.responses import HTMLResponse, Response

from unico.container import Container
from unico.demo_shop import catalog_items, category_of, colour_of

router = APIRouter(tags=["web tag"])

SDK_BYTES = files("unico.web").joinpath("static/unico.js").read_bytes()
SDK_ETAG = f'"{hashlib.sha256(SDK_BYTES).hexdigest()[:20]}"'
#: The tag's URL is not versioned, so browsers keep it briefly and then revalidate by ETag.
SDK_CACHE = "public, max-age=300, stale-while-revalidate=86400"
KEY_COOKIE = "unico_demo_key"
CART_COOKIE = "unico_demo_cart"
MAX_KEY_CHARS = 200

_pages = Environment(
    loader=PackageLoader("unico.web", "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
_ITEMS = {item["id"]: item for item in catalog_items()}

ItemId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[a-z]{3}-\d{2}$")]


# A static asset, not an API: kept out of the OpenAPI document (it needs no key).
@router.get("/sdk/unico.js", include_in_schema=False)
async def sdk(request: Request) -> Response:
    headers = {"ETag": SDK_ETAG, "Cache-Control": SDK_CACHE}
    match = request.headers.get("if-none-match", "")
    if SDK_ETAG in {tag.strip().removeprefix("W/") for tag in match.split(",")} or match == "*":
        return Response(status_code=304, headers=headers)
    return Response(SDK_BYTES, media_type="text/javascript; charset=utf-8", headers=headers)


def _write_key(request: Request, key: str | None) -> tuple[str | None, str | None]:
    """The demo's write key (from ``?key=`` or the cookie) and, when unusable, why."""
    chosen = key if key is not None else request.cookies.get(KEY_COOKIE)
    if not chosen:
        return None, None
    container: Container = request.app.state.container
    principal = container.workspaces.authenticate(chosen.strip())
    if principal is None or principal.kind != "write":
        return None, "That is not a write key of this server."
    return chosen.strip(), None


def _cart(request: Request) -> list[str]:
    # The page writes the cookie with encodeURIComponent (commas become %2C).
    raw = unquote(request.cookies.get(CART_COOKIE, ""))
    return [i for i in raw.split(",") if i in _ITEMS][:50]


def _page(
    request: Request, template: str, key: str | None, status: int = 200, **values: Any
) -> HTMLResponse:
    write_key, problem = _write_key(request, key)
    if write_key is None:
        html = _pages.get_template("demo/key.html").render(problem=problem, next=request.url.path)
        return HTMLResponse(html, status_code=401 if problem else 200)
    cart = _cart(request)
    html = _pages.get_template(template).render(
        write_key=write_key, cart=cart, cart_count=len(cart), cart_cookie=CART_COOKIE, **values
    )
    response = HTMLResponse(html, status_code=status)
    if key is not None:
        response.set_cookie(KEY_COOKIE, write_key, path="/demo", samesite="lax", httponly=True)
    return response


KeyParam = Annotated[str | None, Query(max_length=MAX_KEY_CHARS, description="A write key")]


@router.get(
    "/demo", response_class=HTMLResponse, summary="Demo shop: home", include_in_schema=False
)
def demo_home(request: Request, key: KeyParam = None) -> HTMLResponse:
    by_category: dict[str, list[dict[str, Any]]] = {}
    for item in _ITEMS.values():
        by_category.setdefault(category_of(item["id"]), []).append(item)
    return _page(request, "demo/home.html", key, by_category=by_category, page_type="home")


@router.get("/demo/product/{item_id}", response_class=HTMLResponse, include_in_schema=False)
def demo_product(request: Request, item_id: ItemId, key: KeyParam = None) -> HTMLResponse:
    item = _ITEMS.get(item_id)
    if item is None:
        return _page(request, "demo/missing.html", key, page_type="other", status=404)
    return _page(request, "demo/product.html", key, item=item, page_type="product")


@router.get("/demo/cart", response_class=HTMLResponse, include_in_schema=False)
def demo_cart(request: Request, key: KeyParam = None) -> HTMLResponse:
    items = [_ITEMS[i] for i in _cart(request)]
    total = sum(i["price"] for i in items)
    return _page(request, "demo/cart.html", key, items=items, total=total, page_type="cart")


@router.get("/demo/img/{item_id}.svg", include_in_schema=False)
async def demo_image(item_id: ItemId) -> Response:
    """A product picture: the category's colour, the title and the brand."""
    item = _ITEMS.get(item_id)
    if item is None:
        return Response(status_code=404)
    svg = (
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 240 180" width="240" height="180">'
        f'<rect width="240" height="180" rx="10" fill="{colour_of(item_id)}"/>'
        '<circle cx="200" cy="40" r="60" fill="#fff" opacity=".15"/>'
        '<text x="16" y="120" font-family="sans-serif" font-size="17" fill="#fff" '
        f'font-weight="bold">{escape(item["title"])}</text>'
        '<text x="16" y="146" font-family="sans-serif" font-size="13" fill="#fff" '
        f'opacity=".85">{escape(item["brand"])}</text></svg>'
    )
    return Response(
        svg, media_type="image/svg+xml", headers={"Cache-Control": "public, max-age=86400"}
    )
