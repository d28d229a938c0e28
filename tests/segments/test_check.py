from __future__ import annotations

from typing import Any

import pytest

from unico.core.errors import Unprocessable
from unico.segments.check import COMPUTED_FIELDS, ConditionTypeError, check, validate
from unico.segments.parser import parse


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('computed.orders > "many"', "compares a number with a string"),
        ('traits.x == "a" and 3 == "a"', "compares a number with a string"),
        ("computed.orders == true", "compares a number with a boolean"),
        ("traits.vip == true and true < false", "booleans can only be compared with == or !="),
        ("traits.x == null", "nothing compares with null"),
        ('computed.favourite_categories == "shoes"', "an array cannot be compared"),
        ("computed.event_counts > 2", "an object cannot be compared"),
        ('computed.orders in [1, "two"]', "compares a number with a string"),
        ('computed.orders matches "1"', "matches applies to text, not a number"),
        ('traits.email matches "(a+)+$"', "nested quantifiers"),
        ('traits.email matches "\\\\bword"', "unsupported escape"),
        ('traits.email matches "[a-"', "not a valid pattern"),
        ("computed.orders contains 1", "contains applies to text or lists"),
        ('sum(event "Order Completed" within 30d) > 1', "sum needs 'of'"),
        ('count(event "X" of properties.v within 1d) > 1', "count takes no 'of'"),
        ("computed.nonsense > 1", "unknown computed field 'nonsense'"),
        ("computed.orders.x > 1", "computed.orders has no field 'x'"),
        ("wat.x == 1", "unknown field root 'wat'"),
        ("soft.openness > 0.5", "soft traits are soft.<group>.<name>"),
        ("profile.updated > 1", "unknown profile field"),
        ('consented("spam")', "unknown purpose 'spam'"),
        ('in_segment("ghost")', "unknown segment 'ghost'"),
        ('did event "X" where traits.country == "IT" within 1d', "unknown field root 'traits'"),
        ('did event "X" where properties.t > now within 1d', "'now' cannot be used inside 'where'"),
        ('did event "X" where consented("marketing") within 1d', "only event fields"),
        ("count(event where count(event within 1d) > 1 within 1d) > 1", "an aggregate cannot"),
        ("sum(event of traits.x within 1d) > 1", "unknown field root 'traits'"),
    ],
)
def test_type_errors_are_reported(text: str, problem: str) -> None:
    errors = check(parse(text), known_segments={"vip"})
    assert any(problem in e.message for e in errors), [e.message for e in errors]
    assert all(isinstance(e, Unprocessable) and e.code == "condition_type" for e in errors)


@pytest.mark.parametrize(
    "text",
    [
        'traits.country == "IT" and computed.orders >= 2 and count(event "Product Viewed" '
        'where properties.category == "shoes" within 7d) >= 3 and soft.personality.openness '
        '> 0.6 and consented("marketing")',
        'traits.birthday < "2000-01-01" and profile.last_seen < now - 30d',
        'profile.first_seen > "2025-01-01" and computed.last_order_at > now - 30d',
        'computed.event_counts."Order Completed" >= 2 and computed.category_scores.shoes > 1',
        'computed.favourite_categories contains "shoes" and traits.tags contains 3',
        'traits.email matches "(?i)^[a-z0-9.]+@example\\\\.com$" and not traits.phone exists',
        'sum(event "Order Completed" of properties.revenue within 30d) > 100.5',
        'did not event "Cart Abandoned" where context.page.path != "/cart" within 2d',
        'in_segment("vip") or traits.age in [18, 19, 20]',
    ],
)
def test_good_conditions_pass(text: str) -> None:
    assert check(parse(text), known_segments={"vip"}) == []
    validate(parse(text), known_segments={"vip"})


def test_segments_are_not_checked_without_a_list_of_known_ones() -> None:
    assert check(parse('in_segment("anything")')) == []


def test_validate_raises_the_first_error_and_lists_all() -> None:
    with pytest.raises(ConditionTypeError) as info:
        validate(parse('computed.orders > "x" and consented("spam")'))
    error = info.value
    assert error.status == 422 and error.field == "condition"
    assert error.message == 'computed.orders > "x": compares a number with a string'
    assert error.details["errors"] == [
        'computed.orders > "x": compares a number with a string',
        "consented(\"spam\"): unknown purpose 'spam'",
    ]


def test_unknown_computed_fields_get_a_hint() -> None:
    (error,) = check(parse("computed.recency_days < 30"))
    assert error.hint == "use computed.last_order_at < now - 30d"
    (other,) = check(parse("computed.wat < 30"))
    assert other.hint is not None and "orders" in other.hint


def test_the_catalogue_matches_what_features_stores() -> None:
    from unico.core.event import Event
    from unico.profiles.features import INTERNAL, apply_event

    computed: dict[str, object] = {}
    sent: list[tuple[str, str | None, dict[str, Any]]] = [
        ("track", "Order Completed", {"revenue": 10, "order_id": "o1", "category": "shoes"}),
        ("track", "Order Refunded", {"order_id": "o1"}),
        ("page", None, {}),
        ("screen", None, {}),
    ]
    for i, (kind, name, props) in enumerate(sent):
        event = Event(kind, f"m{i}", i, i, anonymous_id="a", name=name, properties=props)
        apply_event(computed, None, event, 1_800_000)
    stored = {k for k in computed if k not in INTERNAL}
    assert stored <= set(COMPUTED_FIELDS), stored - set(COMPUTED_FIELDS)
