"""Identity keys: which (kind, value) pairs an event carries, normalized.

Kinds: ``anonymous_id``, ``user_id``, ``email`` (lower-cased, trimmed) with its
``email_sha256``, ``phone`` (digits and a leading +), ``loyalty_id`` and any
``context.externalIds`` type.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from unico.core.event import Event
from unico.core.types import JSONObject

IdentityKey = tuple[str, str]

KINDS_UNIQUE_PER_PROFILE = frozenset({"user_id"})
_KIND_RE = re.compile(r"[^a-z0-9_]+")
_PHONE_RE = re.compile(r"[^\d+]")
MAX_VALUE_CHARS = 512


def normalize_email(value: str) -> str | None:
    """``' Ada@Example.COM '`` -> ``'ada@example.com'``; None when it is not an address."""
    email = value.strip().lower()
    if "@" not in email or len(email) > MAX_VALUE_CHARS or any(c.isspace() for c in email):
        return None
    return email


def normalize_phone(value: str) -> str | None:
    """Keep digits and a leading +: ``'+39 333-12 34'`` -> ``'+393331234'``."""
    raw = value.strip()
    digits = _PHONE_RE.sub("", raw)
    plus = digits.startswith("+")
    digits = digits.replace("+", "")
    if len(digits) < 5 or len(digits) > 20:
        return None
    return ("+" if plus else "") + digits


def sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def normalize_kind(kind: str) -> str:
    """``'CRM Id'`` -> ``'crm_id'``: the form kinds are stored in."""
    return _KIND_RE.sub("_", kind.lower()).strip("_")[:64]


def normalize_value(kind: str, value: str) -> str | None:
    """A value as stored for its kind: emails and phones normalized, others trimmed."""
    if kind == "email":
        return normalize_email(value)
    if kind == "phone":
        return normalize_phone(value)
    value = value.strip()
    return value[:MAX_VALUE_CHARS] if value else None


def parse_kind_value(text: str) -> IdentityKey | None:
    """``'email:A@b.it'`` -> ``('email', 'a@b.it')``; None when ``text`` has no kind.

    Kind and value are normalized exactly as `event_keys` stores them, so any id an
    event carried finds its profile however the caller spells it.
    """
    kind, sep, value = text.partition(":")
    kind = normalize_kind(kind)
    if not sep or not kind:
        return None
    normalized = normalize_value(kind, value)
    return (kind, normalized) if normalized else None


def _trait(traits: dict[str, Any], *names: str) -> str | None:
    for name in names:
        value = traits.get(name)
        if isinstance(value, str | int) and not isinstance(value, bool) and str(value).strip():
            return str(value).strip()
    return None


def person_traits(event: Event) -> JSONObject:
    """The traits an event states about its person: top-level ``traits`` over
    ``context.traits``, key by key.

    Segment's libraries send an identify's traits at the top level; RudderStack's
    (rudder-sdk-python, the JavaScript SDK) send them in ``context.traits``, where Segment's
    spec also lets any other event name its user's traits.

    >>> e = Event("identify", "m", 0, 0, traits={"plan": "pro"},
    ...           context={"traits": {"plan": "free", "email": "a@b.it"}})
    >>> person_traits(e)
    {'plan': 'pro', 'email': 'a@b.it'}
    """
    nested = event.context.get("traits")
    if not isinstance(nested, dict) or not nested:
        return event.traits
    if not event.traits:
        return nested
    return {**nested, **event.traits}


def event_keys(event: Event) -> list[IdentityKey]:
    """Every identity key the event carries, in a stable order, without duplicates."""
    keys: list[IdentityKey] = []
    if event.user_id:
        keys.append(("user_id", event.user_id))
    if event.anonymous_id:
        keys.append(("anonymous_id", event.anonymous_id))
    traits = person_traits(event)
    if traits:
        email = _trait(traits, "email")
        email = normalize_email(email) if email else None
        if email:
            keys.append(("email", email))
            keys.append(("email_sha256", sha256(email)))
        phone = _trait(traits, "phone")
        phone = normalize_phone(phone) if phone else None
        if phone:
            keys.append(("phone", phone))
        loyalty = _trait(traits, "loyaltyId", "loyalty_id")
        if loyalty:
            keys.append(("loyalty_id", loyalty[:MAX_VALUE_CHARS]))
    external = event.context.get("externalIds")
    if isinstance(external, list):
        for item in external[:20]:
            if not isinstance(item, dict):
                continue
            kind = normalize_kind(str(item.get("type", "")))
            value = item.get("id")
            if not kind or kind in ("user_id", "anonymous_id"):
                continue  # only the message's own fields set these
            if isinstance(value, bool) or not isinstance(value, str | int):
                continue
            # An email or phone sent as an external id is the same identity as the trait.
            normalized = normalize_value(kind, str(value))
            if normalized:
                keys.append((kind, normalized))
                if kind == "email":
                    keys.append(("email_sha256", sha256(normalized)))
    seen: set[IdentityKey] = set()
    return [k for k in keys if not (k in seen or seen.add(k))]  # type: ignore[func-returns-value]


def suppression_hash(workspace_id: str, key: IdentityKey) -> str:
    """What an erased identity leaves behind: a salted hash that cannot be read back."""
    return sha256(f"{workspace_id}\x1f{key[0]}\x1f{key[1]}")
