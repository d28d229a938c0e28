from __future__ import annotations

from typing import Any

import pytest

from unico.segments.ast import Compare, EventAggregate, Field
from unico.segments.evaluate import (
    MISSING,
    ProfileContext,
    aggregate_events,
    evaluate,
    event_matches,
    event_value,
    in_window,
    profile_field,
    truth,
)
from unico.segments.explain import explain
from unico.segments.parser import parse

NOW = 1_768_471_200_000  # 2026-01-15T10:00:00Z
DAY = 86_400_000
PERSON: dict[str, Any] = {
    "traits": {
        "country": "IT",
        "age": 30,
        "score": 1.5,
        "vip": True,
        "nothing": None,
        "tags": ["a", "b", 3, True],
        "bio": "likes red shoes",
        "birthday": "1995-06-01",
        "renewal": "2026-01-15T09:00:00.000Z",
        "address": {"city": "Roma"},
        "digits": "12",
    },
    "computed": {
        "orders": 3,
        "revenue": 120.5,
        "favourite_categories": ["shoes"],
        "event_counts": {"Order Completed": 3},
    },
    "soft": {"big5": {"openness": {"value": 0.7, "confidence": 0.6, "source": "quiz"}}},
    "consent": {"marketing": {"granted": True, "at": 1, "source": "api"}},
    "first_seen": NOW - 40 * DAY,
    "last_seen": NOW - 2 * DAY,
    "created_at": NOW - 40 * DAY,
}


def _ctx(**kwargs: Any) -> ProfileContext:
    return ProfileContext(PERSON, now_ms=NOW, **kwargs)


SEMANTICS: list[tuple[str, bool | None]] = [
    # numbers and strings compare as themselves
    ("traits.age == 30", True),
    ("traits.age == 30.0", True),
    ("traits.age > 29.5", True),
    ('traits.age == "30"', False),  # a string is not a number
    ('traits.age != "30"', True),
    ('traits.age > "3"', None),  # ordering across kinds is unknown
    ('traits.digits > "1"', True),
    ('traits.country < "JP"', True),
    ('traits.country == "it"', False),
    ("traits.vip == true", True),
    ("traits.vip != false", True),
    ("traits.vip == 1", False),
    ("traits.vip > false", None),
    # missing and null are unknown, even for !=
    ('traits.city == "Rome"', None),
    ('traits.city != "Rome"', None),
    ('traits.nothing != "x"', None),
    ("traits.nothing == null", None),
    # lists and objects compare only with contains / exists
    ('traits.tags == "a"', None),
    ('traits.address == "Roma"', None),
    ('traits.address.city == "Roma"', True),
    # in
    ('traits.country in ["FR", "IT"]', True),
    ('traits.country in ["FR"]', False),
    ('traits.country in ["FR", null]', None),
    ("traits.country in []", False),
    ("traits.city in []", None),
    ('traits.age in ["30", 30]', True),
    # contains
    ('traits.bio contains "red"', True),
    ('traits.bio contains "blue"', False),
    ('traits.bio contains ""', True),
    ('traits.tags contains "a"', True),
    ("traits.tags contains 3", True),
    ("traits.tags contains 3.0", True),
    ('traits.tags contains "3"', False),
    ("traits.tags contains true", True),
    ("traits.tags contains 1", False),
    ("traits.age contains 3", None),
    ('traits.city contains "x"', None),
    ('computed.favourite_categories contains "shoes"', True),
    # matches
    ('traits.bio matches "^likes"', True),
    ('traits.bio matches "shoes$"', True),
    ('traits.bio matches "(?i)RED"', True),
    ('traits.bio matches "^red"', False),
    ('traits.age matches "3"', None),
    ('traits.bio matches "(a+)+"', None),  # refused pattern: unknown
    # exists
    ("traits.country exists", True),
    ("traits.nothing exists", False),
    ("traits.city exists", False),
    ("not traits.city exists", True),
    ("soft.big5.openness exists", True),
    # soft traits compare their value
    ("soft.big5.openness > 0.6", True),
    ("soft.big5.neuroticism > 0.6", None),
    # times
    ("profile.last_seen < now - 1d", True),
    ("profile.last_seen < now - 3d", False),
    ("profile.first_seen > now - 30d", False),
    ('profile.first_seen < "2026-01-01"', True),
    ('profile.first_seen > "2025-12-01T00:00:00Z"', True),
    ('traits.birthday < "2000-01-01"', True),
    ("traits.birthday < now - 6570d", True),  # 18 years
    ("traits.renewal < now", True),
    ("traits.renewal > now - 2h", True),
    ("traits.country < now", False),  # text after digits: compared as text
    ("traits.vip < now", None),
    ("computed.last_order_at > now - 7d", None),
    # three-valued logic
    ('not traits.city == "Rome"', None),
    ('traits.city == "Rome" or traits.age == 30', True),
    ('traits.city == "Rome" or traits.age == 31', None),
    ('traits.city == "Rome" and traits.age == 31', False),
    ('traits.city == "Rome" and traits.age == 30', None),
    # consent, with workspace defaults
    ('consented("marketing")', True),
    ('consented("analytics")', True),
    ('consented("sensors")', False),
    ('consented("nonsense")', False),
    # no events, no segments
    ('did event "X" within 1d', False),
    ('did not event "X" within 1d', True),
    ('count(event "X" within 1d) == 0', True),
    ('sum(event "X" of properties.v within 1d) == 0', True),
    ('avg(event "X" of properties.v within 1d) == 0', None),
    ('in_segment("vip")', False),
]


@pytest.mark.parametrize(("text", "expected"), SEMANTICS)
def test_semantics_table(text: str, expected: bool | None) -> None:
    assert truth(parse(text), _ctx()) is expected
    assert evaluate(parse(text), _ctx()) is (expected is True)


EVENTS = [
    {
        "name": "Viewed",
        "timestamp": NOW - DAY,
        "properties": {"price": 10, "cat": "shoes"},
        "context": {"page": {"path": "/a"}},
    },
    {
        "name": "Viewed",
        "timestamp": NOW - 3 * DAY,
        "properties": {"price": 30, "cat": "bags"},
        "context": {},
    },
    {
        "name": "Viewed",
        "timestamp": NOW - 7 * DAY,
        "properties": {"price": 50, "cat": "shoes"},
        "context": {},
    },  # exactly at the edge of a 7-day window: outside
    {
        "name": "Viewed",
        "timestamp": NOW + 1000,
        "properties": {"price": "12", "cat": "shoes"},
        "context": {},
    },  # slightly ahead of the clock: inside, but its price is text
    {"name": "Bought", "timestamp": NOW - DAY, "properties": {"price": 5.5}, "context": {}},
]


WINDOWED: list[tuple[str, bool | None]] = [
    ('count(event "Viewed" within 7d) == 3', True),
    ('count(event "Viewed" within 8d) == 4', True),
    ("count(event within 2d) == 3", True),
    ('count(event "Viewed" where properties.cat == "shoes" within 7d) == 2', True),
    ('sum(event "Viewed" of properties.price within 7d) == 40', True),
    ('avg(event "Viewed" of properties.price within 7d) == 20', True),
    ('min(event "Viewed" of properties.price within 7d) == 10', True),
    ("max(event of properties.price within 2d) == 10", True),
    ('did event "Viewed" where context.page.path == "/a" within 2d', True),
    ('did event "Viewed" where context.page.path == "/b" within 2d', False),
    ('did not event "Bought" within 2d', False),
    ('max(event "Bought" of properties.missing within 2d) > 0', None),
]


@pytest.mark.parametrize(("text", "expected"), WINDOWED)
def test_windowed_aggregates_over_events(text: str, expected: bool | None) -> None:
    ctx = _ctx(aggregates=lambda agg: aggregate_events(agg, EVENTS, NOW))
    assert truth(parse(text), ctx) is expected


def test_windows_exclude_their_start_and_include_events_ahead_of_the_clock() -> None:
    assert not in_window(NOW - DAY, NOW, DAY)
    assert in_window(NOW - DAY + 1, NOW, DAY)
    assert in_window(NOW + 5, NOW, DAY)


def test_event_matches_and_event_value_decide_what_feeds_an_aggregate() -> None:
    cond = parse(
        'sum(event "Order" where properties.coupon exists of properties.revenue within 1d) > 0'
    )
    assert isinstance(cond, Compare) and isinstance(cond.left, EventAggregate)
    agg = cond.left
    assert event_matches(agg, "Order", {"coupon": "X", "revenue": 9}, {})
    assert not event_matches(agg, "Order", {"revenue": 9}, {})
    assert not event_matches(agg, "Refund", {"coupon": "X"}, {})
    assert event_value(agg, {"revenue": 9.5}, {}) == 9.5
    assert event_value(agg, {"revenue": "9.5"}, {}) is None
    assert event_value(agg, {"revenue": True}, {}) is None
    counting = EventAggregate("count", None, None, None, DAY)
    assert event_matches(counting, None, {}, {}) and event_value(counting, {}, {}) == 1


def test_segments_and_consent_come_from_the_given_callables() -> None:
    ctx = _ctx(segments=lambda name: name == "vip", consent=lambda purpose: False)
    assert evaluate(parse('in_segment("vip") and not in_segment("other")'), ctx)
    assert not evaluate(parse('consented("marketing")'), ctx)
    defaults = _ctx(consent_defaults={"sensors": True, "analytics": False})
    assert evaluate(parse('consented("sensors") and not consented("analytics")'), defaults)


def test_profile_fields() -> None:
    assert profile_field(PERSON, ("traits", "address", "city")) == "Roma"
    assert profile_field(PERSON, ("traits", "country", "x")) is MISSING
    assert profile_field(PERSON, ("soft", "big5")) is MISSING
    assert profile_field(PERSON, ("profile", "last_seen")) == NOW - 2 * DAY
    assert profile_field({"first_seen": None}, ("profile", "first_seen")) is MISSING
    assert profile_field(PERSON, ("elsewhere", "x")) is MISSING
    assert Field(("traits", "x")) == Field(("traits", "x"))


def test_explain_shows_each_part_and_the_values_compared() -> None:
    cond = parse('computed.orders >= 2 and (traits.city == "Rome" or not traits.vip == false)')
    why = explain(cond, _ctx())
    assert why["result"] is True
    orders, either = why["items"]
    assert orders == {
        "condition": "computed.orders >= 2",
        "result": True,
        "value": 3,
        "compared_with": 2,
    }
    city, negated = either["items"]
    assert city["result"] is None and city["missing"] is True and city["value"] is None
    assert negated["items"][0] == {
        "condition": "traits.vip == false",
        "result": False,
        "value": True,
        "compared_with": False,
    }
    did = explain(
        parse('did event "Viewed" within 2d'),
        _ctx(aggregates=lambda agg: aggregate_events(agg, EVENTS, NOW)),
    )
    assert did == {"condition": 'did event "Viewed" within 2d', "result": True, "count": 2}
