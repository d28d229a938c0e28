"""The profiles service: read, list, export (right of access), erase, and the consent check
every other context calls before using a person's data."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from unico.core.clock import Clock, to_iso
from unico.core.errors import InvalidInput, NotFound
from unico.core.persons import PersonRegistry
from unico.core.types import EpochMs, ProfileId, WorkspaceId
from unico.db.engine import Store
from unico.profiles import consent as consent_rules
from unico.profiles import features
from unico.profiles.events import PersonEvents
from unico.profiles.identity import parse_kind_value
from unico.profiles.persons import ProfilesData, event_view
from unico.profiles.store import ProfileState, ProfileStore

MAX_PAGE = 500


@dataclass(frozen=True, slots=True)
class ProfileFilter:
    traits: Mapping[str, str]
    seen_since: EpochMs | None = None
    seen_before: EpochMs | None = None


class ProfileService:
    """Profiles as callers see them.

    >>> # service.get("ws_…", "user_id:42")["computed"]["orders"]
    """

    def __init__(
        self,
        store: Store,
        profiles: ProfileStore,
        events: PersonEvents,
        clock: Clock,
        consent_defaults: Callable[[str], Mapping[str, bool]],
        *,
        recent_events: int = 20,
        on_erase: Callable[[], None] | None = None,
        persons: PersonRegistry | None = None,
    ) -> None:
        self.on_erase = on_erase
        self.store = store
        self.profiles = profiles
        self.events = events
        self.clock = clock
        self.consent_defaults = consent_defaults
        self.recent_events = recent_events
        #: What the profiles context holds on a person; erased after every other context.
        self.own = ProfilesData(profiles, events, clock, self.view)
        #: Every context's data on people, this one first; each context registers its own
        #: while the container wires it.
        self.persons = persons if persons is not None else PersonRegistry()
        self.persons.register(self.own)

    def _resolve(self, conn: Any, workspace_id: str, ref: str) -> str:
        if ":" in ref and parse_kind_value(ref) is None:
            raise InvalidInput(f"{ref!r} is not a profile id or kind:value", field="id")
        pid = self.profiles.resolve(conn, workspace_id, ref)
        if pid is None:
            raise NotFound(f"no profile {ref!r}", field="id")
        return pid

    def view(self, state: ProfileState, workspace_id: str) -> dict[str, Any]:
        return {
            "profile_id": state.profile_id,
            "traits": state.traits,
            "computed": features.derived(
                state.computed, state.first_seen, state.last_seen, self.clock.now_ms()
            ),
            "soft": state.soft,
            "consent": consent_rules.effective(state.consent, self.consent_defaults(workspace_id)),
            "created_at": to_iso(state.created_at),
            "updated_at": to_iso(state.updated_at),
        }

    def get(self, workspace_id: str, ref: str) -> dict[str, Any]:
        """The profile behind a profile id or ``kind:value``, with identities and recent events."""
        with self.store.read() as conn:
            pid = self._resolve(conn, workspace_id, ref)
            state = self.profiles.load_profiles(conn, workspace_id, [pid], lock=False)[pid]
            merged = self.profiles.merged_from(conn, workspace_id, pid)
            out = self.view(state, workspace_id)
            out["identities"] = [
                {"kind": i["kind"], "value": i["value"]}
                for i in self.profiles.identities_of(conn, workspace_id, pid)
            ]
            out["merged_from"] = merged
            out["recent_events"] = [
                event_view(e)
                for e in self.events.events_of(
                    conn, workspace_id, [pid, *merged], limit=self.recent_events
                )
            ]
        return out

    def export(self, workspace_id: str, ref: str) -> dict[str, Any]:
        """Everything held on one person (right of access): the profile context's rows
        under their historical keys, then every other context's under its name."""
        for data in self.persons:
            data.flush()  # rows queued in memory are the person's too
        ws = WorkspaceId(workspace_id)
        with self.store.read() as conn:
            pid = self._resolve(conn, workspace_id, ref)
            merged = self.profiles.merged_from(conn, workspace_id, pid)
            ids = [ProfileId(p) for p in (pid, *merged)]
            own = self.own.export(conn, ws, ids)
            out: dict[str, Any] = own["profile"][0]
            out["identities"] = own["identity"]
            out["merged_from"] = merged
            out["consent_history"] = own["consent_log"]
            out["merge_history"] = own["profile_merge"]
            out["events"] = own["event"]
            out["dead_letters"] = own["dead_letter"]
            for data in self.persons:
                if data is not self.own:
                    out[data.name] = data.export(conn, ws, ids)
            out["exported_at"] = to_iso(self.clock.now_ms())
        return out

    def erase(self, workspace_id: str, ref: str) -> dict[str, Any]:
        """Erase a person: every context's rows on them (see `PersonRegistry`), then the
        profile, merged profiles, identities, events, consent and merge history, dead letters
        naming them, in one transaction. Hashed suppressions stop late events."""
        with self.store.write() as conn:
            pid = self._resolve(conn, workspace_id, ref)
            keys = self._keys_of(conn, workspace_id, pid)
            # Take the identity locks the ingest updater takes, then read again: a group
            # that committed meanwhile may have merged the person or linked new ids.
            # Groups that start later wait, then see the suppressions and drop their events.
            self.profiles.lock_keys(conn, workspace_id, keys)
            pid = self._resolve(conn, workspace_id, ref)
            keys = self._keys_of(conn, workspace_id, pid)
            self.profiles.lock_keys(conn, workspace_id, keys)
            merged = self.profiles.merged_from(conn, workspace_id, pid)
            ids = [ProfileId(p) for p in (pid, *merged)]
            ws = WorkspaceId(workspace_id)
            counts: dict[str, int] = {}
            # Other contexts first: they may look up the identities the last one deletes.
            for data in self.persons:
                if data is not self.own:
                    counts.update(data.erase(conn, ws, ids))
            counts.update(self.own.erase(conn, ws, ids))
        if self.on_erase is not None:
            self.on_erase()  # the ingest writer's cache must not keep the erased states
        return {"profile_id": pid, "erased": counts}

    def _keys_of(self, conn: Any, workspace_id: str, pid: str) -> list[tuple[str, str]]:
        return [
            (i["kind"], i["value"]) for i in self.profiles.identities_of(conn, workspace_id, pid)
        ]

    def list(
        self, workspace_id: str, *, limit: int, cursor: str | None, where: ProfileFilter
    ) -> dict[str, Any]:
        """A page of profiles in creation order; ``next_cursor`` fetches the next page."""
        limit = max(1, min(limit, MAX_PAGE))
        with self.store.read() as conn:
            rows = self.profiles.list_profiles(
                conn,
                workspace_id,
                limit=limit + 1,
                after=cursor,
                traits=where.traits,
                seen_since=where.seen_since,
                seen_before=where.seen_before,
            )
        page = rows[:limit]
        return {
            "profiles": [self.view(s, workspace_id) for s in page],
            "next_cursor": page[-1].profile_id if len(rows) > limit else None,
        }

    def consent(self, workspace_id: str, person: str) -> dict[str, Any]:
        """Every purpose's effective consent for a person (defaults for an unknown person)."""
        defaults = self.consent_defaults(workspace_id)
        with self.store.read() as conn:
            pid = self.profiles.resolve(conn, workspace_id, person)
            state = (
                None
                if pid is None
                else self.profiles.load_profiles(conn, workspace_id, [pid], lock=False)[pid].consent
            )
        return consent_rules.effective(state, defaults)

    def is_granted(self, workspace_id: str, person: str, purpose: str) -> bool:
        """The consent check for every use of a person's data.

        ``person`` is a profile id or ``kind:value``; an unknown person gets the workspace
        default. Contexts call this before personalizing, messaging or profiling.
        """
        if purpose not in consent_rules.PURPOSES:
            raise InvalidInput(f"unknown purpose {purpose!r}", field="purpose")
        defaults = self.consent_defaults(workspace_id)
        with self.store.read() as conn:
            pid = self.profiles.resolve(conn, workspace_id, person)
            if pid is None:
                return consent_rules.is_granted(None, defaults, purpose)
            state = self.profiles.load_profiles(conn, workspace_id, [pid], lock=False)[pid]
        return consent_rules.is_granted(state.consent, defaults, purpose)
