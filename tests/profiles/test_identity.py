"""Identity keys an event carries, their normalization, and parsing of ``kind:value`` refs."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from tests.conftest import T0
from unico.core.event import Event
from unico.profiles.identity import (
    event_keys,
    normalize_email,
    normalize_phone,
    parse_kind_value,
    suppression_hash,
)


def _event(**fields: Any) -> Event:
    return Event(type="identify", message_id="m1", timestamp=T0, received_at=T0, **fields)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (" Ada@Example.COM ", "ada@example.com"),
        ("ada.lovelace+shop@example.it", "ada.lovelace+shop@example.it"),
        ("not-an-address", None),
        ("ada @example.com", None),
        ("a@" + "b" * 600, None),
    ],
)
def test_normalize_email(raw: str, expected: str | None) -> None:
    assert normalize_email(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("+39 333-12 34", "+393331234"),
        ("(0039) 333 123 4567", "00393331234567"),
        (" 333.123.4567 ", "3331234567"),
        ("12", None),
        ("+" + "1" * 25, None),
    ],
)
def test_normalize_phone(raw: str, expected: str | None) -> None:
    assert normalize_phone(raw) == expected


def test_event_keys_cover_every_kind_normalized_and_once() -> None:
    event = _event(
        user_id="u1",
        anonymous_id="a1",
        traits={"email": " Ada@Example.com", "phone": "+39 333 1234567", "loyaltyId": 777},
        context={
            "externalIds": [
                {"id": "C-9", "type": "CRM Id", "collection": "users"},
                {"id": "C-9", "type": "crm_id"},
                {"id": "sneaky", "type": "user_id"},
                {"id": "sneaky", "type": "anonymous_id"},
                "not an object",
                {"id": "", "type": "empty"},
            ]
        },
    )
    assert event_keys(event) == [
        ("user_id", "u1"),
        ("anonymous_id", "a1"),
        ("email", "ada@example.com"),
        ("email_sha256", hashlib.sha256(b"ada@example.com").hexdigest()),
        ("phone", "+393331234567"),
        ("loyalty_id", "777"),
        ("crm_id", "C-9"),
    ]


def test_event_keys_skip_unusable_traits() -> None:
    event = _event(anonymous_id="a1", traits={"email": "nope", "phone": True, "loyaltyId": " "})
    assert event_keys(event) == [("anonymous_id", "a1")]


def test_external_email_and_phone_are_normalized_like_traits() -> None:
    """An email sent as ``context.externalIds`` (as Segment Unify does) must be the same
    identity as the same email sent as a trait, hashed copy included."""
    event = _event(
        anonymous_id="a1",
        context={
            "externalIds": [
                {"id": " ADA@example.com", "type": "email"},
                {"id": "+39 333 1234567", "type": "phone"},
            ]
        },
    )
    assert event_keys(event) == [
        ("anonymous_id", "a1"),
        ("email", "ada@example.com"),
        ("email_sha256", hashlib.sha256(b"ada@example.com").hexdigest()),
        ("phone", "+393331234567"),
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("user_id:42", ("user_id", "42")),
        ("USER_ID:42", ("user_id", "42")),
        ("email:Ada@Example.com", ("email", "ada@example.com")),
        ("phone:+39 333 1234567", ("phone", "+393331234567")),
        ("anonymous_id:a:b", ("anonymous_id", "a:b")),
        ("CRM Id:C-9", ("crm_id", "C-9")),
        ("email:nope", None),
        ("user_id:", None),
        (":42", None),
        ("p_123", None),
    ],
)
def test_parse_kind_value(text: str, expected: tuple[str, str] | None) -> None:
    assert parse_kind_value(text) == expected


def test_suppression_hash_hides_the_value_and_depends_on_workspace() -> None:
    key = ("email", "ada@example.com")
    first = suppression_hash("ws_1", key)
    assert len(first) == 64 and "ada" not in first
    assert first == suppression_hash("ws_1", key)
    assert first != suppression_hash("ws_2", key)
    assert first != suppression_hash("ws_1", ("user_id", "ada@example.com"))
