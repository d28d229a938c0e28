"""`validate_event`: Segment messages into events, or an error naming the field at fault."""

from __future__ import annotations

from typing import Any

import pytest

from unico.collect.validation import EventTooLarge, Limits, parse_time, validate_event
from unico.core.clock import to_iso
from unico.core.errors import InvalidInput, UnicoError
from unico.core.event import Event

#: 2026-01-15T10:00:00Z
NOW = 1_768_471_200_000
LIMITS = Limits()


def validate(raw: Any, **kwargs: Any) -> Event:
    kwargs.setdefault("type_hint", "track" if "type" not in raw else None)
    return validate_event(raw, received_at=NOW, limits=LIMITS, message_id="m_default", **kwargs)


def refused(raw: Any, **kwargs: Any) -> UnicoError:
    with pytest.raises(UnicoError) as info:
        validate(raw, **kwargs)
    return info.value


def test_a_minimal_track_gets_the_server_time_and_the_default_message_id() -> None:
    event = validate({"userId": "u1", "event": "Signed Up"})
    assert (event.type, event.name, event.user_id, event.anonymous_id) == (
        "track",
        "Signed Up",
        "u1",
        None,
    )
    assert event.timestamp == NOW
    assert event.received_at == NOW
    assert event.message_id == "m_default"


def test_numeric_ids_are_accepted_as_strings_as_segment_allows() -> None:
    event = validate({"userId": 42, "anonymousId": " a1 ", "event": "E", "messageId": 7})
    assert (event.user_id, event.anonymous_id, event.message_id) == ("42", "a1", "7")


@pytest.mark.parametrize(
    ("timestamp", "sent_at", "expected"),
    [
        # No sentAt: the client's timestamp is trusted as it is.
        ("2026-01-15T09:00:00.123Z", None, "2026-01-15T09:00:00.123Z"),
        # The client's clock is 30 s ahead: the event happened 89.877 s before it was sent.
        ("2026-01-15T09:59:00.123Z", "2026-01-15T10:00:30.000Z", "2026-01-15T09:58:30.123Z"),
        # The client's clock is a year behind and in another time zone.
        ("2025-01-15T11:59:59.001+02:00", "2025-01-15T12:00:00+02:00", "2026-01-15T09:59:59.001Z"),
        # A naive timestamp is UTC.
        ("2026-01-15T09:30:00", "2026-01-15T10:00:00", "2026-01-15T09:30:00.000Z"),
    ],
)
def test_timestamp_is_corrected_for_the_clients_clock_skew(
    timestamp: str, sent_at: str | None, expected: str
) -> None:
    raw = {"userId": "u", "event": "E", "timestamp": timestamp}
    if sent_at is not None:
        raw["sentAt"] = sent_at
    assert to_iso(validate(raw).timestamp) == expected


def test_the_batch_sent_at_is_used_when_the_message_has_none_and_its_own_wins() -> None:
    raw = {"type": "track", "userId": "u", "event": "E", "timestamp": "2026-01-15T09:00:00Z"}
    batch_sent = parse_time({"sentAt": "2026-01-15T09:00:10Z"}, "sentAt", "")
    assert to_iso(validate(raw, sent_at=batch_sent).timestamp) == "2026-01-15T09:59:50.000Z"
    own = {**raw, "sentAt": "2026-01-15T09:00:01Z"}
    assert to_iso(validate(own, sent_at=batch_sent).timestamp) == "2026-01-15T09:59:59.000Z"


def test_original_timestamp_is_read_when_timestamp_is_absent() -> None:
    event = validate({"userId": "u", "event": "E", "originalTimestamp": "2026-01-15T08:00:00Z"})
    assert to_iso(event.timestamp) == "2026-01-15T08:00:00.000Z"


def test_every_millisecond_survives_parsing_exactly() -> None:
    # Float arithmetic (dt.timestamp() * 1000) gets about one in 160 of these wrong.
    for ms in range(NOW - 5000, NOW - 4000):
        assert parse_time({"t": to_iso(ms)}, "t", "") == ms


@pytest.mark.parametrize(
    "timestamp",
    [
        "1970-01-01T00:00:00Z",
        "1989-12-31T23:59:59Z",
        "2026-01-16T10:00:01Z",  # more than a day ahead of the server
        "9999-12-31T23:59:59Z",
        "0001-01-01T00:00:00+14:00",
    ],
)
def test_unbelievable_timestamps_are_refused(timestamp: str) -> None:
    error = refused({"userId": "u", "event": "E", "timestamp": timestamp})
    assert isinstance(error, InvalidInput)
    assert error.field == "timestamp"


@pytest.mark.parametrize("value", ["yesterday", "2026-13-01T00:00:00Z", "", 1768471200000, True])
def test_timestamps_that_are_not_iso_strings_are_refused(value: object) -> None:
    error = refused({"userId": "u", "event": "E", "timestamp": value})
    assert error.field == "timestamp"


def test_sent_at_that_is_not_a_timestamp_is_refused_with_its_field() -> None:
    assert refused({"userId": "u", "event": "E", "sentAt": "soon"}).field == "sentAt"


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({"event": "E"}, "userId"),
        ({"userId": "", "anonymousId": "   ", "event": "E"}, "userId"),
        ({"userId": {"id": 1}, "event": "E"}, "userId"),
        ({"userId": True, "event": "E"}, "userId"),
        ({"anonymousId": ["a"], "event": "E"}, "anonymousId"),
        ({"userId": "u" * 256, "event": "E"}, "userId"),
        ({"userId": "u", "event": "E", "messageId": "m" * 256}, "messageId"),
        ({"userId": "u"}, "event"),
        ({"userId": "u", "event": "   "}, "event"),
        ({"userId": "u", "event": 12}, "event"),
        ({"userId": "u", "event": "E" * 256}, "event"),
        ({"userId": "u", "event": "E", "properties": [1, 2]}, "properties"),
        ({"userId": "u", "event": "E", "context": "web"}, "context"),
        ({"userId": "u", "event": "E", "integrations": 1}, "integrations"),
    ],
)
def test_track_fields_of_the_wrong_shape_are_named(raw: dict[str, Any], field: str) -> None:
    assert refused(raw).field == field


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({"type": "group", "userId": "u"}, "groupId"),
        ({"type": "alias", "userId": "u"}, "previousId"),
        ({"type": "alias", "anonymousId": "a", "previousId": "p"}, "userId"),
        ({"type": "page", "userId": "u", "name": ["Home"]}, "name"),
        ({"type": "identify", "userId": "u", "traits": "vip"}, "traits"),
        ({"type": "identify", "userId": "u", "context": {"traits": "vip"}}, "context.traits"),
        ({"type": "login", "userId": "u"}, "type"),
        ({"userId": "u"}, "type"),
    ],
)
def test_type_specific_fields_are_checked(raw: dict[str, Any], field: str) -> None:
    error = refused(raw, type_hint=None)
    assert error.field == field


def test_the_endpoint_type_wins_over_a_contradicting_type_field() -> None:
    assert refused({"type": "identify", "userId": "u"}, type_hint="track").field == "type"


def test_errors_in_a_batch_item_carry_its_index() -> None:
    error = refused({"type": "track", "userId": "u"}, prefix="batch[3].")
    assert error.field == "batch[3].event"


def nest(levels: int) -> Any:
    """``levels`` objects around a scalar: as properties, the scalar sits at depth levels + 1."""
    value: Any = 1
    for _ in range(levels):
        value = {"x": value}
    return value


def test_nesting_beyond_the_limit_is_refused_with_the_path_where_it_overflows() -> None:
    allowed = LIMITS.max_depth - 1
    assert validate({"userId": "u", "event": "E", "properties": nest(allowed)}).properties
    error = refused({"userId": "u", "event": "E", "properties": nest(allowed + 1)})
    assert error.field == "properties" + ".x" * (allowed + 1)
    assert "nesting" in error.message


def test_nesting_deeper_than_the_json_encoder_can_handle_is_a_clear_error() -> None:
    deep: Any = "leaf"
    for _ in range(600):  # orjson.dumps stops at 255 levels: this used to be a 500
        deep = [deep]
    error = refused({"userId": "u", "event": "E", "properties": {"p": deep}})
    assert isinstance(error, InvalidInput)
    assert error.field is not None and error.field.startswith("properties.p[0]")


def test_long_strings_and_keys_are_refused_with_their_path() -> None:
    long_value = {"userId": "u", "event": "E", "properties": {"bio": "x" * 8193}}
    assert refused(long_value).field == "properties.bio"
    long_key = {"userId": "u", "event": "E", "traits": {"k" * 256: 1}}
    assert refused(long_key).field == "traits"
    in_list = {"userId": "u", "event": "E", "properties": {"tags": ["ok", "y" * 9000]}}
    assert refused(in_list).field == "properties.tags[1]"


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({"userId": "u\x00", "event": "E"}, "userId"),
        ({"userId": "u", "event": "Sign\x00ed Up"}, "event"),
        ({"userId": "u", "event": "E", "properties": {"a": "b\x00"}}, "properties.a"),
        ({"userId": "u", "event": "E", "properties": {"a\x00": "b"}}, "properties"),
        ({"userId": "u", "event": "E", "context": {"l": ["\x00"]}}, "context.l[0]"),
        ({"userId": "u", "event": "E", "extra": "\x00"}, "extra"),
    ],
)
def test_nul_characters_are_refused_anywhere(raw: dict[str, Any], field: str) -> None:
    error = refused(raw)
    assert error.field == field
    assert "NUL" in error.message


def test_page_names_with_nul_are_refused() -> None:
    assert refused({"type": "page", "userId": "u", "name": "Ho\x00me"}, type_hint=None).field == (
        "name"
    )


def test_an_event_over_the_size_limit_is_413_with_its_position() -> None:
    big: dict[str, Any] = {"type": "track", "userId": "u", "event": "E", "properties": {}}
    for i in range(9):
        big["properties"][f"p{i}"] = "x" * 4000  # 36 KB in all, each string within bounds
    error = refused(big, prefix="batch[2].")
    assert isinstance(error, EventTooLarge)
    assert (error.status, error.code, error.field) == (413, "event_too_large", "batch[2]")
    assert refused({k: v for k, v in big.items() if k != "type"}).field == "body"


def test_unicode_is_kept_exactly_as_sent() -> None:
    text = {
        "emoji": "👩🏽‍💻🇮🇹",
        "rtl": "مرحبا بالعالم",
        "combining": "e\u0301",  # not normalized to é
        "precomposed": "\u00e9",
        "zero_width": "a\u200db",
    }
    event = validate({"userId": "ユーザー", "event": "Vu ✓", "properties": text})
    assert event.properties == text
    assert event.user_id == "ユーザー"
    assert event.name == "Vu ✓"


def test_consent_updated_with_an_unknown_purpose_is_refused() -> None:
    raw = {"userId": "u", "event": "Consent Updated", "properties": {"purposes": {"ads": True}}}
    assert refused(raw).field == "properties.purposes.ads"
