"""A Segment-shaped e-commerce workload, built once before a benchmark starts.

A population of anonymous visitors browses a catalog; some of them log in (so their
events carry a ``userId`` and they send ``identify`` calls with an email), and some of
those use a second device (so their profiles merge). Request bodies are serialized
ahead of time; each carries a fixed-width placeholder in every ``messageId`` that the
sender swaps for a unique token with one ``bytes.replace``, so no two requests repeat
a message id and the sender does no JSON work while the clock runs.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

#: Swapped for a unique token of the same width on every send (see `unique_body`).
PLACEHOLDER = b"@@@@@@@@@@@@"
TOKEN_WIDTH = len(PLACEHOLDER)

CATEGORIES = [
    "Shoes", "Sneakers", "Boots", "Jackets", "Coats", "Shirts", "T-Shirts", "Jeans",
    "Dresses", "Skirts", "Bags", "Belts", "Watches", "Sunglasses", "Hats", "Scarves",
    "Knitwear", "Sportswear", "Swimwear", "Underwear", "Socks", "Jewellery", "Perfume", "Home",
]  # fmt: skip
USER_AGENTS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.4 Safari/605.1.15",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Mobile Safari/537.36",
]
LOCALES = ["it-IT", "en-GB", "en-US", "de-DE", "fr-FR"]
REFERRERS = ["https://www.google.com/", "https://www.instagram.com/", "", "https://t.co/x"]
#: (kind, weight). ``identify`` falls back to ``page`` for visitors who never log in.
MIX = [
    ("page", 35),
    ("Product Viewed", 28),
    ("Products Searched", 5),
    ("Product Added", 12),
    ("identify", 8),
    ("Checkout Started", 6),
    ("Order Completed", 6),
]


@dataclass(slots=True)
class Visitor:
    anonymous_ids: list[str]
    user_id: str | None = None
    email: str | None = None
    traits: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class Product:
    product_id: str
    sku: str
    name: str
    category: str
    price: float


@dataclass(frozen=True, slots=True)
class WorkloadSpec:
    """What to build: ``bodies`` request bodies of ``batch_size`` events each."""

    visitors: int = 20_000
    identified_share: float = 0.25
    second_device_share: float = 0.10
    products: int = 2_000
    bodies: int = 800
    batch_size: int = 100
    seed: int = 1


def _population(spec: WorkloadSpec, rng: random.Random) -> list[Visitor]:
    people = []
    for n in range(spec.visitors):
        visitor = Visitor([str(uuid.UUID(int=rng.getrandbits(128), version=4))])
        if rng.random() < spec.identified_share:
            visitor.user_id = f"u{n:07d}"
            visitor.email = f"Customer.{n}@Example.com"
            visitor.traits = {
                "email": visitor.email,
                "firstName": rng.choice(["Ada", "Luca", "Giulia", "Marco", "Sofia", "Ben"]),
                "lastName": rng.choice(["Rossi", "Bianchi", "Smith", "Müller", "Dupont"]),
                "plan": rng.choice(["free", "club", "club+"]),
                "newsletter": rng.random() < 0.5,
            }
            if rng.random() < spec.second_device_share:
                visitor.anonymous_ids.append(str(uuid.UUID(int=rng.getrandbits(128), version=4)))
        people.append(visitor)
    return people


def _catalog(spec: WorkloadSpec, rng: random.Random) -> list[Product]:
    return [
        Product(
            product_id=f"prod-{i:05d}",
            sku=f"SKU-{rng.randrange(10**7):07d}",
            name=f"{rng.choice(['Classic', 'Urban', 'Alpine', 'Riviera'])} item {i}",
            category=rng.choice(CATEGORIES),
            price=round(rng.uniform(5, 400), 2),
        )
        for i in range(spec.products)
    ]


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class _Builder:
    def __init__(self, spec: WorkloadSpec) -> None:
        self.spec = spec
        self.rng = random.Random(spec.seed)
        self.people = _population(spec, self.rng)
        self.catalog = _catalog(spec, self.rng)
        self.kinds = [k for k, _ in MIX]
        self.weights = [w for _, w in MIX]
        self.now = datetime.now(UTC)

    def visitor(self) -> Visitor:
        # Skewed activity: a few visitors send many events, most send a few.
        return self.people[int(len(self.people) * self.rng.random() ** 2)]

    def product(self) -> dict[str, Any]:
        p = self.rng.choice(self.catalog)
        return {
            "product_id": p.product_id,
            "sku": p.sku,
            "name": p.name,
            "category": p.category,
            "price": p.price,
            "currency": "EUR",
        }

    def context(self, path: str, title: str) -> dict[str, Any]:
        rng = self.rng
        return {
            "library": {"name": "analytics.js", "version": "next-1.70.0"},
            "page": {
                "path": path,
                "url": f"https://shop.example.com{path}",
                "referrer": rng.choice(REFERRERS),
                "title": title,
                "search": "",
            },
            "userAgent": rng.choice(USER_AGENTS),
            "locale": rng.choice(LOCALES),
            "timezone": "Europe/Rome",
            "ip": f"93.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(256)}",
        }

    def event(self, index: int) -> dict[str, Any]:
        rng = self.rng
        who = self.visitor()
        kind = rng.choices(self.kinds, self.weights)[0]
        if kind == "identify" and who.user_id is None:
            kind = "page"
        msg: dict[str, Any] = {
            "messageId": f"{PLACEHOLDER.decode()}-{index:03d}",
            "anonymousId": rng.choice(who.anonymous_ids),
            "timestamp": _iso(self.now - timedelta(milliseconds=rng.randrange(2000))),
        }
        if who.user_id and (kind == "identify" or rng.random() < 0.6):
            msg["userId"] = who.user_id
        item = self.product()
        if kind == "page":
            msg.update(type="page", name=item["category"], properties={"category": "Catalog"})
            msg["context"] = self.context(f"/c/{item['category'].lower()}", item["category"])
        elif kind == "identify":
            msg.update(type="identify", traits=dict(who.traits))
            msg["context"] = self.context("/account", "My account")
        else:
            msg.update(type="track", event=kind, properties=self.properties(kind, item))
            msg["context"] = self.context(f"/p/{item['product_id']}", item["name"])
        return msg

    def properties(self, kind: str, item: dict[str, Any]) -> dict[str, Any]:
        rng = self.rng
        if kind == "Product Viewed":
            return {**item, "url": f"https://shop.example.com/p/{item['product_id']}"}
        if kind == "Product Added":
            return {**item, "quantity": rng.randint(1, 3), "cart_id": f"c{rng.getrandbits(40):x}"}
        if kind == "Products Searched":
            return {"query": rng.choice(["red shoes", "winter coat", "gift", "linen shirt"])}
        lines = [
            {**self.product(), "quantity": rng.randint(1, 2)} for _ in range(rng.randint(1, 4))
        ]
        total = round(sum(p["price"] * p["quantity"] for p in lines), 2)
        if kind == "Checkout Started":
            return {"order_id": f"o{rng.getrandbits(48):x}", "value": total, "products": lines}
        return {
            "order_id": f"o{rng.getrandbits(48):x}",
            "total": total,
            "revenue": round(total / 1.22, 2),
            "tax": round(total - total / 1.22, 2),
            "shipping": 0,
            "currency": "EUR",
            "products": lines,
        }

    def body(self) -> bytes:
        batch = [self.event(i) for i in range(self.spec.batch_size)]
        return orjson.dumps({"batch": batch, "sentAt": _iso(self.now)})


def build_bodies(spec: WorkloadSpec) -> list[bytes]:
    """``spec.bodies`` serialized ``/v1/batch`` bodies with `PLACEHOLDER` message ids."""
    builder = _Builder(spec)
    return [builder.body() for _ in range(spec.bodies)]


def unique_body(template: bytes, sequence: int, prefix: str) -> bytes:
    """``template`` with every message id made unique for ``(prefix, sequence)``."""
    token = f"{prefix}{sequence:0{TOKEN_WIDTH - len(prefix)}x}".encode()
    return template.replace(PLACEHOLDER, token)
