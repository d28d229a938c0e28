"""Running experiments as decisions meet them: cached per workspace, applied to placements,
exposures logged once per unit.

The running experiments of a workspace are kept in memory, keyed by placement and by key,
and checked against the workspace's experiment revision at most every ``cache_seconds``
(as placements are): with none running, a decision pays one dict lookup.

A unit is the person's profile id once known, else their user id, else their anonymous
id. A person keeps the variant of their first exposure: before hashing, their earlier
exposure is looked up by profile id, user id and every anonymous id they used, so someone
first seen anonymously keeps their variant once identified, on every channel and device.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import Connection

from unico.core.clock import Clock
from unico.core.revisions import RevisionCache
from unico.db.engine import Store
from unico.decide.people import Person
from unico.decide.placements import Placement
from unico.decide.request import DecideRequest
from unico.experiments.assignment import RunningExperiment, Variant
from unico.experiments.exposures import ExposureLog
from unico.experiments.store import ExperimentStore

HOLDOUT = "holdout"
#: Units remembered per workspace (their variant, or that they are out).
MAX_KNOWN = 200_000
_OUT = ""


@dataclass(frozen=True, slots=True)
class Who:
    """The person asking: a profile id once known, else the ids the request carried."""

    profile_id: str | None = None
    user_id: str | None = None
    anonymous_id: str | None = None

    @property
    def unit(self) -> str | None:
        """What assignment hashes: the profile id, else the user id, else the anonymous id."""
        if self.profile_id is not None:
            return self.profile_id
        if self.user_id is not None:
            return f"u:{self.user_id}"
        return f"a:{self.anonymous_id}" if self.anonymous_id is not None else None


@dataclass(slots=True)
class _Cached:
    """A workspace's running experiments at one revision, and the units seen since."""

    by_placement: dict[str, list[RunningExperiment]]
    by_key: dict[str, RunningExperiment]
    by_id: dict[str, RunningExperiment]
    #: (experiment id, unit id) -> variant name, or ``_OUT``.
    known: dict[tuple[str, str], str] = field(default_factory=dict)


class ExperimentRuntime:
    """Assignment for decisions (``apply``) and for any other channel (``assign``).

    ``load(conn, workspace_id)`` gives the running experiments (compiled);
    ``memberships(workspace_id, profile_id)`` the person's segment names;
    ``anonymous_ids(conn, workspace_id, profile_ids)`` the anonymous ids a person used
    (their exposures from before they were identified).
    """

    def __init__(
        self,
        store: Store,
        experiments: ExperimentStore,
        clock: Clock,
        load: Callable[[Any, str], list[RunningExperiment]],
        memberships: Callable[[str, str], set[str]],
        anonymous_ids: Callable[[Any, str, list[str]], list[str]],
        *,
        merged_from: Callable[[Any, str, str], list[str]] | None = None,
        cache_seconds: float = 2.0,
    ) -> None:
        self.store = store
        self.experiments = experiments
        self.clock = clock
        self.load = load
        self.memberships = memberships
        #: (conn, workspace id, profile ids) -> every anonymous id of those people.
        self.anonymous_ids = anonymous_ids
        #: (conn, workspace id, profile id) -> the profiles merged into it: an exposure made
        #: by profile alone (a journey step, an offer) before a merge is the survivor's too.
        self.merged_from = merged_from or (lambda _conn, _ws, _pid: [])
        self.cache_seconds = cache_seconds
        self.exposures = ExposureLog(store, experiments)
        self._cache: RevisionCache[_Cached] = RevisionCache(
            revision=experiments.revision,
            build=self._load,
            check_seconds=cache_seconds,
            read=store.read,
        )
        #: Exposures recorded by this process, by (workspace, experiment, person key): the
        #: ones still queued are found here before they reach the store.
        self._recent: dict[tuple[str, str, str], dict[str, Any]] = {}

    def running(self, workspace_id: str) -> _Cached:
        return self._cache.cached(workspace_id)

    def _load(self, conn: Connection, workspace_id: str, _revision: int) -> _Cached:
        found = self.load(conn, workspace_id)
        by_placement: dict[str, list[RunningExperiment]] = {}
        for exp in found:
            if exp.placement is not None:
                by_placement.setdefault(exp.placement, []).append(exp)
        by_key = {e.key: e for e in found if e.key is not None}
        return _Cached(by_placement, by_key, {e.experiment_id: e for e in found})

    def forget(self, workspace_id: str | None = None) -> None:
        """Drop a workspace's cache (every workspace's with None): this process changed
        its experiments."""
        self._cache.forget(workspace_id)

    def forget_people(self, workspace_id: str) -> None:
        """Drop everything remembered of a workspace's people (some were erased)."""
        self._cache.forget(workspace_id)
        self._recent = {k: v for k, v in self._recent.items() if k[0] != workspace_id}

    # -- the hooks ------------------------------------------------------------------------------

    def apply(
        self,
        workspace_id: str,
        person: Person,
        request: DecideRequest,
        placement: Placement,
    ) -> tuple[Placement, dict[str, Any] | None]:
        """The placement as this person's variant has it, and ``{"id", "variant"}`` when
        the person is in one of its running experiments."""
        cached = self.running(workspace_id)
        tests = cached.by_placement.get(placement.name)
        if not tests:
            return placement, None
        if person.profile_id is not None and not person.personalized:
            return placement, None  # no personalization consent: no experiment either
        who = Who(person.profile_id, request.user_id, request.anonymous_id)
        for exp in tests:
            variant = self._variant(workspace_id, cached, exp, who)
            if variant is not None:
                if variant.overrides:
                    placement = replace(placement, **variant.overrides)
                return placement, {"id": exp.experiment_id, "variant": variant.name}
        return placement, None

    def assign(self, workspace_id: str, ref: str, who: Who) -> dict[str, Any] | None:
        """The variant (and its payload) of a running experiment, by id or key, for a
        journey step, an offer or any channel; None when the person is not in it."""
        cached = self.running(workspace_id)
        exp = cached.by_id.get(ref) or cached.by_key.get(ref)
        if exp is None:
            return None
        variant = self._variant(workspace_id, cached, exp, who)
        if variant is None:
            return None
        return {"id": exp.experiment_id, "variant": variant.name, "payload": variant.payload}

    # -- assignment -------------------------------------------------------------------------

    def _variant(
        self, workspace_id: str, cached: _Cached, exp: RunningExperiment, who: Who
    ) -> Variant | None:
        unit = who.unit
        if unit is None:
            return None
        key = (exp.experiment_id, unit)
        known = cached.known.get(key)
        if known is not None:
            return (exp.by_name.get(known) or _holdout(known)) if known else None
        variant = self._stored(workspace_id, exp, who)
        if variant is None:
            if not exp.admits(unit):
                # Outside the traffic: remembered until the experiment changes.
                self._remember(cached, key, _OUT)
                return None
            variant = self._new(workspace_id, exp, unit, who)
            if variant is None:
                return None  # not in the segment (yet): asked again next time
        self._remember(cached, key, variant.name)
        return variant

    def _stored(self, workspace_id: str, exp: RunningExperiment, who: Who) -> Variant | None:
        """The person's earlier exposure; a row first written before the person was
        identified gains their profile and user ids, so later decisions anywhere find it."""
        with self.store.read() as conn:
            anonymous = [who.anonymous_id] if who.anonymous_id is not None else []
            profiles = [who.profile_id] if who.profile_id is not None else []
            if who.profile_id is not None:
                anonymous += self.anonymous_ids(conn, workspace_id, [who.profile_id])
                profiles += self.merged_from(conn, workspace_id, who.profile_id)
            keys = _keys(profiles, who.user_id, anonymous)
            found = next(
                (
                    row
                    for k in keys
                    if (row := self._recent.get((workspace_id, exp.experiment_id, k))) is not None
                ),
                None,
            )
            if found is None:
                found = self.experiments.find_exposures(
                    conn, workspace_id, [exp.experiment_id], profiles, anonymous, who.user_id
                ).get(exp.experiment_id)
        if found is None:
            return None
        missing = (found["profile_id"] is None and who.profile_id is not None) or (
            found["user_id"] is None and who.user_id is not None
        )
        if missing:
            self._record(
                {
                    **found,
                    "profile_id": found["profile_id"] or who.profile_id,
                    "user_id": found["user_id"] or who.user_id,
                }
            )
        return exp.by_name.get(found["variant"]) or _holdout(found["variant"])

    def _new(
        self, workspace_id: str, exp: RunningExperiment, unit: str, who: Who
    ) -> Variant | None:
        if exp.segment is not None and (
            who.profile_id is None
            or exp.segment not in self.memberships(workspace_id, who.profile_id)
        ):
            return None
        if exp.held_out(unit):
            variant, propensity = _holdout(HOLDOUT), exp.holdout
        else:
            variant, share = exp.choose(unit)
            propensity = share * (1 - exp.holdout)
        self._record(
            {
                "workspace_id": workspace_id,
                "experiment_id": exp.experiment_id,
                "unit_id": unit,
                "variant": variant.name,
                "profile_id": who.profile_id,
                "anonymous_id": who.anonymous_id,
                "user_id": who.user_id,
                "propensity": propensity,
                "at": self.clock.now_ms(),
            }
        )
        return variant

    def _record(self, row: dict[str, Any]) -> None:
        self.exposures.record([row])
        if len(self._recent) >= MAX_KNOWN:
            self._recent.clear()  # long written by then: the store has them
        anonymous = [row["anonymous_id"]] if row["anonymous_id"] else []
        profiles = [row["profile_id"]] if row["profile_id"] else []
        for key in _keys(profiles, row["user_id"], anonymous):
            self._recent[(row["workspace_id"], row["experiment_id"], key)] = row

    def _remember(self, cached: _Cached, key: tuple[str, str], name: str) -> None:
        known = cached.known
        if len(known) >= MAX_KNOWN:
            known.clear()  # a rare refill from the store beats tracking recency
        known[key] = name


def _keys(profile_ids: list[str], user_id: str | None, anonymous: list[str]) -> list[str]:
    out = [f"a:{a}" for a in anonymous]
    out += [f"p:{p}" for p in profile_ids]
    if user_id is not None:
        out.append(f"u:{user_id}")
    return out


def _holdout(name: str) -> Variant:
    return Variant(name, {}, {})
