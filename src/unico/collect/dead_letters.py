"""Building dead letters from whatever arrived, so that storing one can never fail.

A dead letter keeps the raw message for later inspection. The raw message is by
definition suspect: nested beyond what the JSON encoder accepts, ids too long for
their columns, NUL characters PostgreSQL cannot store. Everything here is bounded
and cleaned so the dead-letter row itself is always valid on every store.
"""

from __future__ import annotations

from typing import Any

import orjson

from unico.collect.store import DeadLetter
from unico.core.errors import UnicoError

MAX_PAYLOAD_CHARS = 65_536
MAX_ID_CHARS = 255
#: Deeper parts of a payload are replaced by a marker: the encoder stops at 255 levels.
MAX_PAYLOAD_DEPTH = 64
TRUNCATED = "…"


def _clean_text(value: str) -> str:
    """Drop NUL characters and lone surrogates (neither survives every store)."""
    if "\x00" in value:
        value = value.replace("\x00", "")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        value = value.encode("utf-8", "replace").decode("utf-8")
    return value


def _bounded(value: Any, depth: int) -> Any:
    if depth > MAX_PAYLOAD_DEPTH:
        return TRUNCATED
    if isinstance(value, dict):
        return {_clean_text(str(k)): _bounded(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [_bounded(v, depth + 1) for v in value]
    if isinstance(value, str):
        return _clean_text(value)
    return value


def payload_text(raw: Any) -> str:
    """The raw message as JSON text, at most ``MAX_PAYLOAD_CHARS`` long.

    >>> payload_text({"a": [1, 2]})
    '{"a":[1,2]}'
    """
    if raw is None:
        return ""
    try:
        text = orjson.dumps(raw, default=str).decode()
    except (TypeError, orjson.JSONEncodeError):
        text = orjson.dumps(_bounded(raw, 0), default=str).decode()
    return text[:MAX_PAYLOAD_CHARS]


def _id_of(raw: Any, key: str) -> str | None:
    value = raw.get(key) if isinstance(raw, dict) else None
    if not isinstance(value, str):
        return None
    cleaned = _clean_text(value).strip()[:MAX_ID_CHARS]
    return cleaned or None


def dead_letter_for(raw: Any, error: UnicoError) -> DeadLetter:
    """The dead letter of a message refused with ``error``.

    >>> from unico.core.errors import InvalidInput
    >>> dead_letter_for({"userId": "a\\x00b"}, InvalidInput("bad", field="userId")).user_id
    'ab'
    """
    return DeadLetter(
        code=error.code,
        reason=_clean_text(error.message),
        field=_clean_text(error.field) if error.field else None,
        payload=payload_text(raw),
        anonymous_id=_id_of(raw, "anonymousId"),
        user_id=_id_of(raw, "userId"),
    )
