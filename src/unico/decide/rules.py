"""Business rules of a placement: what may be shown (filters), what is favoured (boosts),
what is fixed (pins) and how varied the result must be (diversity).

Rules are validated once when a placement is saved (`RulesSpec`, unknown keys refused) and
compiled into `Rules`, which decisions apply to candidate lists. Every rule that removes or
changes something says so in the decision's explanation.

>>> spec = {"price_max": 50, "pins": [{"item": "a", "position": 1}]}
>>> rules = compile_rules(RulesSpec.model_validate(spec))
>>> rules.price_max, rules.pins
(50.0, (('a', 1),))
"""

from __future__ import annotations

from collections.abc import Collection, Container, Iterable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool, model_validator

from unico.catalog.model import CATEGORY_SEPARATOR, Item

Text = Annotated[str, Field(min_length=1, max_length=255)]
Factor = Annotated[float, Field(gt=0, le=100)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CategoriesSpec(_Strict):
    #: Category paths written "Shoes > Running"; an item matches a path it starts with.
    include: list[Text] = Field(default_factory=list, max_length=100)
    exclude: list[Text] = Field(default_factory=list, max_length=100)


class ImpressionsSpec(_Strict):
    count: int = Field(ge=1, le=1000)
    window_hours: float = Field(24.0, gt=0, le=24 * 366)


class AttributeSpec(_Strict):
    name: Text
    value: Text


class BoostSpec(_Strict):
    """Multiply the score of matching items by ``factor``; ``value`` boosts by business
    value (margin): ``score * (1 + factor * value / highest value among candidates)``."""

    factor: Factor
    brand: Text | None = None
    tag: Text | None = None
    category: Text | None = None
    attribute: AttributeSpec | None = None
    value: StrictBool | None = None

    @model_validator(mode="after")
    def _one_condition(self) -> BoostSpec:
        given = [k for k in ("brand", "tag", "category", "attribute", "value") if getattr(self, k)]
        if len(given) != 1:
            raise ValueError("a boost names exactly one of brand, tag, category, attribute, value")
        return self


class PinSpec(_Strict):
    item: Text
    position: int = Field(ge=1, le=100)


class DiversitySpec(_Strict):
    max_per_category: int | None = Field(None, ge=1, le=100)
    max_per_brand: int | None = Field(None, ge=1, le=100)
    #: How many levels of the category path make "the same category" (1: top level).
    category_depth: int = Field(1, ge=1, le=10)


class RulesSpec(_Strict):
    in_stock: StrictBool = True
    categories: CategoriesSpec | None = None
    price_min: float | None = Field(None, ge=0)
    price_max: float | None = Field(None, ge=0)
    exclude_purchased: StrictBool = False
    exclude_viewed: StrictBool = False
    max_impressions: ImpressionsSpec | None = None
    boosts: list[BoostSpec] = Field(default_factory=list, max_length=50)
    pins: list[PinSpec] = Field(default_factory=list, max_length=100)
    diversity: DiversitySpec | None = None

    @model_validator(mode="after")
    def _consistent(self) -> RulesSpec:
        low, high = self.price_min, self.price_max
        if low is not None and high is not None and low > high:
            raise ValueError("price_min is above price_max")
        positions = [p.position for p in self.pins]
        if len(set(positions)) != len(positions):
            raise ValueError("two pins share a position")
        return self


def _path(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(CATEGORY_SEPARATOR.strip()) if part.strip())


@dataclass(frozen=True, slots=True)
class Boost:
    factor: float
    brand: str | None = None
    tag: str | None = None
    category: tuple[str, ...] | None = None
    attribute: tuple[str, str] | None = None
    by_value: bool = False

    def matches(self, item: Item) -> bool:
        if self.brand is not None:
            return item.brand == self.brand
        if self.tag is not None:
            return self.tag in item.tags
        if self.category is not None:
            return item.category[: len(self.category)] == self.category
        if self.attribute is not None:
            found = item.attributes.get(self.attribute[0])
            wanted = self.attribute[1]
            return found == wanted or (isinstance(found, list) and wanted in found)
        return False

    def describe(self) -> dict[str, Any]:
        if self.by_value:
            return {"value": True, "factor": self.factor}
        for key in ("brand", "tag", "category", "attribute"):
            found = getattr(self, key)
            if found is not None:
                shown = CATEGORY_SEPARATOR.join(found) if key == "category" else found
                return {key: list(shown) if key == "attribute" else shown, "factor": self.factor}
        return {"factor": self.factor}


@dataclass(frozen=True, slots=True)
class Rules:
    """Compiled rules, applied by `unico.decide.ranking`."""

    in_stock: bool = True
    include: tuple[tuple[str, ...], ...] = ()
    exclude: tuple[tuple[str, ...], ...] = ()
    price_min: float | None = None
    price_max: float | None = None
    exclude_purchased: bool = False
    exclude_viewed: bool = False
    max_impressions: int | None = None
    impression_window_ms: int = 86_400_000
    boosts: tuple[Boost, ...] = ()
    pins: tuple[tuple[str, int], ...] = ()
    max_per_category: int | None = None
    max_per_brand: int | None = None
    category_depth: int = 1

    @property
    def personal(self) -> bool:
        """Whether the rules read the person's data (history, impressions)."""
        return self.exclude_purchased or self.exclude_viewed or self.max_impressions is not None


def compile_rules(spec: RulesSpec) -> Rules:
    cats = spec.categories or CategoriesSpec()
    diversity = spec.diversity or DiversitySpec.model_validate({})
    boosts = tuple(
        Boost(
            b.factor,
            brand=b.brand,
            tag=b.tag,
            category=_path(b.category) if b.category else None,
            attribute=(b.attribute.name, b.attribute.value) if b.attribute else None,
            by_value=bool(b.value),
        )
        for b in spec.boosts
    )
    impressions = spec.max_impressions
    return Rules(
        in_stock=spec.in_stock,
        include=tuple(_path(c) for c in cats.include),
        exclude=tuple(_path(c) for c in cats.exclude),
        price_min=spec.price_min,
        price_max=spec.price_max,
        exclude_purchased=spec.exclude_purchased,
        exclude_viewed=spec.exclude_viewed,
        max_impressions=impressions.count if impressions else None,
        impression_window_ms=int((impressions.window_hours if impressions else 24) * 3_600_000),
        boosts=boosts,
        pins=tuple((p.item, p.position) for p in spec.pins),
        max_per_category=diversity.max_per_category,
        max_per_brand=diversity.max_per_brand,
        category_depth=diversity.category_depth,
    )


def _under(category: tuple[str, ...], prefixes: tuple[tuple[str, ...], ...]) -> bool:
    return any(category[: len(p)] == p for p in prefixes)


def filter_reason(rules: Rules, item: Item, now_ms: int) -> str | None:
    """The rule that keeps ``item`` out (None: it may be shown). Validity windows always
    apply; stock only with ``in_stock`` (the default)."""
    if item.valid_from is not None and now_ms < item.valid_from:
        return "validity"
    if item.valid_until is not None and now_ms >= item.valid_until:
        return "validity"
    if rules.in_stock and not (item.in_stock and (item.stock is None or item.stock > 0)):
        return "in_stock"
    if rules.include and not _under(item.category, rules.include):
        return "categories"
    if rules.exclude and _under(item.category, rules.exclude):
        return "categories"
    if rules.price_min is not None and (item.price is None or item.price < rules.price_min):
        return "price_min"
    if rules.price_max is not None and (item.price is None or item.price > rules.price_max):
        return "price_max"
    return None


def screen(
    candidates: Iterable[tuple[str, float]],
    items: Mapping[str, Item],
    rules: Rules,
    kinds: Collection[str] | None,
    taken: Container[str],
    exclude: Container[str],
    now_ms: int,
) -> tuple[list[tuple[Item, float]], dict[str, int]]:
    """The candidates the rules keep, in order, and how many each rule removed (``unknown_item``,
    ``duplicate``, ``dedupe`` for items ``taken`` by an earlier placement, ``kinds``, then
    `filter_reason`'s names). Items in ``exclude`` are left out silently.

    Run for every candidate of every decision: the common case (an item without a validity
    window, in stock, no category or price rule) takes no call.
    """
    removed: dict[str, int] = {}
    kept: list[tuple[Item, float]] = []
    keep = kept.append  # bound once: this loop runs for every candidate
    seen: set[str] = set()
    see = seen.add
    plain = not (rules.include or rules.exclude) and rules.price_min is None
    plain = plain and rules.price_max is None
    for item_id, score in candidates:
        try:  # not items.get: the get of a read-only mapping is several times slower
            item = items[item_id]
        except KeyError:
            removed["unknown_item"] = removed.get("unknown_item", 0) + 1
            continue
        if item_id in seen:
            reason = "duplicate"
        else:
            see(item_id)
            if item_id in taken:
                reason = "dedupe"
            elif item_id in exclude:
                continue  # reported by the personal rules
            elif kinds is not None and item.kind not in kinds:
                reason = "kinds"
            elif (
                plain
                and item.valid_from is None
                and item.valid_until is None
                and item.stock is None
                and item.in_stock
            ):
                keep((item, score))
                continue
            else:
                found = filter_reason(rules, item, now_ms)
                if found is None:
                    keep((item, score))
                    continue
                reason = found
        removed[reason] = removed.get(reason, 0) + 1
    return kept, removed


def boosted(
    rules: Rules, scored: list[tuple[Item, float]]
) -> tuple[list[tuple[Item, float]], list[dict[str, Any]]]:
    """Scores after boosts, best first, and a report of each boost that changed any."""
    if not rules.boosts or not scored:
        return scored, []
    top_value = max((i.value or 0.0) for i, _ in scored) or 1.0
    scores = [s for _, s in scored]
    reports = []
    for boost in rules.boosts:
        changed = 0
        for n, (item, _) in enumerate(scored):
            if boost.by_value:
                if item.value:
                    scores[n] *= 1.0 + boost.factor * max(item.value, 0.0) / top_value
                    changed += 1
            elif boost.matches(item):
                scores[n] *= boost.factor
                changed += 1
        if changed:
            reports.append({"rule": "boost", **boost.describe(), "changed": changed})
    out = sorted(zip((i for i, _ in scored), scores, strict=True), key=lambda p: -p[1])
    return out, reports


def diversity_key(rules: Rules, item: Item) -> tuple[str, ...]:
    return item.category[: rules.category_depth]


def rules_view(spec: Mapping[str, Any]) -> dict[str, Any]:
    """A stored rules spec as the API shows it (defaults filled in)."""
    return RulesSpec.model_validate(spec).model_dump(exclude_none=True)
