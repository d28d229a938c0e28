"""The profile updater: turns a group of events into profile changes inside one transaction.

For a group it loads every identity and profile the events touch in a few queries,
applies the events in arrival order to that in-memory working set (identity
resolution, merges, consent, traits, computed features), then writes the result
once. Rules:

* Without ``analytics`` consent an event builds no profile. Consent changes are
  the exception: a withdrawal must be remembered, so they always reach a profile.
* ``user_id`` is a strong identity: implicit merges never join two profiles with
  different user ids (a shared device moves to whoever logged in last). An ``alias``
  from an older user id is an explicit statement that two ids are one person and
  merges regardless; an alias from an anonymous id follows the identify rule.
* The survivor of a merge is the profile with the event's user id, else the oldest.
* Traits are last-write-wins by event time, per trait. An identify's traits are its
  top-level ``traits`` over ``context.traits`` (`person_traits`); only an identify sets
  them, while on any event they identify the person (`event_keys`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sqlalchemy import Connection

from unico.core.event import Event
from unico.core.ids import new_id
from unico.core.types import EpochMs
from unico.profiles import consent as consent_rules
from unico.profiles import features
from unico.profiles.cache import ProfileCache
from unico.profiles.consent import consent_changes
from unico.profiles.identity import IdentityKey, event_keys, person_traits, suppression_hash
from unico.profiles.store import (
    JSON_COLUMNS,
    ConsentChange,
    Merge,
    ProfileChanges,
    ProfileState,
    ProfileStore,
)


@dataclass(slots=True)
class Outcome:
    """What became of one event."""

    profile_id: str | None
    profiled: bool
    suppressed: bool = False


def requested_consent(event: Event) -> dict[str, tuple[bool, str]]:
    """The consent changes an event asks for, with their source: a ``Consent Updated`` track,
    Segment's ``context.consent.categoryPreferences`` with Unico purpose names, and the
    ``Sec-GPC: 1`` header (an opt-out of marketing that overrides the rest)."""
    changes: dict[str, tuple[bool, str]] = {}
    prefs = event.context.get("consent")
    if isinstance(prefs, dict) and isinstance(prefs.get("categoryPreferences"), dict):
        for purpose, value in prefs["categoryPreferences"].items():
            if purpose in consent_rules.PURPOSES and isinstance(value, bool):
                changes[purpose] = (value, "context")
    if event.type == "track" and event.name == "Consent Updated":
        changes.update((p, (v, event.source)) for p, v in consent_changes(event).items())
    if event.gpc:
        changes["marketing"] = (False, "gpc")
    return changes


class _WorkingSet:
    """Identities and profiles of one group, as they evolve event by event."""

    def __init__(
        self,
        store: ProfileStore,
        conn: Connection,
        workspace_id: str,
        now: EpochMs,
        cache: ProfileCache | None,
    ) -> None:
        self.store = store
        self.conn = conn
        self.ws = workspace_id
        self.cache = cache
        self.identities: dict[IdentityKey, str] = {}
        self.profiles: dict[str, ProfileState] = {}
        self.user_ids: dict[str, set[str]] = {}
        self.changes = ProfileChanges(at=now)

    def load(self, keys: set[IdentityKey]) -> None:
        """Read the identities and profiles of ``keys`` (already locked by the caller)."""
        if self.cache is not None:
            self.identities.update(self.cache.identities(self.ws, keys))
        missing = keys - self.identities.keys()
        if missing:
            self.identities.update(self.store.find_identities(self.conn, self.ws, missing))
        self._load_profiles(set(self.identities.values()))

    def _load_profiles(self, pids: set[str]) -> None:
        # A concurrent merge may have redirected a profile: follow until survivors.
        while pids:
            loaded = {} if self.cache is None else self.cache.profiles(self.ws, pids)
            if self.cache is not None:
                self.user_ids.update(self.cache.user_ids(self.ws, loaded))
            missing = pids - loaded.keys()
            if missing:
                loaded.update(self.store.load_profiles(self.conn, self.ws, missing, lock=True))
            self.profiles.update(loaded)
            pids = {p.merged_into for p in loaded.values() if p.merged_into} - set(self.profiles)
        unknown = [p for p in self.profiles if p not in self.user_ids]
        if unknown:
            found = self.store.user_ids(self.conn, self.ws, unknown)
            for pid in unknown:
                self.user_ids[pid] = set(found.get(pid, ()))

    def remember(self) -> None:
        if self.cache is not None:
            self.cache.remember(self.ws, self.identities, self.profiles, self.user_ids)

    def survivor(self, pid: str) -> str:
        seen = 0
        while (into := self.profiles[pid].merged_into) is not None and seen < 100:
            pid, seen = into, seen + 1
        return pid

    def owner(self, key: IdentityKey) -> str | None:
        pid = self.identities.get(key)
        return None if pid is None else self.survivor(pid)

    def uids(self, pid: str) -> set[str]:
        if pid not in self.user_ids:
            found = (
                self.store.user_ids(self.conn, self.ws, [pid])
                if not self.profiles[pid].is_new
                else {}
            )
            self.user_ids[pid] = set(found.get(pid, set()))
        return self.user_ids[pid]

    def create(self, now: EpochMs) -> ProfileState:
        state = ProfileState.new(new_id("p_", now), now)
        self.profiles[state.profile_id] = state
        self.user_ids[state.profile_id] = set()
        self.changes.profiles[state.profile_id] = state
        return state

    def link(self, key: IdentityKey, pid: str) -> None:
        if self.identities.get(key) != pid:
            self.identities[key] = pid
            self.changes.identities[key] = pid
        if key[0] == "user_id":
            self.uids(pid).add(key[1])

    def touch(self, state: ProfileState, now: EpochMs, *columns: str) -> None:
        state.changed.update(columns)
        state.updated_at = now
        self.changes.profiles[state.profile_id] = state

    def merge(self, loser_id: str, into_id: str, event: Event, reason: str, now: EpochMs) -> None:
        loser, into = self.profiles[loser_id], self.profiles[into_id]
        into.traits, into.trait_times = _merge_traits(into, loser)
        into.computed = features.merge(into.computed, loser.computed)
        into.consent = consent_rules.merge_states(into.consent, loser.consent)
        into.soft = {**loser.soft, **into.soft}
        into.created_at = min(into.created_at, loser.created_at)
        into.first_seen = _min(into.first_seen, loser.first_seen)
        into.last_seen = _max(into.last_seen, loser.last_seen)
        loser.merged_into = into_id
        self.touch(loser, now)
        self.touch(into, now, *JSON_COLUMNS)
        self.uids(into_id).update(self.uids(loser_id))
        # Loaded identities still name the loser: `owner` follows ``merged_into``. Links made
        # earlier in this group and not written yet must follow now, since the store
        # re-points only rows already in the table.
        for key, pid in self.changes.identities.items():
            if pid == loser_id:
                self.changes.identities[key] = into_id
        self.changes.merges.append(Merge(loser_id, into_id, now, reason, event.message_id))


def _min(a: EpochMs | None, b: EpochMs | None) -> EpochMs | None:
    return b if a is None else a if b is None else min(a, b)


def _max(a: EpochMs | None, b: EpochMs | None) -> EpochMs | None:
    return b if a is None else a if b is None else max(a, b)


def _merge_traits(a: ProfileState, b: ProfileState) -> tuple[dict[str, object], dict[str, int]]:
    traits, times = dict(a.traits), dict(a.trait_times)
    for key, value in b.traits.items():
        if key not in times or b.trait_times.get(key, 0) > times[key]:
            traits[key] = value
            times[key] = b.trait_times.get(key, 0)
    return traits, times


class ProfileUpdater:
    """Applies events to profiles. Called by the ingest pipeline inside its transaction.

    >>> # updater.apply(conn, "ws_1", DEFAULT_CONSENT, events) -> [Outcome, ...]
    """

    def __init__(
        self, store: ProfileStore, *, session_gap_ms: int, cache: ProfileCache | None = None
    ) -> None:
        self.store = store
        self.session_gap_ms = session_gap_ms
        self.cache = cache

    def begin(self) -> None:
        """Called before each group: honours invalidations from other threads."""
        if self.cache is not None:
            self.cache.begin()

    def invalidate(self) -> None:
        """Something else changed profiles (erasure): forget cached states (any thread)."""
        if self.cache is not None:
            self.cache.invalidate()

    def rollback(self) -> None:
        """Called when a group's transaction failed: cached states may hold its changes."""
        if self.cache is not None:
            self.cache.clear()

    def apply(
        self,
        conn: Connection,
        workspace_id: str,
        defaults: Mapping[str, bool],
        events: Iterable[Event],
        now: EpochMs,
    ) -> tuple[list[Outcome], ProfileChanges]:
        events = list(events)
        keys_per_event = [event_keys(e) for e in events]
        lookups_per_event = [
            _lookup_keys(e, keys) for e, keys in zip(events, keys_per_event, strict=True)
        ]
        all_keys = {k for keys in lookups_per_event for k in keys}
        # Lock before reading suppressions: an erasure holds these locks while it writes
        # them, so checking first would let a group that waited on the erasure's locks
        # find the identities gone and bring the erased person back as a new profile.
        self.store.lock_keys(conn, workspace_id, all_keys)
        hashes = {suppression_hash(workspace_id, k): k for k in all_keys}
        blocked_hashes = self.store.suppressed(conn, workspace_id, hashes)
        blocked = {hashes[h] for h in blocked_hashes}
        ws = _WorkingSet(self.store, conn, workspace_id, now, self.cache)
        ws.load(all_keys - blocked)
        outcomes = []
        for event, keys, lookups in zip(events, keys_per_event, lookups_per_event, strict=True):
            if blocked.intersection(lookups):
                outcomes.append(Outcome(None, profiled=False, suppressed=True))
                continue
            outcomes.append(self._apply_one(ws, defaults, event, keys, now))
        for outcome in outcomes:
            if outcome.profile_id is not None:
                outcome.profile_id = ws.survivor(outcome.profile_id)
        self.store.write(conn, workspace_id, ws.changes)
        ws.remember()
        return outcomes, ws.changes

    def _apply_one(
        self,
        ws: _WorkingSet,
        defaults: Mapping[str, bool],
        event: Event,
        keys: list[IdentityKey],
        now: EpochMs,
    ) -> Outcome:
        requested = requested_consent(event)
        owners = [ws.owner(k) for k in keys]
        known = [p for p in dict.fromkeys(owners) if p is not None]
        primary_id = _pick_primary(ws, event, known) if known else None
        preview = dict(ws.profiles[primary_id].consent) if primary_id else {}
        for purpose, (granted, _) in requested.items():
            consent_rules.apply_change(preview, purpose, granted, event.timestamp, "")
        profiled = consent_rules.is_granted(preview, defaults, "analytics")
        if not profiled and not requested:
            return Outcome(None, profiled=False)

        primary = self._resolve(ws, event, keys, known, merge=profiled, now=now)
        for purpose, (granted, source) in requested.items():
            if consent_rules.apply_change(
                primary.consent, purpose, granted, event.timestamp, source
            ):
                ws.touch(primary, now, "consent")
                ws.changes.consent.append(
                    ConsentChange(
                        primary.profile_id,
                        purpose,
                        granted,
                        event.timestamp,
                        source,
                        event.message_id,
                    )
                )
        if not profiled:
            return Outcome(primary.profile_id, profiled=False)
        self._update(primary, event, now)
        ws.touch(primary, now, *_CHANGED_BY.get(event.type, ("computed",)))
        return Outcome(primary.profile_id, profiled=True)

    def _resolve(
        self,
        ws: _WorkingSet,
        event: Event,
        keys: list[IdentityKey],
        known: list[str],
        *,
        merge: bool,
        now: EpochMs,
    ) -> ProfileState:
        """Find or create the event's profile, merging and linking identities as needed."""
        if event.type == "alias" and merge:
            return self._alias(ws, event, keys, now)
        primary_id = _pick_primary(ws, event, known) if known else None
        if primary_id is None:
            primary = ws.create(now)
            primary_id = primary.profile_id
        primary = ws.profiles[primary_id]
        if event.user_id and ws.owner(("user_id", event.user_id)) is None:
            ws.link(("user_id", event.user_id), primary_id)
        if merge:
            for other in known:
                if other != primary_id and not _conflict(ws, other, primary_id):
                    ws.merge(other, primary_id, event, f"{event.type}:shared_identity", now)
        for key in keys:
            owner = ws.owner(key)
            # Another person's user id never moves; any other identity follows this event.
            if owner != primary_id and (owner is None or (merge and key[0] != "user_id")):
                ws.link(key, primary_id)
        return primary

    def _alias(
        self, ws: _WorkingSet, event: Event, keys: list[IdentityKey], now: EpochMs
    ) -> ProfileState:
        assert event.previous_id is not None and event.user_id is not None
        previous = ws.owner(("user_id", event.previous_id))
        prev_key: IdentityKey = ("user_id", event.previous_id)
        if previous is None:
            prev_key = ("anonymous_id", event.previous_id)
            previous = ws.owner(prev_key)
            # An anonymous previousId names a device, not a person (analytics.js sends the
            # current one): if another user is bound to it, the device moves to this user
            # as on identify, and the two people stay apart.
            if previous is not None and ws.uids(previous) - {event.user_id}:
                previous = None
        target = ws.owner(("user_id", event.user_id))
        if target is None:
            target = previous or ws.create(now).profile_id
        if previous is not None and previous != target:
            ws.merge(previous, target, event, "alias", now)
        for key in [prev_key, *keys]:
            if ws.owner(key) != target:
                ws.link(key, target)
        return ws.profiles[target]

    def _update(self, state: ProfileState, event: Event, now: EpochMs) -> None:
        if event.type == "identify":
            for key, value in person_traits(event).items():
                if event.timestamp >= state.trait_times.get(key, 0):
                    state.traits[key] = value
                    state.trait_times[key] = event.timestamp
        if event.type == "group" and event.group_id:
            groups = state.traits.get("groups")
            groups = list(groups) if isinstance(groups, list) else []
            if event.group_id not in groups:
                groups.append(event.group_id)
                state.traits["groups"] = groups[-50:]
                state.trait_times["groups"] = event.timestamp
        features.apply_event(state.computed, state.last_seen, event, self.session_gap_ms)
        state.first_seen = _min(state.first_seen, event.timestamp)
        state.last_seen = _max(state.last_seen, event.timestamp)


#: The JSON columns an event of a type changes (`ProfileUpdater._update`).
_CHANGED_BY = {
    "identify": ("computed", "traits", "trait_times"),
    "group": ("computed", "traits", "trait_times"),
}


def _lookup_keys(event: Event, keys: list[IdentityKey]) -> list[IdentityKey]:
    """The keys to load for an event: its own, and for an alias both readings of
    ``previousId``. Only for lookups (and suppression): `ProfileUpdater._alias` links just
    the reading that matched, so an anonymous previousId never becomes a user id."""
    if event.type == "alias" and event.previous_id:
        return [*keys, ("user_id", event.previous_id), ("anonymous_id", event.previous_id)]
    return keys


def _pick_primary(ws: _WorkingSet, event: Event, known: list[str]) -> str | None:
    """The profile an event belongs to among those its identities point at."""
    if event.user_id:
        owner = ws.owner(("user_id", event.user_id))
        if owner is not None:
            return owner
        # A profile already bound to another user id is not this person's.
        free = [p for p in known if not (ws.uids(p) - {event.user_id})]
        known = free
    if not known:
        return None
    return min(known, key=lambda p: (ws.profiles[p].created_at, p))


def _conflict(ws: _WorkingSet, a: str, b: str) -> bool:
    """True when merging would join two different known persons."""
    ua, ub = ws.uids(a), ws.uids(b)
    return bool(ua and ub and ua != ub)
