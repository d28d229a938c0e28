"""Placements: named slots (``home_hero``, ``pdp_also_like``, ``email_reco``...) with a
strategy, a size, business rules and a default experience.

Specs are validated when saved (unknown keys, strategies and catalog items are refused)
and kept in memory per workspace, so a decision never reads them from the store: the
cache is checked against the workspace's placement revision at most every
``cache_seconds``, and this process's own changes show at once.

>>> spec = PlacementSpec.model_validate({"name": "home", "strategy": "popular", "size": 4})
>>> compile_placement(spec, 0.05).size
4
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import Connection

from unico.catalog.model import KINDS
from unico.core.clock import Clock, to_iso
from unico.core.errors import Conflict, InvalidInput, NotFound, Unprocessable
from unico.core.revisions import RevisionCache
from unico.core.spec import validate_spec
from unico.db.engine import Store
from unico.decide.rules import Rules, RulesSpec, compile_rules
from unico.decide.store import DecideStore

STRATEGIES = (
    "popular",
    "trending",
    "also_viewed",
    "als",
    "ease",
    "content",
    "hybrid",
    "recently_viewed",
    "manual",
)
#: Strategies that need nothing of the person: everyone gets them, consent or not.
IMPERSONAL = frozenset({"popular", "trending", "manual"})
Strategy = Literal[
    "popular",
    "trending",
    "also_viewed",
    "als",
    "ease",
    "content",
    "hybrid",
    "recently_viewed",
    "manual",
]
ItemId = Annotated[str, Field(min_length=1, max_length=255)]
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$"


class DefaultSpec(BaseModel):
    """The default experience: these items first, then the fallback strategy's."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    items: list[ItemId] = Field(default_factory=list, max_length=200)
    strategy: Literal["popular", "trending", "none"] = "popular"


SegmentName = Annotated[str, Field(min_length=1, max_length=200)]


class AudienceSpec(BaseModel):
    """Who the placement personalizes for: members of ``segments`` (any or all of them)
    and of none of ``exclude``. Everyone else gets the default experience."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    segments: list[SegmentName] = Field(default_factory=list, max_length=20)
    match: Literal["any", "all"] = "any"
    exclude: list[SegmentName] = Field(default_factory=list, max_length=20)

    @model_validator(mode="after")
    def _something(self) -> AudienceSpec:
        if not self.segments and not self.exclude:
            raise ValueError("an audience names segments to include or exclude")
        return self


class TargetSpec(BaseModel):
    """An experience for one segment: its members get this strategy (or these items)
    instead of the placement's own. The first target whose segment holds wins."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    segment: SegmentName
    strategy: Strategy | None = None
    items: list[ItemId] = Field(default_factory=list, max_length=200)

    @model_validator(mode="after")
    def _what(self) -> TargetSpec:
        if self.items and self.strategy not in (None, "manual"):
            raise ValueError("a target lists items (manual) or names a strategy, not both")
        if not self.items and self.strategy in (None, "manual"):
            raise ValueError("a target needs a strategy or its items")
        return self


class PlacementSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=NAME_PATTERN)
    strategy: Strategy
    size: int = Field(ge=1, le=50)
    #: The items of a ``manual`` placement, in order.
    items: list[ItemId] = Field(default_factory=list, max_length=200)
    rules: RulesSpec = Field(default_factory=lambda: RulesSpec.model_validate({}))
    default: DefaultSpec = Field(default_factory=DefaultSpec)
    #: Shortcut for ``default.items``.
    default_items: list[ItemId] | None = Field(None, max_length=200)
    kinds: list[Literal["product", "content", "offer", "promotion"]] | None = Field(
        None, min_length=1
    )
    #: Chance per slot of showing a random eligible item instead of the best one.
    epsilon: float | None = Field(None, ge=0, le=1)
    description: str = Field("", max_length=500)
    #: Segment targeting: who is personalized, and per-segment experiences.
    audience: AudienceSpec | None = None
    targets: list[TargetSpec] = Field(default_factory=list, max_length=20)

    @model_validator(mode="after")
    def _manual_items(self) -> PlacementSpec:
        if self.strategy == "manual" and not self.items:
            raise ValueError("a manual placement lists its items")
        if self.strategy != "manual" and self.items:
            raise ValueError("items are for manual placements (see default.items)")
        return self

    def stored(self) -> dict[str, Any]:
        """The normalized spec as stored (``default_items`` folded into ``default``)."""
        out = self.model_dump(exclude={"default_items"}, exclude_none=True)
        if self.default_items is not None:
            out["default"]["items"] = list(self.default_items)
        out["rules"] = self.rules.model_dump(exclude_none=True, exclude_defaults=True)
        return out


@dataclass(frozen=True, slots=True)
class Placement:
    """A placement as decisions use it."""

    name: str
    strategy: str
    size: int
    items: tuple[str, ...]
    rules: Rules
    default_items: tuple[str, ...]
    default_strategy: str
    kinds: frozenset[str] | None
    epsilon: float
    audience: Audience | None = None
    targets: tuple[Target, ...] = ()

    @property
    def segments(self) -> frozenset[str]:
        """Every segment the placement's targeting reads."""
        names = {t.segment for t in self.targets}
        if self.audience is not None:
            names |= self.audience.include | self.audience.exclude
        return frozenset(names)


@dataclass(frozen=True, slots=True)
class Audience:
    include: frozenset[str]
    match_all: bool
    exclude: frozenset[str]

    def admits(self, memberships: frozenset[str] | set[str]) -> bool:
        """Whether a person in ``memberships`` belongs to the audience.

        >>> Audience(frozenset({"vip", "it"}), False, frozenset({"churned"})).admits({"vip"})
        True
        >>> Audience(frozenset({"vip", "it"}), True, frozenset()).admits({"vip"})
        False
        """
        if self.exclude & memberships:
            return False
        if not self.include:
            return True
        if self.match_all:
            return self.include <= memberships
        return bool(self.include & memberships)


@dataclass(frozen=True, slots=True)
class Target:
    segment: str
    strategy: str
    items: tuple[str, ...]


def compile_placement(spec: PlacementSpec, default_epsilon: float) -> Placement:
    default_items = spec.default_items if spec.default_items is not None else spec.default.items
    return Placement(
        name=spec.name,
        strategy=spec.strategy,
        size=spec.size,
        items=tuple(spec.items),
        rules=compile_rules(spec.rules),
        default_items=tuple(default_items),
        default_strategy=spec.default.strategy,
        kinds=frozenset(spec.kinds) if spec.kinds else None,
        epsilon=default_epsilon if spec.epsilon is None else spec.epsilon,
        audience=_audience(spec.audience),
        targets=tuple(
            Target(t.segment, "manual" if t.items else str(t.strategy), tuple(t.items))
            for t in spec.targets
        ),
    )


def _audience(spec: AudienceSpec | None) -> Audience | None:
    if spec is None:
        return None
    return Audience(frozenset(spec.segments), spec.match == "all", frozenset(spec.exclude))


def parse_spec(raw: Any) -> PlacementSpec:
    """A placement spec from JSON, or `InvalidInput` naming the first bad field."""
    return validate_spec(PlacementSpec, raw, "placement")


@dataclass(frozen=True, slots=True)
class _Compiled:
    """A workspace's placements at one revision: compiled, and as stored."""

    placements: dict[str, Placement]
    specs: dict[str, dict[str, Any]]


class PlacementService:
    """Placements of each workspace: admin CRUD and the cached view decisions read.

    ``known_items(workspace_id, ids)`` answers which of ``ids`` the catalog has; saving a
    placement naming any other item fails with 422.

    >>> # service.create("ws_…", {"name": "home_hero", "strategy": "popular", "size": 4})
    """

    def __init__(
        self,
        store: Store,
        decide_store: DecideStore,
        clock: Clock,
        known_items: Callable[[str, Iterable[str]], set[str]],
        *,
        known_segments: Callable[[str], set[str]] | None = None,
        cache_seconds: float = 2.0,
        default_epsilon: float = 0.05,
    ) -> None:
        self.store = store
        self.decide_store = decide_store
        self.clock = clock
        self.known_items = known_items
        #: The workspace's segment names (targeting may only name existing segments).
        self.known_segments = known_segments
        self.cache_seconds = cache_seconds
        self.default_epsilon = default_epsilon
        self._cache: RevisionCache[_Compiled] = RevisionCache(
            revision=decide_store.revision,
            build=self._load,
            check_seconds=cache_seconds,
            read=store.read,
        )

    # -- what decisions read --------------------------------------------------------------

    def active(self, workspace_id: str) -> Mapping[str, Placement]:
        """The workspace's placements, from memory (version-checked every ``cache_seconds``)."""
        return self._cache.cached(workspace_id).placements

    def _load(self, conn: Connection, workspace_id: str, _revision: int) -> _Compiled:
        specs = self.decide_store.placements(conn, workspace_id)
        return _Compiled(self._compile_all(specs), specs)

    def _compile_all(self, specs: Mapping[str, dict[str, Any]]) -> dict[str, Placement]:
        out = {}
        for name, stored in specs.items():
            body = {k: v for k, v in stored.items() if k not in ("created_at", "updated_at")}
            out[name] = compile_placement(PlacementSpec.model_validate(body), self.default_epsilon)
        return out

    # -- admin ----------------------------------------------------------------------------

    def list(self, workspace_id: str) -> list[dict[str, Any]]:
        specs = self._fresh(workspace_id).specs
        return [_view(name, spec) for name, spec in specs.items()]

    def get(self, workspace_id: str, name: str) -> dict[str, Any]:
        specs = self._fresh(workspace_id).specs
        if name not in specs:
            raise NotFound(f"no placement {name!r}", field="name")
        return _view(name, specs[name])

    def create(self, workspace_id: str, raw: Any) -> dict[str, Any]:
        """Create a placement; 409 when the name is taken."""
        spec = self._validated(workspace_id, raw)
        if spec.name in self._fresh(workspace_id).specs:
            raise Conflict(f"placement {spec.name!r} exists; PUT or PATCH it", field="name")
        return self._save(workspace_id, spec)

    def replace(self, workspace_id: str, name: str, raw: Any) -> dict[str, Any]:
        """Create or replace the placement ``name`` (PUT)."""
        if isinstance(raw, dict):
            raw = {**raw, "name": raw.get("name", name)}
        spec = self._validated(workspace_id, raw)
        if spec.name != name:
            raise InvalidInput("the body's name differs from the URL's", field="name")
        return self._save(workspace_id, spec)

    def update(self, workspace_id: str, name: str, patch: Any) -> dict[str, Any]:
        """Change some top-level fields of a placement (PATCH)."""
        current = self.get(workspace_id, name)
        if not isinstance(patch, dict):
            raise InvalidInput("a patch is a JSON object", field="body")
        merged = {k: v for k, v in current.items() if k not in ("created_at", "updated_at")}
        merged.update(patch)
        return self.replace(workspace_id, name, merged)

    def delete(self, workspace_id: str, name: str) -> None:
        with self.store.write() as conn:
            gone = self.decide_store.delete_placement(conn, workspace_id, name)
        self._cache.forget(workspace_id)
        if not gone:
            raise NotFound(f"no placement {name!r}", field="name")

    def _fresh(self, workspace_id: str) -> _Compiled:
        self._cache.forget(workspace_id)
        return self._cache.cached(workspace_id)

    def _validated(self, workspace_id: str, raw: Any) -> PlacementSpec:
        spec = parse_spec(raw)
        named = [("items", i) for i in spec.items]
        default_items = spec.default_items if spec.default_items is not None else spec.default.items
        where = "default_items" if spec.default_items is not None else "default.items"
        named += [(where, i) for i in default_items]
        named += [("rules.pins", p.item) for p in spec.rules.pins]
        for t, target in enumerate(spec.targets):
            named += [(f"targets[{t}].items", i) for i in target.items]
        self._check_segments(workspace_id, spec)
        known = self.known_items(workspace_id, {item for _, item in named})
        seen: dict[str, int] = {}
        for field, item in named:
            index = seen[field] = seen.get(field, -1) + 1
            if item not in known:
                suffix = ".item" if field == "rules.pins" else ""
                raise Unprocessable(
                    f"item {item!r} is not in the catalog", field=f"{field}[{index}]{suffix}"
                )
        return spec

    def _check_segments(self, workspace_id: str, spec: PlacementSpec) -> None:
        named = [(f"targets[{i}].segment", t.segment) for i, t in enumerate(spec.targets)]
        if spec.audience is not None:
            named += [(f"audience.segments[{i}]", n) for i, n in enumerate(spec.audience.segments)]
            named += [(f"audience.exclude[{i}]", n) for i, n in enumerate(spec.audience.exclude)]
        if not named:
            return
        known = self.known_segments(workspace_id) if self.known_segments else set()
        for field, name in named:
            if name not in known:
                raise Unprocessable(f"no segment {name!r}", field=field)

    def _save(self, workspace_id: str, spec: PlacementSpec) -> dict[str, Any]:
        with self.store.write() as conn:
            self.decide_store.save_placement(
                conn, workspace_id, spec.name, spec.stored(), self.clock.now_ms()
            )
        return self.get(workspace_id, spec.name)


def _view(name: str, spec: Mapping[str, Any]) -> dict[str, Any]:
    body = {k: v for k, v in spec.items() if k not in ("created_at", "updated_at", "name")}
    return {
        "name": name,
        **body,
        "created_at": to_iso(spec.get("created_at")),
        "updated_at": to_iso(spec.get("updated_at")),
    }


__all__ = ["IMPERSONAL", "KINDS", "STRATEGIES", "Placement", "PlacementService", "PlacementSpec"]
