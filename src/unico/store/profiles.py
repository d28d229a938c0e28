"""`ProfileStore` on SQLAlchemy Core, for SQLite and PostgreSQL alike."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

import orjson
from sqlalchemy import (
    ColumnElement,
    Connection,
    Row,
    Text,
    and_,
    case,
    cast,
    delete,
    func,
    literal,
    select,
    update,
)

from unico.core.types import EpochMs
from unico.db.bulk import Bulk, chunked, dumps
from unico.db.engine import DbapiSource, Store
from unico.db.schema import consent_log, identity, profile, profile_merge, suppression
from unico.profiles.identity import IdentityKey, parse_kind_value, suppression_hash
from unico.profiles.store import JSON_COLUMNS, ProfileChanges, ProfileState

T = TypeVar("T")
#: Rows per IN list: well under SQLite's bound-parameter limit.
CHUNK = 400


def chunks(items: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _state(row: Row[Any]) -> ProfileState:
    return ProfileState(
        profile_id=row.profile_id,
        traits=row.traits,
        trait_times=row.trait_times,
        computed=row.computed,
        soft=row.soft,
        consent=row.consent,
        created_at=row.created_at,
        updated_at=row.updated_at,
        first_seen=row.first_seen,
        last_seen=row.last_seen,
        merged_into=row.merged_into,
    )


def _values(state: ProfileState) -> dict[str, Any]:
    return {
        "traits": state.traits,
        "trait_times": state.trait_times,
        "computed": state.computed,
        "soft": state.soft,
        "consent": state.consent,
        "created_at": state.created_at,
        "updated_at": state.updated_at,
        "first_seen": state.first_seen,
        "last_seen": state.last_seen,
        "merged_into": state.merged_into,
    }


#: Merge chains are short (the updater repoints losers); this bounds a corrupt one.
MAX_MERGE_HOPS = 5
_CONSENT_BY_IDENTITY = (
    "SELECT p.profile_id, p.merged_into, p.consent FROM identity i JOIN profile p"
    " ON p.workspace_id = i.workspace_id AND p.profile_id = i.profile_id"
    " WHERE i.workspace_id = ? AND i.kind = ? AND i.value = ?"
)
_CONSENT_BY_PROFILE = (
    "SELECT profile_id, merged_into, consent FROM profile WHERE workspace_id = ? AND profile_id = ?"
)


def _json(value: Any) -> dict[str, Any]:
    """A JSON column read through the DBAPI: text on SQLite, decoded already by psycopg."""
    if value is None:
        return {}
    if isinstance(value, str | bytes):
        decoded: dict[str, Any] = orjson.loads(value)
        return decoded
    return dict(value)


def _lock_id(workspace_id: str, key: IdentityKey) -> int:
    digest = hashlib.blake2b(f"{workspace_id}\x1f{key[0]}\x1f{key[1]}".encode(), digest_size=8)
    return int.from_bytes(digest.digest(), "big", signed=True)


class SqlProfileStore:
    """Profiles, identities, merges, consent history and suppressions in SQL tables."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.bulk = Bulk(store.is_sqlite)

    # -- used by the updater, inside the ingest transaction ---------------------------------

    def lock_keys(self, conn: Connection, workspace_id: str, keys: Iterable[IdentityKey]) -> None:
        if self.store.is_sqlite:
            return  # one writer: BEGIN IMMEDIATE already serializes
        ids = sorted({_lock_id(workspace_id, k) for k in keys})
        if ids:
            # Sorted, in one statement: concurrent workers take locks in the same order.
            conn.exec_driver_sql(
                "SELECT count(pg_advisory_xact_lock(k)) FROM unnest(%(ids)s::bigint[]) AS t(k)",
                {"ids": ids},
            )

    def find_identities(
        self, conn: Connection, workspace_id: str, keys: Iterable[IdentityKey]
    ) -> dict[IdentityKey, str]:
        # Per kind, ``value IN (...)``: answered from the primary key on both stores (a
        # row-value ``(kind, value) IN`` made SQLite scan the workspace's identities).
        by_kind: dict[str, list[str]] = {}
        for kind, value in keys:
            by_kind.setdefault(kind, []).append(value)
        found: dict[IdentityKey, str] = {}
        for kind, values in by_kind.items():
            for part in chunked(values, CHUNK):
                rows = self.bulk.query(
                    conn,
                    "SELECT value, profile_id FROM identity WHERE workspace_id = ? AND kind = ?"
                    f" AND value IN ({self.bulk.placeholders(len(part))})",
                    [workspace_id, kind, *part],
                )
                found.update(((kind, value), pid) for value, pid in rows)
        return found

    def load_profiles(
        self, conn: Connection, workspace_id: str, profile_ids: Iterable[str], *, lock: bool
    ) -> dict[str, ProfileState]:
        out: dict[str, ProfileState] = {}
        for part in chunks(sorted(set(profile_ids))):
            query = select(profile).where(
                profile.c.workspace_id == workspace_id, profile.c.profile_id.in_(part)
            )
            if lock and not self.store.is_sqlite:
                query = query.with_for_update()
            out.update((r.profile_id, _state(r)) for r in conn.execute(query))
        return out

    def user_ids(
        self, conn: Connection, workspace_id: str, profile_ids: Iterable[str]
    ) -> dict[str, set[str]]:
        out: dict[str, set[str]] = {}
        for part in chunks(sorted(set(profile_ids))):
            rows = conn.execute(
                select(identity.c.profile_id, identity.c.value).where(
                    identity.c.workspace_id == workspace_id,
                    identity.c.kind == "user_id",
                    identity.c.profile_id.in_(part),
                )
            )
            for r in rows:
                out.setdefault(r.profile_id, set()).add(r.value)
        return out

    def suppressed(self, conn: Connection, workspace_id: str, hashes: Iterable[str]) -> set[str]:
        out: set[str] = set()
        for part in chunked(list(hashes), CHUNK):
            rows = self.bulk.query(
                conn,
                "SELECT hash FROM suppression WHERE workspace_id = ?"
                f" AND hash IN ({self.bulk.placeholders(len(part))})",
                [workspace_id, *part],
            )
            out.update(r[0] for r in rows)
        return out

    def write(self, conn: Connection, workspace_id: str, changes: ProfileChanges) -> None:
        states = list(changes.profiles.values())
        self.bulk.executemany(
            conn,
            "INSERT INTO profile (workspace_id, profile_id, traits, trait_times, computed, soft,"
            " consent, created_at, updated_at, first_seen, last_seen, merged_into)"
            " VALUES (?, ?, ?j, ?j, ?j, ?j, ?j, ?, ?, ?, ?, ?)"
            " ON CONFLICT (workspace_id, profile_id) DO UPDATE SET traits = excluded.traits,"
            " trait_times = excluded.trait_times, computed = excluded.computed,"
            " soft = excluded.soft, consent = excluded.consent,"
            " created_at = excluded.created_at, updated_at = excluded.updated_at,"
            " first_seen = excluded.first_seen, last_seen = excluded.last_seen,"
            " merged_into = excluded.merged_into",
            [
                (
                    workspace_id,
                    s.profile_id,
                    *(dumps(getattr(s, c)) for c in JSON_COLUMNS),
                    s.created_at,
                    s.updated_at,
                    s.first_seen,
                    s.last_seen,
                    s.merged_into,
                )
                for s in states
                if s.is_new
            ],
        )
        # Existing profiles: only the JSON columns that changed are encoded and written.
        by_columns: dict[tuple[str, ...], list[ProfileState]] = {}
        for state in states:
            if not state.is_new:
                columns = tuple(c for c in JSON_COLUMNS if c in state.changed)
                by_columns.setdefault(columns, []).append(state)
        for columns, group in by_columns.items():
            assignments = "".join(f"{c} = ?j, " for c in columns)
            self.bulk.executemany(
                conn,
                f"UPDATE profile SET {assignments}created_at = ?, updated_at = ?,"
                " first_seen = ?, last_seen = ?, merged_into = ?"
                " WHERE workspace_id = ? AND profile_id = ?",
                [
                    (
                        *(dumps(getattr(s, c)) for c in columns),
                        s.created_at,
                        s.updated_at,
                        s.first_seen,
                        s.last_seen,
                        s.merged_into,
                        workspace_id,
                        s.profile_id,
                    )
                    for s in group
                ],
            )
        for state in states:
            state.is_new = False
            state.changed.clear()
        for merge in changes.merges:
            ws = profile.c.workspace_id == workspace_id
            conn.execute(
                update(identity)
                .where(identity.c.workspace_id == workspace_id)
                .where(identity.c.profile_id == merge.from_profile)
                .values(profile_id=merge.into_profile)
            )
            conn.execute(
                update(profile)
                .where(ws, profile.c.merged_into == merge.from_profile)
                .values(merged_into=merge.into_profile)
            )
        if changes.merges:
            conn.execute(
                profile_merge.insert(),
                [
                    {
                        "workspace_id": workspace_id,
                        "from_profile": m.from_profile,
                        "into_profile": m.into_profile,
                        "at": m.at,
                        "reason": m.reason,
                        "message_id": m.message_id,
                    }
                    for m in changes.merges
                ],
            )
        if changes.identities:
            # Ids can be linked without any profile changing (a consent-only message).
            now = changes.at or max((s.updated_at for s in changes.profiles.values()), default=0)
            self.bulk.executemany(
                conn,
                "INSERT INTO identity (workspace_id, kind, value, profile_id, created_at)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (workspace_id, kind, value)"
                " DO UPDATE SET profile_id = excluded.profile_id",
                [(workspace_id, k[0], k[1], pid, now) for k, pid in changes.identities.items()],
            )
        if changes.consent:
            conn.execute(
                consent_log.insert(),
                [
                    {
                        "workspace_id": workspace_id,
                        "profile_id": c.profile_id,
                        "purpose": c.purpose,
                        "granted": c.granted,
                        "at": c.at,
                        "source": c.source,
                        "message_id": c.message_id,
                    }
                    for c in changes.consent
                ],
            )

    # -- reads --------------------------------------------------------------------------------

    def resolve(self, conn: Connection, workspace_id: str, ref: str) -> str | None:
        key = parse_kind_value(ref)
        if key is not None:
            pid = conn.execute(
                select(identity.c.profile_id).where(
                    identity.c.workspace_id == workspace_id,
                    identity.c.kind == key[0],
                    identity.c.value == key[1],
                )
            ).scalar()
        else:
            pid = ref
        if pid is None:
            return None
        row = conn.execute(
            select(profile.c.profile_id, profile.c.merged_into).where(
                profile.c.workspace_id == workspace_id, profile.c.profile_id == pid
            )
        ).first()
        if row is None:
            return None
        return str(row.merged_into or row.profile_id)

    def consent_of(
        self, conn: DbapiSource, workspace_id: str, keys: Sequence[IdentityKey]
    ) -> tuple[str, dict[str, Any]] | None:
        # The decide hot path: raw DBAPI and one joined read (SQLAlchemy's per-statement
        # overhead and decoding every JSON column of the profile cost more than the lookup).
        for kind, value in keys:
            rows = self.bulk.query(conn, _CONSENT_BY_IDENTITY, [workspace_id, kind, value])
            if rows:
                break
        else:
            return None
        for _ in range(MAX_MERGE_HOPS):
            pid, merged_into, consent = rows[0]
            if merged_into is None:
                break
            found = self.bulk.query(conn, _CONSENT_BY_PROFILE, [workspace_id, merged_into])
            if not found:
                break
            rows = found
        return str(pid), _json(consent)

    def get(self, conn: Connection, workspace_id: str, profile_id: str) -> ProfileState | None:
        return self.load_profiles(conn, workspace_id, [profile_id], lock=False).get(profile_id)

    def identities_of(
        self, conn: Connection, workspace_id: str, profile_id: str
    ) -> list[dict[str, Any]]:
        # Sorted here, not in SQL: an ORDER BY matching the primary key made SQLite walk the
        # workspace's whole identity index instead of using ix_identity_profile.
        rows = conn.execute(
            select(identity.c.kind, identity.c.value, identity.c.created_at).where(
                identity.c.workspace_id == workspace_id, identity.c.profile_id == profile_id
            )
        )
        return sorted(
            ({"kind": r.kind, "value": r.value, "created_at": r.created_at} for r in rows),
            key=lambda i: (i["kind"], i["value"]),
        )

    def merged_from(self, conn: Connection, workspace_id: str, profile_id: str) -> list[str]:
        rows = conn.execute(  # sorted here, for the same reason as identities_of
            select(profile.c.profile_id).where(
                profile.c.workspace_id == workspace_id, profile.c.merged_into == profile_id
            )
        )
        return sorted(r.profile_id for r in rows)

    def history(self, conn: Connection, workspace_id: str, profile_id: str) -> dict[str, Any]:
        ids = [profile_id, *self.merged_from(conn, workspace_id, profile_id)]
        consent_rows = conn.execute(
            select(consent_log)
            .where(consent_log.c.workspace_id == workspace_id, consent_log.c.profile_id.in_(ids))
            .order_by(consent_log.c.at, consent_log.c.id)
        )
        merge_rows = conn.execute(
            select(profile_merge)
            .where(
                profile_merge.c.workspace_id == workspace_id,
                profile_merge.c.into_profile.in_(ids),
            )
            .order_by(profile_merge.c.at, profile_merge.c.id)
        )
        return {
            "consent": [
                {
                    "purpose": r.purpose,
                    "granted": r.granted,
                    "at": r.at,
                    "source": r.source,
                    "message_id": r.message_id,
                }
                for r in consent_rows
            ],
            "merges": [
                {
                    "from_profile": r.from_profile,
                    "into_profile": r.into_profile,
                    "at": r.at,
                    "reason": r.reason,
                    "message_id": r.message_id,
                }
                for r in merge_rows
            ],
        }

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
    ) -> list[ProfileState]:
        conditions = [profile.c.workspace_id == workspace_id, profile.c.merged_into.is_(None)]
        if after:
            conditions.append(profile.c.profile_id > after)
        for name, value in traits.items():
            conditions.append(self._trait_is(name, value))
        if seen_since is not None:
            conditions.append(profile.c.last_seen >= seen_since)
        if seen_before is not None:
            conditions.append(profile.c.last_seen < seen_before)
        rows = conn.execute(
            select(profile).where(and_(*conditions)).order_by(profile.c.profile_id).limit(limit)
        )
        return [_state(r) for r in rows]

    def _trait_is(self, name: str, value: str) -> ColumnElement[bool]:
        """``traits[name]``, as text, equals ``value``: the same answer on both backends.

        PostgreSQL's ``->>`` renders true/false/numbers as JSON text. SQLite's JSON_EXTRACT
        returns SQL values instead (``true`` becomes 1) and its path syntax cannot name a
        key holding a double quote, so there the trait is found with ``json_each`` (any
        key) and its value rendered the way PostgreSQL does.
        """
        if not self.store.is_sqlite:
            same: ColumnElement[bool] = profile.c.traits[name].as_string() == value
            return same
        each = func.json_each(profile.c.traits).table_valued("key", "value", "type")
        text = case(
            (each.c.type == "true", literal("true")),
            (each.c.type == "false", literal("false")),
            else_=cast(each.c.value, Text),
        )
        return (
            select(literal(1)).select_from(each).where(each.c.key == name, text == value).exists()
        )

    def count(self, conn: Connection, workspace_id: str) -> int:
        return int(
            conn.execute(
                select(func.count()).where(
                    profile.c.workspace_id == workspace_id, profile.c.merged_into.is_(None)
                )
            ).scalar_one()
        )

    def erase(
        self, conn: Connection, workspace_id: str, profile_ids: list[str], now: EpochMs
    ) -> dict[str, int]:
        keys = conn.execute(
            select(identity.c.kind, identity.c.value).where(
                identity.c.workspace_id == workspace_id, identity.c.profile_id.in_(profile_ids)
            )
        ).all()
        if keys:
            stmt = self.store.insert(suppression).on_conflict_do_nothing()
            conn.execute(
                stmt,
                [
                    {
                        "workspace_id": workspace_id,
                        "hash": suppression_hash(workspace_id, (k.kind, k.value)),
                        "created_at": now,
                    }
                    for k in keys
                ],
            )
        counts = {}
        for name, table, column in (
            ("identities", identity, identity.c.profile_id),
            ("consent_changes", consent_log, consent_log.c.profile_id),
            ("merges", profile_merge, profile_merge.c.into_profile),
            ("profiles", profile, profile.c.profile_id),
        ):
            result = conn.execute(
                delete(table).where(table.c.workspace_id == workspace_id, column.in_(profile_ids))
            )
            counts[name] = result.rowcount
        counts["suppressions"] = len(keys)
        return counts
