"""The decision service: for one person and one page, the items of each placement asked for.

For each placement, in the order asked: candidates from its strategy (a fitted
recommender, the person's recently viewed items, or the placement's manual list), business
rules (filters, boosts, pins, diversity), then slot filling with a little seeded
exploration. Items an earlier placement of the same call showed are never repeated.
Whatever keeps a placement from personalizing (unknown person, no ``personalization``
consent, a model not trained, failing or empty) gives its default experience instead, and
the explanation says why. Every decision is logged, with the propensity of each item shown.

>>> # service.decide("ws_…", parse_request({"userId": "ada", "placements": ["home_hero"]}, 10))
>>> # {"decisions": {"home_hero": {"items": [...], "decision_id": "d_…", "is_default": False, ...}}}
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from unico.catalog.model import Item
from unico.catalog.snapshot import CatalogSnapshot
from unico.core.clock import Clock
from unico.core.errors import NotFound
from unico.core.ids import new_id
from unico.db.engine import Store
from unico.decide.defaults import Candidates, catalog_reason, default_candidates
from unico.decide.log import DecisionLog
from unico.decide.models import MODEL_OF, ModelRegistry
from unico.decide.people import People, Person
from unico.decide.placements import IMPERSONAL, Placement, PlacementService
from unico.decide.ranking import Draws, SeededDraws, Slot, fill_slots, pool_size
from unico.decide.request import DecideRequest
from unico.decide.rules import boosted, filter_reason, screen
from unico.decide.store import DecideStore
from unico.decide.variants import VariantChooser
from unico.recommend.base import Query

log = logging.getLogger("unico.decide")

#: Strategies that can answer from the page's item and cart alone.
CONTEXTUAL = frozenset({"also_viewed", "content"})
#: Candidates asked of a model when the rules need a wide choice (at least 5 per slot).
CANDIDATES = 50
#: Candidates asked beyond what slot filling can use, for the rules to remove.
SLACK = 10


@dataclass(slots=True)
class _Outcome:
    """One placement's candidates and what is to be said about them."""

    candidates: Candidates
    reason: str
    is_default: bool
    model: str | None = None
    error: str | None = None
    #: The model gave all it was asked for: it may have more.
    truncated: bool = False
    #: Default candidates taken from the catalog's newest items (nothing else had enough).
    from_catalog: frozenset[str] = frozenset()


@dataclass(slots=True)
class _Call:
    """What the placements of one request share."""

    workspace_id: str
    request: DecideRequest
    person: Person
    snapshot: CatalogSnapshot
    now: int
    taken: set[str] = field(default_factory=set)
    impressions: dict[int, Mapping[str, int]] = field(default_factory=dict)
    #: The person's segments, read once per call when a placement targets segments.
    memberships: set[str] | None = None
    #: Placement name -> why it must serve its default experience (targeting said so).
    forced_default: dict[str, str] = field(default_factory=dict)


class DecisionService:
    """Decisions for ``POST /v1/decide``; see the module docstring."""

    def __init__(
        self,
        store: Store,
        decide_store: DecideStore,
        placements: PlacementService,
        models: ModelRegistry,
        people: People,
        snapshot: Any,
        decision_log: DecisionLog,
        clock: Clock,
        *,
        seed: int = 0,
        memberships: Callable[[str, str], set[str]] | None = None,
        experiments: VariantChooser | None = None,
    ) -> None:
        self.store = store
        self.decide_store = decide_store
        self.placements = placements
        self.models = models
        self.people = people
        #: workspace id -> `CatalogSnapshot` (the catalog service's ``snapshot``).
        self.snapshot = snapshot
        self.log = decision_log
        self.clock = clock
        self.seed = seed
        #: (workspace id, profile id) -> names of the person's segments (for targeting).
        self.memberships = memberships
        #: Running experiments: a placement's variant for the person. The container builds
        #: experiments after decide (they need the placements and segments), so it sets it.
        self.experiments = experiments

    def decide(self, workspace_id: str, request: DecideRequest) -> dict[str, Any]:
        active = self.placements.active(workspace_id)
        for i, name in enumerate(request.placements):
            if name not in active:
                raise NotFound(f"no placement {name!r}", field=f"placements[{i}]")
        person = self.people.resolve(workspace_id, request.user_id, request.anonymous_id)
        call = _Call(
            workspace_id, request, person, self.snapshot(workspace_id), self.clock.now_ms()
        )
        decisions: dict[str, Any] = {}
        rows = []
        for name in request.placements:
            answer, row = self._one(call, active[name])
            decisions[name] = answer
            rows.append(row)
        self.log.record(rows)
        return {"decisions": decisions}

    def get(self, workspace_id: str, decision_id: str) -> dict[str, Any]:
        """A logged decision with its impressions and clicks (``GET /v1/decisions/{id}``)."""
        self.log.flush()
        with self.store.read() as conn:
            found = self.decide_store.decision(conn, workspace_id, decision_id)
            if found is None:
                raise NotFound(f"no decision {decision_id!r}", field="decision_id")
            outcomes = self.decide_store.outcomes(conn, workspace_id, decision_id)
        return decision_view(found, outcomes)

    # -- one placement ----------------------------------------------------------------------

    def _targeted(self, call: _Call, placement: Placement) -> tuple[Placement, str | None]:
        """The placement as this person gets it: a segment target's experience, or the
        default experience when the person is outside the placement's audience. Only a
        person who may be personalized has segments here (``personalization`` consent)."""
        if not placement.segments:
            return placement, None
        person = call.person
        if call.memberships is None:
            known = person.personalized and person.profile_id is not None
            call.memberships = (
                self.memberships(call.workspace_id, str(person.profile_id))
                if known and self.memberships is not None
                else set()
            )
        held = call.memberships
        if placement.audience is not None and not placement.audience.admits(held):
            why = person.reason or "not in the placement's audience: default experience"
            call.forced_default[placement.name] = why
            return placement, None
        for target in placement.targets:
            if target.segment in held:
                chosen = replace(placement, strategy=target.strategy, items=target.items)
                return chosen, target.segment
        return placement, None

    def _one(self, call: _Call, placement: Placement) -> tuple[dict[str, Any], dict[str, Any]]:
        decision_id = new_id("d_", call.now)
        placement, segment = self._targeted(call, placement)
        tested = None
        if self.experiments is not None and placement.name not in call.forced_default:
            placement, tested = self.experiments.apply(
                call.workspace_id, call.person, call.request, placement
            )
        exclude, personal_reports = self._personal_excludes(call, placement)
        pins, pin_reports = self._pins(call, placement)
        outcome, ranked, reports = self._ranked(call, placement, exclude, len(pins))
        epsilon = 0.0 if outcome.is_default else placement.epsilon
        rng: Draws = _NO_RNG
        if epsilon:
            rng = SeededDraws((self.seed << 128) | int(decision_id[-32:], 16))
        slots, passed_over = fill_slots(ranked, pins, placement.rules, placement.size, epsilon, rng)
        filled = 0
        if len(slots) < placement.size and not outcome.is_default:
            slots, filled = self._fill_from_default(call, placement, slots, exclude)
        if outcome.from_catalog:
            outcome.reason = catalog_reason(outcome.reason, outcome.from_catalog, placement, slots)
        call.taken.update(s.item.item_id for s in slots)
        rules = personal_reports + reports + pin_reports
        if passed_over:
            rules.append({"rule": "diversity", "passed_over": passed_over})
        explanation: dict[str, Any] = {
            "strategy": placement.strategy,
            "model": outcome.model,
            "reason": outcome.reason,
            "personalized": call.person.personalized,
            "history": len(call.person.history),
            "rules": rules,
            "exploration": {
                "epsilon": epsilon,
                "explored": sum(1 for s in slots if s.source == "explored"),
            },
            "filled_from_default": filled,
        }
        if outcome.error:
            explanation["error"] = outcome.error
        if segment is not None:
            explanation["segment"] = segment
        if tested is not None:
            explanation["experiment"] = tested
        if call.request.ignored_context:
            explanation["ignored_context"] = list(call.request.ignored_context)
            if call.request.ignored_more:
                explanation["ignored_context_more"] = call.request.ignored_more
        scores = [round(s.score, 6) for s in slots]
        answer = {
            "decision_id": decision_id,
            "is_default": outcome.is_default,
            "items": [_shown(s, score) for s, score in zip(slots, scores, strict=True)],
            "explanation": explanation,
        }
        if tested is not None:
            answer["experiment"] = tested
        row = self._row(call, placement, decision_id, outcome, slots, scores, explanation)
        return answer, row

    def _row(
        self,
        call: _Call,
        placement: Placement,
        decision_id: str,
        outcome: _Outcome,
        slots: list[Slot],
        scores: list[float],
        explanation: dict[str, Any],
    ) -> dict[str, Any]:
        return {
            "workspace_id": call.workspace_id,
            "decision_id": decision_id,
            "placement": placement.name,
            "profile_id": call.person.profile_id,
            "anonymous_id": call.request.anonymous_id,
            "user_id": call.request.user_id,
            "strategy": "default" if outcome.is_default else placement.strategy,
            "is_default": outcome.is_default,
            "items": [
                {
                    "id": s.item.item_id,
                    "position": s.position,
                    "score": score,
                    "propensity": s.propensity,
                    "source": s.source,
                }
                for s, score in zip(slots, scores, strict=True)
            ],
            "context": call.request.context,
            "explanation": explanation,
            "at": call.now,
        }

    def _personal_excludes(
        self, call: _Call, placement: Placement
    ) -> tuple[frozenset[str], list[dict[str, Any]]]:
        """Items the person's data rules out (purchased, viewed, shown too often)."""
        rules, person = placement.rules, call.person
        if not rules.personal:
            return frozenset(), []
        if not person.personalized or person.profile_id is None:
            return frozenset(), [{"rule": "personal rules", "skipped": person.reason}]
        out: set[str] = set()
        reports = []
        for name, wanted, items in (
            ("exclude_purchased", rules.exclude_purchased, person.purchased),
            ("exclude_viewed", rules.exclude_viewed, person.viewed),
        ):
            if wanted and items:
                out |= items
                reports.append({"rule": name, "excluded": len(items)})
        if rules.max_impressions is not None:
            seen = self._impressions(call, rules.impression_window_ms)
            capped = {i for i, n in seen.items() if n >= rules.max_impressions}
            if capped:
                out |= capped
                reports.append({"rule": "max_impressions", "excluded": len(capped)})
        return frozenset(out), reports

    def _impressions(self, call: _Call, window_ms: int) -> Mapping[str, int]:
        found = call.impressions.get(window_ms)
        if found is None:
            assert call.person.profile_id is not None
            with self.store.read() as conn:
                found = self.decide_store.impressions(
                    conn, call.workspace_id, call.person.profile_id, call.now - window_ms
                )
            call.impressions[window_ms] = found
        return found

    # -- candidates ------------------------------------------------------------------------------

    def _ranked(
        self, call: _Call, placement: Placement, exclude: frozenset[str], pins: int
    ) -> tuple[_Outcome, list[tuple[Item, float]], list[dict[str, Any]]]:
        """The placement's candidates after the rules, best first.

        Slot filling only ever looks at the best ``pool_size`` of them (besides pins), so
        the models are asked for that many and a few more, which gives the same slots as
        asking for many. When the rules leave too few, or boosts may lift a candidate from
        further down, the models are asked for the full ``wide`` list.
        """
        need = pool_size(placement.size) + pins
        wide = max(CANDIDATES, 5 * placement.size)
        k = wide if placement.rules.boosts else min(wide, need + SLACK)
        while True:
            outcome = self._candidates(call, placement, exclude, k)
            if outcome.is_default:
                outcome.candidates, outcome.truncated, outcome.from_catalog = (
                    self._default_candidates(call, placement, exclude, k, from_catalog=True)
                )
            ranked, reports = self._filtered(call, placement, outcome.candidates, exclude)
            if len(ranked) >= need or not outcome.truncated:
                return outcome, ranked, reports
            if k >= wide and not outcome.is_default:
                return outcome, ranked, reports
            # A default experience looks further down, to the whole catalog if it must.
            k = wide if k < wide else 4 * k

    def _candidates(
        self, call: _Call, placement: Placement, exclude: frozenset[str], k: int
    ) -> _Outcome:
        strategy, person = placement.strategy, call.person
        forced = call.forced_default.get(placement.name)
        if forced is not None:
            return _Outcome([], forced, True)
        if strategy == "manual":
            n = len(placement.items)
            return _Outcome(
                [(i, float(n - k)) for k, i in enumerate(placement.items)], "manual", False
            )
        contextual = strategy in CONTEXTUAL and bool(call.request.context_items)
        if strategy not in IMPERSONAL and not person.personalized and not contextual:
            return _Outcome([], person.reason, True)
        if strategy == "recently_viewed":
            seen = dict.fromkeys(h.item_id for h in person.history)
            if not seen:
                return _Outcome([], "nothing viewed yet: default experience", True)
            n = len(seen)
            return _Outcome(
                [(i, float(n - k)) for k, i in enumerate(seen)], "recently viewed", False
            )
        return self._from_model(call, placement, exclude, k)

    def _from_model(
        self, call: _Call, placement: Placement, exclude: frozenset[str], k: int
    ) -> _Outcome:
        name = MODEL_OF[placement.strategy]
        model = self.models.get(call.workspace_id, name)
        if model is None:
            return _Outcome([], f"model {name} is not trained yet: default experience", True, name)
        person = call.person
        personal = person.personalized and placement.strategy not in IMPERSONAL
        query = Query(
            history=person.weights if personal else {},
            context_items=call.request.context_items
            if placement.strategy not in IMPERSONAL
            else (),
            k=k,
            exclude=frozenset(call.taken) | exclude,
            now_ms=call.now,
        )
        try:
            if callable(getattr(model, "learn_one", None)):
                with self.models.lock(call.workspace_id):
                    scored = model.recommend(query)
            else:
                scored = model.recommend(query)
        except Exception as exc:  # a failing model never fails a decision
            log.exception("model %s failed for workspace %s", name, call.workspace_id)
            reason = f"model {name} failed: default experience"
            return _Outcome([], reason, True, name, f"{type(exc).__name__}: {exc}"[:300])
        if not scored:
            return _Outcome(
                [], f"model {name} had nothing to recommend: default experience", True, name
            )
        reason = _reason(placement.strategy, person, bool(call.request.context_items))
        # `Scored` is an (item_id, score) tuple already: the candidates as they are.
        return _Outcome(scored, reason, False, name, truncated=len(scored) >= k)

    def _default_candidates(
        self,
        call: _Call,
        placement: Placement,
        exclude: frozenset[str],
        k: int,
        *,
        from_catalog: bool = False,
    ) -> tuple[Candidates, bool, frozenset[str]]:
        """The default experience's candidates (see `unico.decide.defaults`), never the
        page's own items beyond the listed ones (a product page's "also like" is not it)."""
        banned = frozenset(call.taken) | exclude | set(call.request.context_items)
        return default_candidates(
            self.models,
            call.workspace_id,
            placement,
            call.snapshot,
            Query(k=k, exclude=banned, now_ms=call.now),
            from_catalog=from_catalog,
        )

    def _fill_from_default(
        self, call: _Call, placement: Placement, slots: list[Slot], exclude: frozenset[str]
    ) -> tuple[list[Slot], int]:
        """Top a short list up with the default experience's items."""
        shown = {s.item.item_id for s in slots}
        wide = max(CANDIDATES, 5 * placement.size)
        found, _, _ = self._default_candidates(call, placement, exclude, wide)
        candidates = [c for c in found if c[0] not in shown]
        ranked, _ = self._filtered(call, placement, candidates, exclude | shown)
        out = list(slots)
        for item, score in ranked[: placement.size - len(out)]:
            out.append(Slot(item, score, len(out) + 1, 1.0, "default"))
        return out, len(out) - len(slots)

    # -- rules ---------------------------------------------------------------------------------

    def _filtered(
        self, call: _Call, placement: Placement, candidates: Candidates, exclude: frozenset[str]
    ) -> tuple[list[tuple[Item, float]], list[dict[str, Any]]]:
        kept, removed = screen(
            candidates,
            call.snapshot.items,
            placement.rules,
            placement.kinds,
            call.taken,
            exclude,
            call.now,
        )
        reports = [{"rule": r, "removed": n} for r, n in removed.items() if r != "duplicate"]
        ranked, boosts = boosted(placement.rules, kept)
        return ranked, reports + boosts

    def _pins(
        self, call: _Call, placement: Placement
    ) -> tuple[list[tuple[Item, int]], list[dict[str, Any]]]:
        out: list[tuple[Item, int]] = []
        dropped = []
        for item_id, position in placement.rules.pins:
            item = call.snapshot.items.get(item_id)
            reason = (
                "not in the catalog"
                if item is None
                else "shown by an earlier placement"
                if item_id in call.taken
                else filter_reason(placement.rules, item, call.now)
            )
            if item is None or reason is not None:
                dropped.append({"item": item_id, "because": reason})
            elif position <= placement.size:
                out.append((item, position))
        reports: list[dict[str, Any]] = []
        if out:
            reports.append({"rule": "pins", "pinned": [[i.item_id, p] for i, p in out]})
        if dropped:
            reports.append({"rule": "pins", "dropped": dropped})
        return out, reports


#: Never drawn from (epsilon 0).
_NO_RNG = SeededDraws(0)


def _reason(strategy: str, person: Person, has_context: bool) -> str:
    if strategy in IMPERSONAL:
        return f"{strategy}: the same for everyone"
    if not person.personalized:
        return f"{strategy} on the page's items only ({person.reason.split(':')[0]})"
    where = " and the page's items" if has_context else ""
    return f"{strategy} on {len(person.history)} recent interactions{where}"


def _shown(slot: Slot, score: float) -> dict[str, Any]:
    return {**slot.item.public(), "position": slot.position, "score": score}


def decision_view(found: Mapping[str, Any], outcomes: list[dict[str, Any]]) -> dict[str, Any]:
    from unico.core.clock import to_iso

    def outcome(o: Mapping[str, Any]) -> dict[str, Any]:
        return {"item_id": o["item_id"], "position": o["position"], "at": to_iso(o["at"])}

    return {
        **{k: v for k, v in found.items() if k != "workspace_id"},
        "at": to_iso(found["at"]),
        "impressions": [outcome(o) for o in outcomes if o["kind"] == "impression"],
        "clicks": [outcome(o) for o in outcomes if o["kind"] == "click"],
        "conversions": [
            {"kind": o["kind"], "item_id": o["item_id"], "at": to_iso(o["at"])}
            for o in outcomes
            if o["kind"] in ("add", "order")
        ],
    }
