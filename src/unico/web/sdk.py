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

from fastapi import APIRouter, Path, Query, Request
from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.responses import HTMLResponse, Response

from unico.container import Container
from unico.demo_shop import (
    catalog_items,
    categories,
    category_of,
    default_items,
    picture,
    placement_specs,
)

router = APIRouter(tags=["web tag"])

SDK_BYTES = files("unico.web").joinpath("static/unico.js").read_bytes()
SDK_ETAG = f'"{hashlib.sha256(SDK_BYTES).hexdigest()[:20]}"'
#: The tag's URL is not versioned, so browsers keep it briefly and then revalidate by ETag.
SDK_CACHE = "public, max-age=300, stale-while-revalidate=86400"
DEMO_CSS = files("unico.web").joinpath("static/demo.css").read_bytes()
#: The pages ask for ``shop.css?v=HASH``, so a changed stylesheet is a new URL: cache it long.
DEMO_CSS_VERSION = hashlib.sha256(DEMO_CSS).hexdigest()[:12]
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
_CATEGORIES = {c["slug"]: c for c in categories()}
#: What each placement shows until the tag has asked Unico (and if it cannot): the page is a
#: whole shop without JavaScript, and filling a slot does not move the page.
_DEFAULTS = {p["name"]: [_ITEMS[i] for i in default_items(p["name"])] for p in placement_specs()}

ItemId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[a-z]{3}-\d{2}$")]
Slug = Annotated[str, Path(min_length=1, max_length=40, pattern=r"^[a-z]+$")]


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
    shop = {"css_version": DEMO_CSS_VERSION, "categories": list(_CATEGORIES.values())}
    if write_key is None:
        html = _pages.get_template("demo/key.html").render(
            problem=problem, next=request.url.path, **shop
        )
        return HTMLResponse(html, status_code=401 if problem else 200)
    cart = _cart(request)
    html = _pages.get_template(template).render(
        write_key=write_key,
        cart=cart,
        cart_count=len(cart),
        cart_cookie=CART_COOKIE,
        defaults=_DEFAULTS,
        **shop,
        **values,
    )
    response = HTMLResponse(html, status_code=status)
    if key is not None:
        response.set_cookie(KEY_COOKIE, write_key, path="/demo", samesite="lax", httponly=True)
    return response


def _in_category(slug: str) -> list[dict[str, Any]]:
    return [i for i in _ITEMS.values() if category_of(i["id"]).lower() == slug]


KeyParam = Annotated[str | None, Query(max_length=MAX_KEY_CHARS, description="A write key")]


@router.get(
    "/demo", response_class=HTMLResponse, summary="Demo shop: home", include_in_schema=False
)
def demo_home(request: Request, key: KeyParam = None) -> HTMLResponse:
    shelves = [(c, _in_category(c["slug"])) for c in _CATEGORIES.values()]
    return _page(request, "demo/home.html", key, shelves=shelves, page_type="home")


@router.get("/demo/category/{slug}", response_class=HTMLResponse, include_in_schema=False)
def demo_category(request: Request, slug: Slug, key: KeyParam = None) -> HTMLResponse:
    category = _CATEGORIES.get(slug)
    if category is None:
        return _page(request, "demo/missing.html", key, page_type="other", status=404)
    items = _in_category(slug)
    return _page(
        request, "demo/category.html", key, category=category, items=items, page_type="category"
    )


@router.get("/demo/product/{item_id}", response_class=HTMLResponse, include_in_schema=False)
def demo_product(request: Request, item_id: ItemId, key: KeyParam = None) -> HTMLResponse:
    item = _ITEMS.get(item_id)
    if item is None:
        return _page(request, "demo/missing.html", key, page_type="other", status=404)
    category = _CATEGORIES[category_of(item_id).lower()]
    return _page(
        request, "demo/product.html", key, item=item, category=category, page_type="product"
    )


@router.get("/demo/cart", response_class=HTMLResponse, include_in_schema=False)
def demo_cart(request: Request, key: KeyParam = None) -> HTMLResponse:
    items = [_ITEMS[i] for i in _cart(request)]
    total = sum(i["price"] for i in items)
    return _page(request, "demo/cart.html", key, items=items, total=total, page_type="cart")


@router.get("/demo/shop.css", include_in_schema=False)
async def demo_css() -> Response:
    headers = {"Cache-Control": "public, max-age=31536000, immutable"}
    return Response(DEMO_CSS, media_type="text/css; charset=utf-8", headers=headers)


@router.get("/demo/img/{item_id}.svg", include_in_schema=False)
async def demo_image(item_id: ItemId) -> Response:
    """A product picture, drawn from the item (`unico.demo_shop.picture`)."""
    item = _ITEMS.get(item_id)
    if item is None:
        return Response(status_code=404)
    return Response(
        picture(item),
        media_type="image/svg+xml",
        headers={"Cache-Control": "public, max-age=86400"},
    )
