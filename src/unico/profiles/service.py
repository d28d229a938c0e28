"""The profiles service: read, list, export (right of access), erase, and the consent check
every other context calls before using a person's data."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from unico.collect.store import EventStore
from unico.core.clock import Clock, to_iso
from unico.core.errors import InvalidInput, NotFound
from unico.core.types import EpochMs
from unico.profiles import consent as consent_rules
from unico.profiles import features
from unico.profiles.identity import parse_kind_value
from unico.profiles.store import ProfileState, ProfileStore
from unico.store.engine import Store

MAX_PAGE = 500

#: Erases what another context derived from people: called inside the erasure's write
#: transaction with the workspace and the profile ids being erased (the surviving profile
#: and every profile merged into it); returns rows deleted per table.
Eraser = Callable[[Any, str, list[str]], dict[str, int]]


@dataclass(frozen=True, slots=True)
class ProfileFilter:
    traits: Mapping[str, str]
    seen_since: EpochMs | None = None
    seen_before: EpochMs | None = None


def _event_view(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "timestamp": to_iso(row["timestamp"]), "received_at": to_iso(row["received_at"])}


class ProfileService:
    """Profiles as callers see them.

    >>> # service.get("ws_…", "user_id:42")["computed"]["orders"]
    """

    def __init__(
        self,
        store: Store,
        profiles: ProfileStore,
        events: EventStore,
        clock: Clock,
        consent_defaults: Callable[[str], Mapping[str, bool]],
        *,
        recent_events: int = 20,
        on_erase: Callable[[], None] | None = None,
    ) -> None:
        self.on_erase = on_erase
        #: Other contexts' erasers; the container appends to it while wiring.
        self.erasers: list[Eraser] = []
        self.store = store
        self.profiles = profiles
        self.events = events
        self.clock = clock
        self.consent_defaults = consent_defaults
        self.recent_events = recent_events

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
                _event_view(e)
                for e in self.events.events_of(
                    conn, workspace_id, [pid, *merged], limit=self.recent_events
                )
            ]
        return out

    def export(self, workspace_id: str, ref: str) -> dict[str, Any]:
        """Everything held on one person (right of access)."""
        with self.store.read() as conn:
            pid = self._resolve(conn, workspace_id, ref)
            state = self.profiles.load_profiles(conn, workspace_id, [pid], lock=False)[pid]
            merged = self.profiles.merged_from(conn, workspace_id, pid)
            history = self.profiles.history(conn, workspace_id, pid)
            out = self.view(state, workspace_id)
            out["identities"] = [
                {**i, "created_at": to_iso(i["created_at"])}
                for i in self.profiles.identities_of(conn, workspace_id, pid)
            ]
            out["merged_from"] = merged
            out["trait_times"] = {k: to_iso(v) for k, v in state.trait_times.items()}
            out["consent_history"] = [{**c, "at": to_iso(c["at"])} for c in history["consent"]]
            out["merge_history"] = [{**m, "at": to_iso(m["at"])} for m in history["merges"]]
            out["events"] = [
                _event_view(e)
                for e in self.events.events_of(conn, workspace_id, [pid, *merged], limit=None)
            ]
            out["exported_at"] = to_iso(self.clock.now_ms())
        return out

    def erase(self, workspace_id: str, ref: str) -> dict[str, Any]:
        """Erase a person: profile, merged profiles, identities, events, consent and merge
        history, dead letters naming them. Hashed suppressions stop late events."""
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
            ids = [pid, *self.profiles.merged_from(conn, workspace_id, pid)]
            anonymous = [v for k, v in keys if k == "anonymous_id"]
            users = [v for k, v in keys if k == "user_id"]
            counts = self.events.erase(conn, workspace_id, ids, anonymous, users)
            for eraser in self.erasers:
                counts.update(eraser(conn, workspace_id, ids))
            counts.update(self.profiles.erase(conn, workspace_id, ids, self.clock.now_ms()))
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
