"""Validation of Segment-spec messages into `Event` values.

Hand-written rather than pydantic: a batch must keep every valid event and
dead-letter each invalid one with the exact field at fault, and bounds on size,
depth, string length and control characters have to be checked on the raw
values anyway. One pass over plain dicts does all of it in a few microseconds
per event. The pydantic models in ``collect.models`` describe the same shapes
for the OpenAPI document.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from unico.core.errors import InvalidInput, PayloadTooLarge
from unico.core.event import Event
from unico.core.types import EpochMs, JSONObject
from unico.profiles.consent import consent_changes

EVENT_TYPES = frozenset({"track", "identify", "page", "screen", "group", "alias"})
#: Earliest believable event time (1990-01-01) and how far ahead of the server a corrected
#: timestamp may be (one day): anything outside is a broken clock or a unit mistake.
MIN_TIMESTAMP_MS: EpochMs = 631_152_000_000
MAX_FUTURE_MS: EpochMs = 24 * 3600 * 1000
MAX_ID_CHARS = 255
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_MS = timedelta(milliseconds=1)


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds on one event, taken from the settings."""

    max_event_bytes: int = 32 * 1024
    max_depth: int = 16
    max_string_chars: int = 8192
    max_key_chars: int = 255


class EventTooLarge(PayloadTooLarge):
    """One event over ``max_event_bytes`` (the body as a whole may be within its limit)."""

    code = "event_too_large"


def _fail(message: str, field: str) -> InvalidInput:
    return InvalidInput(message, field=field)


def _id(raw: JSONObject, key: str, prefix: str) -> str | None:
    value = raw.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise _fail(f"{key} must be a string", prefix + key)
    text = str(value)
    if len(text) > MAX_ID_CHARS:
        raise _fail(f"{key} is longer than {MAX_ID_CHARS} characters", prefix + key)
    text = text.strip()
    if not text:
        return None
    if "\x00" in text:
        raise _fail(f"{key} contains a NUL character", prefix + key)
    return text


def parse_time(raw: JSONObject, key: str, prefix: str) -> EpochMs | None:
    """``raw[key]`` as epoch milliseconds (exact: no float rounding); None when absent."""
    value = raw.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise _fail(f"{key} must be an ISO 8601 string", prefix + key)
    try:
        dt = datetime.fromisoformat(value.strip())
    except ValueError:
        raise _fail(f"{key} is not an ISO 8601 timestamp: {value[:40]!r}", prefix + key) from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    try:
        return (dt - _EPOCH) // _ONE_MS
    except (OverflowError, ValueError):
        raise _fail(f"{key} is out of range", prefix + key) from None


def _object(raw: JSONObject, key: str, prefix: str) -> JSONObject:
    value = raw.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _fail(f"{key} must be an object", prefix + key)
    return value


def check_bounds(value: Any, path: str, depth: int, limits: Limits) -> None:
    """Reject nesting, strings and keys beyond the limits, and NUL characters.

    NUL is refused because PostgreSQL cannot store it in JSON text: an event
    accepted on one store must be accepted on every store.
    """
    if depth > limits.max_depth:
        raise _fail(f"nesting deeper than {limits.max_depth} levels", path)
    if isinstance(value, str):
        if len(value) > limits.max_string_chars:
            raise _fail(f"string longer than {limits.max_string_chars} characters", path)
        if "\x00" in value:
            raise _fail("string contains a NUL character", path)
    elif isinstance(value, dict):
        _check_keys(value, path, depth, limits)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            check_bounds(v, f"{path}[{i}]", depth + 1, limits)


def _check_keys(value: JSONObject, path: str, depth: int, limits: Limits) -> None:
    for k, v in value.items():
        if len(k) > limits.max_key_chars:
            raise _fail(f"key longer than {limits.max_key_chars} characters", path or "body")
        if "\x00" in k:
            raise _fail("key contains a NUL character", path or "body")
        check_bounds(v, f"{path}.{k}" if path else k, depth + 1, limits)


def _surely_within_bounds(encoded: bytes, limits: Limits) -> bool:
    """A check of the limits on the encoded message, at C speed, with no false "yes".

    Brackets bound the depth from above; once escapes are blanked out (same length), the
    runs between quotes are the strings and keys, and their byte lengths bound their
    lengths in characters from above; orjson writes NUL as ``\\u0000``. Almost every event
    passes here; the rest take the slow walk (`_check_message`), which names the field.
    """
    if b"\\u0000" in encoded:
        return False
    if encoded.count(b"{") + encoded.count(b"[") > limits.max_depth:
        return False
    shortest = min(limits.max_key_chars, limits.max_string_chars)
    if len(encoded) <= shortest:
        return True
    plain = encoded.replace(b"\\\\", b"__").replace(b'\\"', b"__")
    return max(map(len, plain.split(b'"'))) <= shortest


def _check_message(raw: JSONObject, prefix: str, limits: Limits) -> None:
    """Bounds on the whole message, before anything re-encodes it: the top level counts as
    depth 0, so ``properties`` sits at 1 and its values at 2."""
    _check_keys(raw, prefix.rstrip("."), 0, limits)


def validate_event(
    raw: Any,
    *,
    received_at: EpochMs,
    limits: Limits,
    message_id: str,
    type_hint: str | None = None,
    sent_at: EpochMs | None = None,
    prefix: str = "",
    gpc: bool = False,
) -> Event:
    """Turn one raw message into an `Event`, or raise `InvalidInput` naming the field.

    ``type_hint`` is the type implied by the endpoint (``/v1/track``); in a batch
    each item names its own ``type``. ``message_id`` is used when the message has
    none. ``sent_at`` is the batch's ``sentAt`` when the item has none.
    """
    if not isinstance(raw, dict):
        raise _fail("an event must be a JSON object", prefix.rstrip(".") or "body")
    kind = raw.get("type", type_hint)
    if type_hint is not None and kind != type_hint:
        raise _fail(f"type must be {type_hint!r} on this endpoint", prefix + "type")
    if not isinstance(kind, str) or kind not in EVENT_TYPES:
        raise _fail(f"type must be one of {', '.join(sorted(EVENT_TYPES))}", prefix + "type")
    try:
        encoded = orjson.dumps(raw)
    except orjson.JSONEncodeError:  # nesting beyond orjson's 255 levels
        encoded = b""
    if not encoded or not _surely_within_bounds(encoded, limits):
        _check_message(raw, prefix, limits)  # the slow walk names the field at fault
    write_key = raw.get("writeKey")
    if write_key is not None and not isinstance(write_key, str):
        raise _fail("writeKey must be a string", prefix + "writeKey")
    size = len(encoded)
    if size > limits.max_event_bytes:
        raise EventTooLarge(
            f"the event is {size} bytes; the limit is {limits.max_event_bytes}",
            field=prefix.rstrip(".") or "body",
        )

    anonymous_id = _id(raw, "anonymousId", prefix)
    user_id = _id(raw, "userId", prefix)
    if anonymous_id is None and user_id is None:
        raise _fail("either anonymousId or userId is required", prefix + "userId")
    mid = _id(raw, "messageId", prefix) or message_id

    timestamp = parse_time(raw, "timestamp", prefix)
    if timestamp is None:
        timestamp = parse_time(raw, "originalTimestamp", prefix)
    sent = parse_time(raw, "sentAt", prefix)
    if sent is None:
        sent = sent_at
    if timestamp is None:
        timestamp = received_at
    elif sent is not None:
        # The client's clock may be wrong; its error is (sentAt - receivedAt).
        timestamp = received_at - (sent - timestamp)
    if timestamp < MIN_TIMESTAMP_MS or timestamp > received_at + MAX_FUTURE_MS:
        raise _fail(
            "timestamp is not believable (before 1990 or in the future)", prefix + "timestamp"
        )

    context = _object(raw, "context", prefix)
    # RudderStack's libraries send an identify's traits here: read like top-level traits.
    if context.get("traits") is not None and not isinstance(context["traits"], dict):
        raise _fail("context.traits must be an object", prefix + "context.traits")
    event = Event(
        type=kind,
        message_id=mid,
        timestamp=timestamp,
        received_at=received_at,
        anonymous_id=anonymous_id,
        user_id=user_id,
        properties=_object(raw, "properties", prefix),
        traits=_object(raw, "traits", prefix),
        context=context,
        integrations=_object(raw, "integrations", prefix),
        gpc=gpc,
    )
    _fill_type_fields(event, raw, prefix)
    return event


def _fill_type_fields(event: Event, raw: JSONObject, prefix: str) -> None:
    if event.type == "track":
        name = raw.get("event")
        if not isinstance(name, str) or not name.strip():
            raise _fail("event (the event's name) is required on track", prefix + "event")
        if len(name) > MAX_ID_CHARS:
            raise _fail(f"event is longer than {MAX_ID_CHARS} characters", prefix + "event")
        event.name = name.strip()
        if event.name == "Consent Updated":
            consent_changes(event, prefix)  # validate now, so a bad one is a 4xx
    elif event.type in ("page", "screen"):
        name = raw.get("name")
        if name is not None and not isinstance(name, str):
            raise _fail("name must be a string", prefix + "name")
        event.name = name[:MAX_ID_CHARS] if name else None
    elif event.type == "group":
        event.group_id = _id(raw, "groupId", prefix)
        if event.group_id is None:
            raise _fail("groupId is required on group", prefix + "groupId")
    elif event.type == "alias":
        event.previous_id = _id(raw, "previousId", prefix)
        if event.previous_id is None:
            raise _fail("previousId is required on alias", prefix + "previousId")
        if event.user_id is None:
            raise _fail("userId is required on alias", prefix + "userId")
