from __future__ import annotations

import pytest
from hypothesis import given, settings

from tests.segments.conditions import conditions
from unico.core.errors import Unprocessable
from unico.segments.ast import (
    And,
    Compare,
    Consented,
    Did,
    EventAggregate,
    Exists,
    Field,
    InSegment,
    Literal,
    Not,
    Or,
    Timestamp,
)
from unico.segments.parser import ConditionSyntaxError, parse, unparse

DAY = 86_400_000
ORDERS = Field(("computed", "orders"))


def test_the_documented_example_parses_to_the_expected_tree() -> None:
    text = (
        'traits.country == "IT" and computed.orders >= 2 and count(event "Product Viewed" '
        'where properties.category == "shoes" within 7d) >= 3 and '
        'soft.personality.openness > 0.6 and consented("marketing")'
    )
    viewed = EventAggregate(
        "count",
        "Product Viewed",
        Compare("==", Field(("properties", "category")), Literal("shoes")),
        None,
        7 * DAY,
    )
    assert parse(text) == And(
        (
            Compare("==", Field(("traits", "country")), Literal("IT")),
            Compare(">=", ORDERS, Literal(2)),
            Compare(">=", viewed, Literal(3)),
            Compare(">", Field(("soft", "personality", "openness")), Literal(0.6)),
            Consented("marketing"),
        )
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("computed.orders != 1.5", Compare("!=", ORDERS, Literal(1.5))),
        ("computed.orders < -2", Compare("<", ORDERS, Literal(-2))),
        ("traits.vip == true", Compare("==", Field(("traits", "vip")), Literal(True))),
        ("traits.x == null", Compare("==", Field(("traits", "x")), Literal(None))),
        (
            'traits.c in ["IT", 1, null]',
            Compare("in", Field(("traits", "c")), Literal(("IT", 1, None))),
        ),
        ("traits.c in []", Compare("in", Field(("traits", "c")), Literal(()))),
        ('traits.c not in ["IT"]', Not(Compare("in", Field(("traits", "c")), Literal(("IT",))))),
        ('traits.tags contains "a"', Compare("contains", Field(("traits", "tags")), Literal("a"))),
        (
            'traits.email matches "@x\\\\.it$"',
            Compare("matches", Field(("traits", "email")), Literal("@x\\.it$")),
        ),
        ("traits.email exists", Exists(Field(("traits", "email")))),
        ("not traits.email exists", Not(Exists(Field(("traits", "email"))))),
        (
            "profile.last_seen < now - 30d",
            Compare("<", Field(("profile", "last_seen")), Timestamp(-30 * DAY)),
        ),
        ("profile.last_seen > now", Compare(">", Field(("profile", "last_seen")), Timestamp(0))),
        ("traits.renew < now + 2w", Compare("<", Field(("traits", "renew")), Timestamp(14 * DAY))),
        (
            'traits.birthday < "2000-01-01"',
            Compare("<", Field(("traits", "birthday")), Literal("2000-01-01")),
        ),
        (
            'traits."first name" == "Ada"',
            Compare("==", Field(("traits", "first name")), Literal("Ada")),
        ),
        ('did event "Cart Abandoned" within 2d', Did("Cart Abandoned", None, 2 * DAY)),
        ("did not event within 15m", Did(None, None, 900_000, negated=True)),
        ('not did event "X" within 30s', Not(Did("X", None, 30_000))),
        ('in_segment("vip")', InSegment("vip")),
        (
            'sum(event "Order Completed" of properties.revenue within 30d) > 100',
            Compare(
                ">",
                EventAggregate(
                    "sum", "Order Completed", None, Field(("properties", "revenue")), 30 * DAY
                ),
                Literal(100),
            ),
        ),
    ],
)
def test_each_construct_parses(text: str, expected: object) -> None:
    assert parse(text) == expected


def test_and_binds_tighter_than_or_and_parentheses_group() -> None:
    a, b, c = (Exists(Field(("traits", n))) for n in "abc")
    assert parse("traits.a exists or traits.b exists and traits.c exists") == Or((a, And((b, c))))
    assert parse("(traits.a exists or traits.b exists) and traits.c exists") == And((Or((a, b)), c))
    assert parse("not traits.a exists and traits.b exists") == And((Not(a), b))
    assert parse("((traits.a exists))") == a


def test_chains_flatten_but_parenthesised_groups_stay_nested() -> None:
    a, b, c = (Exists(Field(("traits", n))) for n in "abc")
    assert parse("traits.a exists or traits.b exists or traits.c exists") == Or((a, b, c))
    assert parse("(traits.a exists or traits.b exists) or traits.c exists") == Or((Or((a, b)), c))


def test_keywords_and_unicode_are_fine_as_quoted_or_plain_names() -> None:
    assert parse('traits.and == "日本"') == Compare("==", Field(("traits", "and")), Literal("日本"))
    assert parse('traits."é" == "\\u00e9"') == Compare("==", Field(("traits", "é")), Literal("é"))


def _error(text: str) -> ConditionSyntaxError:
    with pytest.raises(ConditionSyntaxError) as info:
        parse(text)
    return info.value


@pytest.mark.parametrize(
    ("text", "line", "column", "message", "hint"),
    [
        ("traits.x = 1", 1, 10, "unexpected character '='", "=="),
        ("traits.x == 1 && traits.y == 2", 1, 15, "unexpected character '&'", "'and'"),
        ("traits.x == 1 || traits.y == 2", 1, 15, "unexpected character '|'", "'or'"),
        ("traits.x == IT", 1, 13, "unexpected word 'IT'", '"IT"'),
        ("traits.x == 'IT'", 1, 13, "unexpected character", "double quotes"),
        ("computed.orders >=", 1, 19, "expected a value after '>='", "value"),
        ("computed.orders >= and traits.x exists", 1, 20, "expected a value after '>='", "keyword"),
        ('foo("x")', 1, 4, "unknown function 'foo'", "count, sum"),
        ('count(event "X") > 1', 1, 16, "expected 'within'", "within 7d"),
        ('did event "X"', 1, 14, "expected 'within'", "within 7d"),
        ('count(event "X" within 7) > 1', 1, 24, "expected a duration", "unit"),
        ("(traits.x exists", 1, 17, "expected ')'", "not closed"),
        ("traits.x exists)", 1, 16, "found ')'", "no matching"),
        ("traits.x == 1 traits.y == 2", 1, 15, "expected 'and' or 'or'", "join"),
        ("traits.x in 3", 1, 13, "expected a list", "in takes a list"),
        ("traits == 1", 1, 1, "'traits' needs a name after it", "traits.country"),
        ('traits.x == "open', 1, 13, "unexpected character", "not closed"),
        ("1 exists", 1, 1, "'exists' applies to a field", "traits.email"),
        ("   ", 1, 1, "the condition is empty", None),
        (
            "traits.x exists and\n  computed.orders >\n  and traits.y exists",
            3,
            3,
            "expected a value after '>'",
            "keyword",
        ),
        ("count(event within 0d) > 1", 1, 20, "longer than 0", None),
    ],
)
def test_syntax_errors_say_where_and_what(
    text: str, line: int, column: int, message: str, hint: str | None
) -> None:
    error = _error(text)
    assert (error.line, error.column) == (line, column), error.message
    assert error.message.startswith(f"line {line}, column {column}: ")
    assert message in error.message
    if hint is not None:
        assert error.hint is not None and hint in error.hint
    assert isinstance(error, Unprocessable) and error.code == "condition_syntax"
    assert error.details == {"line": line, "column": column, "hint": error.hint}


def test_oversized_and_overnested_conditions_are_refused_cleanly() -> None:
    assert "at most" in _error("traits.x exists or " * 1000 + "traits.y exists").message
    assert "nested" in _error("not " * 100 + "traits.x exists").message
    assert parse("(" * 400 + "traits.x exists" + ")" * 400) == Exists(Field(("traits", "x")))


@pytest.mark.parametrize(
    "text",
    [
        'traits.country == "IT" and not (computed.orders < 2 or traits.vip == false)',
        'count(event "A" where properties.x in [1, "b"] and not context.y exists within 90m) >= 2',
        'did not event where properties."a b" contains "é" within 1w',
        'traits."and" == 1.5e-07 or soft.big5.openness != -3',
        "profile.created_at <= now - 36h",
    ],
)
def test_unparse_is_canonical_text_that_parses_back(text: str) -> None:
    cond = parse(text)
    assert parse(unparse(cond)) == cond
    assert unparse(parse(unparse(cond))) == unparse(cond)


@settings(max_examples=300, deadline=None)
@given(conditions)
def test_unparse_round_trips_any_condition(cond: object) -> None:
    assert parse(unparse(cond)) == cond  # type: ignore[arg-type]
