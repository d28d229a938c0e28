"""What the profiles context needs from a store. Implemented for SQLite and PostgreSQL in
``unico.store.profiles``; one contract suite in the tests runs against both."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import Connection

from unico.core.types import EpochMs, JSONObject
from unico.db.engine import DbapiSource
from unico.profiles.identity import IdentityKey


@dataclass(slots=True)
class ProfileState:
    """A profile as the updater works on it."""

    profile_id: str
    traits: JSONObject
    trait_times: dict[str, EpochMs]
    computed: JSONObject
    soft: JSONObject
    consent: dict[str, Any]
    created_at: EpochMs
    updated_at: EpochMs
    first_seen: EpochMs | None = None
    last_seen: EpochMs | None = None
    merged_into: str | None = None
    is_new: bool = False
    #: JSON columns changed since the last write (``traits``, ``computed``, ...): the store
    #: rewrites only those, since encoding them is most of the cost of a profile write.
    changed: set[str] = field(default_factory=set)

    @classmethod
    def new(cls, profile_id: str, now: EpochMs) -> ProfileState:
        return cls(profile_id, {}, {}, {}, {}, {}, now, now, is_new=True)


JSON_COLUMNS = ("traits", "trait_times", "computed", "soft", "consent")


@dataclass(slots=True)
class Merge:
    from_profile: str
    into_profile: str
    at: EpochMs
    reason: str
    message_id: str | None


@dataclass(slots=True)
class ConsentChange:
    profile_id: str
    purpose: str
    granted: bool
    at: EpochMs
    source: str
    message_id: str | None


@dataclass(slots=True)
class ProfileChanges:
    """Everything one ingest transaction writes for profiles, applied in one go."""

    profiles: dict[str, ProfileState] = field(default_factory=dict)
    #: identity key -> profile id, for keys that are new or now point elsewhere
    identities: dict[IdentityKey, str] = field(default_factory=dict)
    merges: list[Merge] = field(default_factory=list)
    consent: list[ConsentChange] = field(default_factory=list)
    #: When the changes were made: the ``created_at`` of new identity rows.
    at: EpochMs = 0


class ProfileStore(Protocol):
    """Storage of profiles, identities, merges, consent history and suppressions."""

    def lock_keys(self, conn: Connection, workspace_id: str, keys: Iterable[IdentityKey]) -> None:
        """Serialize concurrent writers touching the same identities (no-op on SQLite)."""

    def find_identities(
        self, conn: Connection, workspace_id: str, keys: Iterable[IdentityKey]
    ) -> dict[IdentityKey, str]: ...

    def consent_of(
        self, conn: DbapiSource, workspace_id: str, keys: Sequence[IdentityKey]
    ) -> tuple[str, dict[str, Any]] | None:
        """The profile of the first of ``keys`` that is known, followed through merges, and
        its consent state; None when no key is known. One cheap read for decisions."""

    def load_profiles(
        self, conn: Connection, workspace_id: str, profile_ids: Iterable[str], *, lock: bool
    ) -> dict[str, ProfileState]: ...

    def user_ids(
        self, conn: Connection, workspace_id: str, profile_ids: Iterable[str]
    ) -> dict[str, set[str]]: ...

    def suppressed(
        self, conn: Connection, workspace_id: str, hashes: Iterable[str]
    ) -> set[str]: ...

    def write(self, conn: Connection, workspace_id: str, changes: ProfileChanges) -> None: ...

    def resolve(self, conn: Connection, workspace_id: str, ref: str) -> str | None:
        """A profile id or ``kind:value`` -> the surviving profile id, or None."""

    def identities_of(
        self, conn: Connection, workspace_id: str, profile_id: str
    ) -> list[dict[str, Any]]: ...

    def merged_from(self, conn: Connection, workspace_id: str, profile_id: str) -> list[str]: ...

    def history(self, conn: Connection, workspace_id: str, profile_id: str) -> dict[str, Any]:
        """Consent changes and merges of a profile, oldest first."""

    def list_profiles(
        self,
        conn: Connection,
        workspace_id: str,
        *,
        limit: int,
        after: str | None,
        traits: Mapping[str, str],
        seen_since: EpochMs | None,
        seen_before: EpochMs | None,
    ) -> list[ProfileState]: ...

    def erase(
        self, conn: Connection, workspace_id: str, profile_ids: list[str], now: EpochMs
    ) -> dict[str, int]:
        """Delete the profiles and their identities, consent and merge history; keep only
        salted hashes of the identities as suppressions. Returns counts per table."""
