"""The demo shop's catalogue and placements, as data, and the function that seeds them.

The same data feeds ``make run`` (through `seed_demo_shop`), the pages under ``/demo`` and
the browser test, which seeds it through the admin API with `catalog_items` and
`placement_specs`. Images are small SVGs the server draws (``/demo/img/{id}.svg``), so
nothing is fetched from elsewhere.

>>> items = catalog_items()
>>> len(items), sorted({i["category"].split(" > ")[0] for i in items})
(40, ['Cycling', 'Hiking', 'Running', 'Swimming', 'Yoga'])
>>> [p["name"] for p in placement_specs()]
['home_reco', 'trending', 'pdp_also_like', 'cart_cross_sell']
"""

from __future__ import annotations

from contextlib import suppress
from typing import Any
from xml.sax.saxutils import escape

from unico.container import Container
from unico.core.errors import NotFound

CURRENCY = "EUR"
IMAGE_PATH = "/demo/img/{id}.svg"
PRODUCT_PATH = "/demo/product/{id}"

#: Top-level category -> (id prefix, colour of its pictures, [(title, subcategory, brand,
#: price, colour, material)]).
_RANGE: dict[str, tuple[str, str, list[tuple[str, str, str, float, str, str]]]] = {
    "Running": (
        "run",
        "#e4572e",
        [
            ("Tempo road shoe", "Shoes", "Stridewell", 119.0, "red", "mesh"),
            ("Cloudline trainer", "Shoes", "Stridewell", 139.0, "white", "knit"),
            ("Trail runner GTX", "Shoes", "Peakline", 149.0, "grey", "gore-tex"),
            ("Racing flat", "Shoes", "Velox", 99.0, "yellow", "mesh"),
            ("Breeze running tee", "Apparel", "Stridewell", 29.0, "blue", "polyester"),
            ("Split shorts", "Apparel", "Velox", 35.0, "black", "polyester"),
            ("Hydration belt", "Accessories", "Peakline", 25.0, "black", "nylon"),
            ("Reflective vest", "Accessories", "Velox", 19.0, "yellow", "polyester"),
        ],
    ),
    "Hiking": (
        "hik",
        "#4c956c",
        [
            ("Summit boot", "Boots", "Peakline", 179.0, "brown", "leather"),
            ("Ridge mid boot", "Boots", "Northpine", 159.0, "green", "suede"),
            ("Daypack 22 L", "Packs", "Northpine", 79.0, "green", "nylon"),
            ("Trek pack 45 L", "Packs", "Peakline", 169.0, "blue", "nylon"),
            ("Merino base layer", "Apparel", "Northpine", 69.0, "grey", "merino"),
            ("Storm shell jacket", "Apparel", "Peakline", 229.0, "orange", "gore-tex"),
            ("Carbon trekking poles", "Accessories", "Northpine", 89.0, "black", "carbon"),
            ("Trail map case", "Accessories", "Northpine", 15.0, "clear", "pvc"),
        ],
    ),
    "Cycling": (
        "cyc",
        "#2d7dd2",
        [
            ("Aero road helmet", "Helmets", "Velotta", 149.0, "white", "polycarbonate"),
            ("Commuter helmet", "Helmets", "Velotta", 59.0, "black", "polycarbonate"),
            ("Bib shorts pro", "Apparel", "Velotta", 109.0, "black", "lycra"),
            ("Thermal jersey", "Apparel", "Rideon", 89.0, "red", "polyester"),
            ("Clipless shoes", "Shoes", "Rideon", 129.0, "white", "carbon"),
            ("LED light set", "Accessories", "Rideon", 39.0, "black", "aluminium"),
            ("Mini pump", "Accessories", "Velotta", 25.0, "silver", "aluminium"),
            ("Bottle cage", "Accessories", "Rideon", 12.0, "black", "carbon"),
        ],
    ),
    "Yoga": (
        "yog",
        "#9b5de5",
        [
            ("Grip yoga mat", "Mats", "Lotusa", 59.0, "purple", "rubber"),
            ("Travel mat", "Mats", "Lotusa", 45.0, "teal", "tpe"),
            ("Cork block pair", "Props", "Lotusa", 22.0, "natural", "cork"),
            ("Cotton strap", "Props", "Zenwear", 12.0, "natural", "cotton"),
            ("Flow leggings", "Apparel", "Zenwear", 65.0, "black", "elastane"),
            ("Seamless top", "Apparel", "Zenwear", 39.0, "pink", "nylon"),
            ("Meditation cushion", "Props", "Lotusa", 49.0, "grey", "buckwheat"),
            ("Mat towel", "Accessories", "Zenwear", 29.0, "blue", "microfibre"),
        ],
    ),
    "Swimming": (
        "swi",
        "#00a6a6",
        [
            ("Mirror goggles", "Goggles", "Aquafin", 35.0, "blue", "silicone"),
            ("Anti-fog goggles", "Goggles", "Aquafin", 25.0, "clear", "silicone"),
            ("Training swimsuit", "Swimwear", "Aquafin", 55.0, "navy", "polyester"),
            ("Jammer", "Swimwear", "Wavecrest", 45.0, "black", "polyester"),
            ("Silicone cap", "Accessories", "Wavecrest", 12.0, "white", "silicone"),
            ("Kickboard", "Training", "Wavecrest", 19.0, "yellow", "foam"),
            ("Pull buoy", "Training", "Aquafin", 17.0, "orange", "foam"),
            ("Short fins", "Training", "Wavecrest", 39.0, "black", "rubber"),
        ],
    ),
}

#: What each category page says under its title.
_BLURBS = {
    "Running": "Road and trail shoes, light apparel and the small things that help on a long run.",
    "Hiking": "Boots, packs and layers for a day on the trail or a week in the mountains.",
    "Cycling": "Helmets, kit and accessories for the commute and the weekend ride.",
    "Yoga": "Mats, props and soft apparel for practice at home or in the studio.",
    "Swimming": "Goggles, swimwear and training aids for the pool and open water.",
}

#: What everyone sees when there is nothing to personalize on (or no consent to): one best
#: seller per category first, then more rounds. Long enough that the placements of one page
#: (which never repeat an item) all have a full default.
_BEST_SELLERS = [
    "run-01",
    "hik-05",
    "cyc-01",
    "yog-01",
    "swi-01",
    "run-02",
    "hik-01",
    "cyc-03",
    "yog-05",
    "swi-03",
    "run-03",
    "hik-06",
    "cyc-05",
    "yog-02",
    "swi-02",
    "run-05",
]
#: Trending starts where the home page's recommendations end, so the two differ by default.
_TRENDING = _BEST_SELLERS[8:] + _BEST_SELLERS[:8]
#: What goes with anything in a cart by default: small accessories, one sport after another.
_ADD_ONS = ["run-07", "cyc-06", "yog-03", "swi-06", "hik-07", "run-08", "cyc-07", "yog-04"]
#: Earlier demo workspaces' sample person viewed "sku-1", which the catalog then learnt as an
#: item without a title or picture; the shop has no such product.
_STRAY_ITEMS = ["sku-1"]


def catalog_items() -> list[dict[str, Any]]:
    """The demo catalogue: 40 products in 5 categories, as the catalog API takes them."""
    items: list[dict[str, Any]] = []
    for category, (prefix, _, rows) in _RANGE.items():
        for n, (title, sub, brand, price, colour, material) in enumerate(rows, start=1):
            item_id = f"{prefix}-{n:02d}"
            items.append(
                {
                    "id": item_id,
                    "kind": "product",
                    "title": title,
                    "url": PRODUCT_PATH.format(id=item_id),
                    "image": IMAGE_PATH.format(id=item_id),
                    "price": price,
                    "currency": CURRENCY,
                    "category": f"{category} > {sub}",
                    "brand": brand,
                    "tags": [category.lower(), sub.lower()],
                    "attributes": {"colour": colour, "material": material},
                    "in_stock": True,
                }
            )
    return items


def placement_specs() -> list[dict[str, Any]]:
    """The shop's four placements, as the placements API takes them."""
    return [
        {"name": "home_reco", "strategy": "hybrid", "size": 8, "default_items": _BEST_SELLERS},
        {"name": "trending", "strategy": "trending", "size": 5, "default_items": _TRENDING},
        {"name": "pdp_also_like", "strategy": "hybrid", "size": 5, "default_items": _BEST_SELLERS},
        {
            "name": "cart_cross_sell",
            "strategy": "also_viewed",
            "size": 4,
            "default_items": _ADD_ONS,
        },
    ]


def default_items(placement: str) -> list[str]:
    """The item ids a placement shows by default, in order, cut to its size."""
    spec = next(p for p in placement_specs() if p["name"] == placement)
    return list(spec["default_items"][: spec["size"]])


def category_of(item_id: str) -> str:
    """The top-level category of a demo item ("run-01" -> "Running")."""
    prefix = item_id.split("-", 1)[0]
    return next(c for c, (p, _, _) in _RANGE.items() if p == prefix)


def colour_of(item_id: str) -> str:
    """The colour of a demo item's picture (its category's)."""
    return _RANGE[category_of(item_id)][1]


def shade(colour: str, factor: float = 0.75) -> str:
    """A darker shade of an ``#rrggbb`` colour: at 0.75 every category colour carries white
    text at 5:1 or more (WCAG AA asks 4.5:1).

    >>> shade("#00a6a6")
    '#007c7c'
    """
    channels = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return "#" + "".join(f"{round(c * factor):02x}" for c in channels)


def categories() -> list[dict[str, str]]:
    """The top-level categories in shop order: name, the slug of their page, their colour,
    a darker shade of it that carries white text, and a line about them.

    >>> [(c["name"], c["slug"], c["shade"]) for c in categories()][:2]
    [('Running', 'running', '#ab4122'), ('Hiking', 'hiking', '#397051')]
    """
    return [
        {
            "name": name,
            "slug": name.lower(),
            "colour": colour,
            "shade": shade(colour),
            "blurb": _BLURBS[name],
        }
        for name, (_, colour, _) in _RANGE.items()
    ]


#: The colour attribute of an item, as the swatch its picture shows.
_SWATCHES = {
    "black": "#22252b",
    "blue": "#3a86ff",
    "brown": "#7f5539",
    "clear": "#e9f5f8",
    "green": "#52b788",
    "grey": "#9aa3ad",
    "natural": "#d8c3a5",
    "navy": "#1d3557",
    "orange": "#f77f00",
    "pink": "#f4a3b4",
    "purple": "#7b2cbf",
    "red": "#d62828",
    "silver": "#c9d1d9",
    "teal": "#2ec4b6",
    "white": "#ffffff",
    "yellow": "#ffd23f",
}


def picture(item: dict[str, Any]) -> str:
    """An item's picture as SVG: its category's colour, a swatch of its own colour and its
    brand (the title is the picture's accessible name).

    >>> picture(catalog_items()[0])[:60]
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 240 180'
    """
    colour = colour_of(item["id"])
    swatch = _SWATCHES.get(item["attributes"]["colour"], "#ffffff")
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 240 180" width="240" height="180"'
        f' role="img"><title>{escape(item["title"])}</title>'
        '<defs><linearGradient id="g" x2="1" y2="1">'
        f'<stop offset="0" stop-color="{colour}"/><stop offset="1" stop-color="{shade(colour)}"/>'
        '</linearGradient></defs><rect width="240" height="180" fill="url(#g)"/>'
        '<circle cx="210" cy="20" r="74" fill="#fff" opacity=".12"/>'
        '<circle cx="16" cy="176" r="56" fill="#fff" opacity=".08"/>'
        f'<circle cx="120" cy="78" r="42" fill="{swatch}" stroke="#fff" stroke-width="5"/>'
        '<text x="120" y="152" text-anchor="middle" font-family="Arial, sans-serif"'
        ' font-size="14" font-weight="700" letter-spacing="3" fill="#fff">'
        f"{escape(item['brand'].upper())}</text></svg>"
    )


def seed_demo_shop(container: Container, workspace_id: str) -> None:
    """Load the catalogue, drop stray items and create the placements that do not exist yet."""
    container.catalog.upsert(workspace_id, catalog_items())
    for item_id in _STRAY_ITEMS:
        with suppress(NotFound):  # gone already, or never there
            container.catalog.delete(workspace_id, item_id)
    existing = {p["name"] for p in container.placements.list(workspace_id)}
    for spec in placement_specs():
        if spec["name"] not in existing:
            container.placements.create(workspace_id, spec)
