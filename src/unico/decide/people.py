"""Who is asking: the person behind a decide request, their consent and recent history,
read with two indexed queries (identity joined with profile, then the person's latest
interactions) on the serving thread's own connection (`Store.raw_read`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from unico.catalog.interactions import Interaction
from unico.db.engine import DbapiSource, Store
from unico.profiles import consent as consent_rules
from unico.profiles.store import ProfileStore

PURCHASE = "purchase"


@dataclass(frozen=True, slots=True)
class Person:
    profile_id: str | None
    #: The person may be personalized for: known, and ``personalization`` granted.
    personalized: bool
    #: Why not, when not.
    reason: str = ""
    #: Recent interactions, newest first (only when personalized).
    history: tuple[Interaction, ...] = ()
    weights: Mapping[str, float] = field(default_factory=dict)

    @property
    def purchased(self) -> frozenset[str]:
        return frozenset(h.item_id for h in self.history if h.kind == PURCHASE)

    @property
    def viewed(self) -> frozenset[str]:
        return frozenset(h.item_id for h in self.history)


class People:
    """Resolves ``userId`` (preferred) or ``anonymousId`` to a profile."""

    def __init__(
        self,
        store: Store,
        profiles: ProfileStore,
        consent_defaults: Callable[[str], Mapping[str, bool]],
        recent: Callable[[DbapiSource, str, str, int], list[Interaction]],
        history: int,
    ) -> None:
        self.store = store
        self.profiles = profiles
        self.consent_defaults = consent_defaults
        #: ``(conn, workspace_id, profile_id, limit)`` -> the latest interactions, newest first.
        self.recent = recent
        self.history = history

    def resolve(self, workspace_id: str, user_id: str | None, anonymous_id: str | None) -> Person:
        keys = [("user_id", v) for v in (user_id,) if v] + [
            ("anonymous_id", v) for v in (anonymous_id,) if v
        ]
        if not keys:
            return Person(None, False, "no userId or anonymousId: default experience")
        # One read: who (identity, merges, consent) and what they did recently.
        with self.store.raw_read() as conn:
            found = self.profiles.consent_of(conn, workspace_id, keys)
            if found is None:
                return Person(None, False, "unknown person: default experience")
            pid, consent = found
            defaults = self.consent_defaults(workspace_id)
            if not consent_rules.is_granted(consent, defaults, "personalization"):
                return Person(pid, False, "no personalization consent: default experience")
            history = (
                tuple(self.recent(conn, workspace_id, pid, self.history)) if self.history else ()
            )
        weights: dict[str, float] = {}
        for h in history:
            weights[h.item_id] = weights.get(h.item_id, 0.0) + h.weight
        return Person(pid, True, "", history, weights)
