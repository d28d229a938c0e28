"""Identifiers: short, URL-safe, sortable by creation time."""

from __future__ import annotations

import secrets

from unico.core.types import EpochMs

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford base32, lower case


def _b32(n: int, length: int) -> str:
    out = []
    for _ in range(length):
        out.append(_ALPHABET[n & 31])
        n >>= 5
    return "".join(reversed(out))


def new_id(prefix: str, now_ms: EpochMs) -> str:
    """A new id: ``prefix`` + 10 chars of time + 16 random chars (80 bits).

    Ids made later sort after ids made earlier, which keeps primary-key
    inserts append-only and gives paging a natural order.

    >>> len(new_id("p_", 0))
    28
    """
    return prefix + _b32(now_ms, 10) + _b32(secrets.randbits(80), 16)


def new_key(kind: str) -> str:
    """A new API key: ``wk_`` (write) or ``sk_`` (secret) and 32 random url-safe characters."""
    return f"{kind}_{secrets.token_urlsafe(24)}"
