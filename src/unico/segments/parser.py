"""Text to condition tree and back: ``parse`` and ``unparse``.

The grammar is ``grammar.lark`` (LALR(1), so parsing is linear and never backtracks).
Syntax errors carry a line, a column and a hint for the usual slips (``=`` for ``==``,
``&&``, unquoted text, a missing ``within``...).

>>> parse('traits.country == "IT" and computed.orders >= 2')
And(items=(Compare(op='==', left=Field(path=('traits', 'country')), right=Literal(value='IT')), \
Compare(op='>=', left=Field(path=('computed', 'orders')), right=Literal(value=2))))
>>> unparse(parse('not (traits.a exists or did event "X" within 48h)'))
'not (traits.a exists or did event "X" within 2d)'
"""

from __future__ import annotations

import json
import math
import re
from functools import cache
from pathlib import Path
from typing import Any

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken, VisitError

from unico.core.errors import Unprocessable
from unico.segments.ast import (
    And,
    Compare,
    Condition,
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
    Value,
)

MAX_LENGTH = 10_000
MAX_DEPTH = 64
MAX_PATH = 10
MAX_SEGMENT = 200
UNITS_MS = {"w": 604_800_000, "d": 86_400_000, "h": 3_600_000, "m": 60_000, "s": 1_000}
KEYWORDS = frozenset(
    {
        *("and", "or", "not", "in", "exists", "contains", "matches", "in_segment"),
        *("consented", "true", "false", "null", "now", "event", "where", "of", "within"),
        *("did", "count", "sum", "avg", "min", "max"),
    }
)
FUNCTIONS = ("count", "sum", "avg", "min", "max", "in_segment", "consented")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_BAD_SEGMENT = re.compile(r'["\\\x00-\x1f]')


class ConditionSyntaxError(Unprocessable):
    """A condition that does not parse; ``details`` has ``line``, ``column`` and ``hint``."""

    code = "condition_syntax"

    def __init__(self, message: str, line: int, column: int, hint: str | None = None) -> None:
        super().__init__(
            f"line {line}, column {column}: {message}",
            field="condition",
            details={"line": line, "column": column, "hint": hint},
        )
        self.line = line
        self.column = column
        self.hint = hint


@cache
def _parser() -> Lark:
    grammar = (Path(__file__).parent / "grammar.lark").read_text()
    return Lark(grammar, parser="lalr", maybe_placeholders=True, propagate_positions=True)


def parse(text: str) -> Condition:
    """The condition ``text`` says; raises `ConditionSyntaxError`."""
    if len(text) > MAX_LENGTH:
        raise ConditionSyntaxError(f"a condition is at most {MAX_LENGTH} characters", 1, 1)
    try:
        tree = _parser().parse(text)
        cond: Condition = _ToAst().transform(tree)
    except UnexpectedInput as exc:
        raise _syntax_error(text, exc) from None
    except VisitError as exc:
        if isinstance(exc.orig_exc, ConditionSyntaxError):
            raise exc.orig_exc from None
        raise
    except RecursionError:
        raise ConditionSyntaxError("the condition is nested too deeply", 1, 1) from None
    if _depth(cond) > MAX_DEPTH:
        raise ConditionSyntaxError(f"the condition is nested deeper than {MAX_DEPTH}", 1, 1)
    return cond


def _depth(node: Condition | Value | None) -> int:
    if isinstance(node, And | Or):
        return 1 + max(_depth(i) for i in node.items)
    if isinstance(node, Not):
        return 1 + _depth(node.item)
    if isinstance(node, Compare):
        return 1 + max(_depth(node.left), _depth(node.right))
    if isinstance(node, EventAggregate | Did):
        return 1 + _depth(node.where)
    return 1


def duration_ms(text: str) -> int:
    """``"7d"`` -> 604800000."""
    return int(text[:-1]) * UNITS_MS[text[-1]]


def format_duration(ms: int) -> str:
    """The shortest exact spelling: 172800000 -> ``"2d"``."""
    for unit, size in UNITS_MS.items():
        if ms % size == 0:
            return f"{ms // size}{unit}"
    raise ValueError(f"{ms} ms is not a whole number of seconds")


def _error(token: Token, message: str, hint: str | None = None) -> ConditionSyntaxError:
    return ConditionSyntaxError(message, token.line or 1, token.column or 1, hint)


@v_args(inline=True)
class _ToAst(Transformer[Token, Condition]):
    def start(self, cond: Condition) -> Condition:
        return cond

    def or_expr(self, *items: Condition) -> Condition:
        return Or(tuple(items))

    def and_expr(self, *items: Condition) -> Condition:
        return And(tuple(items))

    def negation(self, item: Condition) -> Condition:
        return Not(item)

    def compare(self, left: Value, op: Token, right: Value) -> Condition:
        return Compare(op.value, left, right)  # type: ignore[arg-type]

    def is_in(self, left: Value, items: Literal) -> Condition:
        return Compare("in", left, items)

    def not_in(self, left: Value, items: Literal) -> Condition:
        return Not(Compare("in", left, items))

    def contains(self, left: Value, right: Literal) -> Condition:
        return Compare("contains", left, right)

    def matches(self, left: Value, pattern: Token) -> Condition:
        return Compare("matches", left, Literal(_string(pattern)))

    @v_args(meta=True, inline=True)
    def exists(self, meta: Any, value: Value) -> Condition:
        if not isinstance(value, Field):
            raise ConditionSyntaxError(
                "'exists' applies to a field", meta.line, meta.column, "e.g. traits.email exists"
            )
        return Exists(value)

    def in_segment(self, name: Token) -> Condition:
        return InSegment(_string(name))

    def consented(self, purpose: Token) -> Condition:
        return Consented(_string(purpose))

    def did(self, *args: Any) -> Condition:
        return self._did(False, *args)

    def did_not(self, *args: Any) -> Condition:
        return self._did(True, *args)

    def _did(
        self, negated: bool, name: Token | None, where: Condition | None, window: Token
    ) -> Condition:
        return Did(_opt_string(name), where, _window(window), negated)

    def aggregate(
        self,
        fn: Token,
        name: Token | None,
        where: Condition | None,
        of: Field | None,
        window: Token,
    ) -> Value:
        return EventAggregate(fn.value, _opt_string(name), where, of, _window(window))  # type: ignore[arg-type]

    def field(self, *parts: Token) -> Value:
        if len(parts) > MAX_PATH:
            raise _error(parts[0], f"a field has at most {MAX_PATH} parts")
        path = [parts[0].value]
        for part in parts[1:]:
            segment = _string(part) if part.type == "STRING" else part.value
            if not segment or _BAD_SEGMENT.search(segment) or len(segment) > MAX_SEGMENT:
                raise _error(
                    part,
                    "a field name must be 1-200 characters without quotes, "
                    "backslashes or control characters",
                )
            path.append(segment)
        return Field(tuple(path))

    def bareword(self, word: Token) -> Value:
        from unico.segments.ast import EVENT_ROOTS, PROFILE_ROOTS

        if word.value in PROFILE_ROOTS + EVENT_ROOTS:
            raise _error(
                word, f"'{word.value}' needs a name after it", f"e.g. {word.value}.country"
            )
        raise _error(
            word,
            f"unexpected word '{word.value}'",
            f'put text in double quotes ("{word.value}") and start fields with '
            "traits., computed., soft. or profile.",
        )

    def string(self, token: Token) -> Value:
        return Literal(_string(token))

    def number(self, token: Token) -> Value:
        text = token.value
        if any(c in text for c in ".eE"):
            value = float(text)
            if not math.isfinite(value):
                raise _error(token, "number out of range")
            return Literal(value)
        return Literal(int(text))

    def true(self) -> Value:
        return Literal(True)

    def false(self) -> Value:
        return Literal(False)

    def null(self) -> Value:
        return Literal(None)

    def list(self, *items: Literal | None) -> Value:
        return Literal(tuple(i.value for i in items if i is not None))  # type: ignore[misc]

    def now(self) -> Value:
        return Timestamp(0)

    def now_offset(self, sign: Token, duration: Token) -> Value:
        ms = duration_ms(duration.value)
        return Timestamp(-ms if sign.value == "-" else ms)


def _string(token: Token) -> str:
    value: str = json.loads(token.value)
    return value


def _opt_string(token: Token | None) -> str | None:
    return None if token is None else _string(token)


def _window(token: Token) -> int:
    ms = duration_ms(token.value)
    if ms <= 0:
        raise _error(token, "a window must be longer than 0", "e.g. within 7d")
    return ms


# -- errors ---------------------------------------------------------------------------------

_VALUE_TERMINALS = {"NAME", "STRING", "NUMBER", "_TRUE", "_FALSE", "_NULL", "_NOW", "COUNT"}
_WORDS = {
    "COMPOP": "a comparison (==, !=, <, <=, >, >=)",
    "RPAR": "')'",
    "LPAR": "'('",
    "RSQB": "']'",
    "LSQB": 'a list like ["a", "b"]',
    "DURATION": "a duration (30s, 15m, 12h, 7d, 2w)",
    "_WITHIN": "'within'",
    "_EVENT": "'event'",
    "STRING": "a quoted string",
    "$END": "the end",
    "_AND": "'and'",
    "_OR": "'or'",
    "DOT": "'.'",
}
_PREVIOUS = re.compile(r'("(?:[^"\\]|\\.)*"|==|!=|<=|>=|[<>()\[\],]|[^\s()\[\],=!<>]+)\s*$')
#: A keyword where a value should be (``x >= and ...``) lexes as a name; say what is missing.
_AFTER_COMPARISON = re.compile(r"(==|!=|<=|>=|<|>|\bin|\bcontains|\bmatches)\s*[^\s=!<>]+\s*$")
_OPERATORS = {"==", "!=", "<", "<=", ">", ">=", "in", "contains", "matches"}
_KEYWORD_AS_VALUE = re.compile(
    r"(==|!=|<=|>=|<|>|\bin|\bcontains|\bmatches)\s*(and|or|within|where|of|not)\s*$"
)


def _expected(expected: set[str], after_comparison: bool) -> str:
    if expected == {"STRING"}:
        return _WORDS["STRING"]
    if expected & _VALUE_TERMINALS:
        return "a value"
    if "COMPOP" in expected and not (after_comparison and expected & {"_AND", "_OR"}):
        return _WORDS["COMPOP"]
    if expected & {"_AND", "_OR"}:
        return "'and' or 'or'"
    words = sorted({_WORDS[e] for e in expected if e in _WORDS})
    if not words:
        return "something else"
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


def _syntax_error(text: str, exc: UnexpectedInput) -> ConditionSyntaxError:
    if not text.strip():
        return ConditionSyntaxError("the condition is empty", 1, 1, 'e.g. traits.country == "IT"')
    line, column = exc.line if exc.line > 0 else 1, exc.column if exc.column > 0 else 1
    if isinstance(exc, UnexpectedCharacters):
        pos = exc.pos_in_stream or 0
        return ConditionSyntaxError(
            f"unexpected character '{text[pos]}'", line, column, _char_hint(text, pos)
        )
    assert isinstance(exc, UnexpectedToken)
    token = exc.token
    end = token.type == "$END"
    pos = len(text) if end else (token.start_pos or 0)
    found = _PREVIOUS.search(text[:pos])
    previous = found.group(1) if found else None
    misplaced = _KEYWORD_AS_VALUE.search(text[:pos])
    if misplaced:
        line, column = _position(text, misplaced.start(2))
        return ConditionSyntaxError(
            f"expected a value after '{misplaced.group(1)}'",
            line,
            column,
            f"'{misplaced.group(2)}' is a keyword; put a value after '{misplaced.group(1)}'",
        )
    expected = set(exc.expected)
    after_comparison = bool(_AFTER_COMPARISON.search(text[:pos]))
    hint = _token_hint(token, expected, previous, after_comparison)
    after = f" after '{previous}'" if previous else ""
    if token.type == "LPAR" and hint and hint.startswith("functions"):
        message = f"unknown function '{previous}'"
    elif end:
        line, column = _position(text, len(text))
        message = f"expected {_expected(expected, after_comparison)}{after}"
    else:
        message = f"expected {_expected(expected, after_comparison)}{after}, found '{token.value}'"
    return ConditionSyntaxError(message, line, column, hint)


def _position(text: str, pos: int) -> tuple[int, int]:
    lines = text[:pos].split("\n")
    return len(lines), len(lines[-1]) + 1


def _char_hint(text: str, pos: int) -> str | None:
    rest = text[pos : pos + 2]
    if rest.startswith("="):
        return "use == to compare (a single = is not an operator)"
    if rest == "&&" or rest.startswith("&"):
        return "use 'and' instead of &&"
    if rest == "||" or rest.startswith("|"):
        return "use 'or' instead of ||"
    if rest.startswith("!"):
        return "use 'not' to negate, != to compare"
    if rest.startswith('"'):
        return "a string is not closed (or has a bad escape)"
    if rest.startswith("'"):
        return 'strings use double quotes: "text"'
    return None


def _token_hint(
    token: Token, expected: set[str], previous: str | None, after_comparison: bool
) -> str | None:
    if "_WITHIN" in expected and token.type in {"RPAR", "$END", "_AND", "_OR"}:
        return "an event condition needs a window: ... within 7d"
    if "DURATION" in expected and token.type == "NUMBER":
        return "a duration needs a unit: 30s, 15m, 12h, 7d or 2w"
    if token.type == "LPAR" and previous is not None and _NAME.fullmatch(previous):
        return f"functions are {', '.join(FUNCTIONS)}"
    if token.type == "$END" and "RPAR" in expected:
        return "a '(' is not closed"
    if token.type == "RPAR":
        return "this ')' has no matching '('"
    if token.type == "NAME" and after_comparison:
        return "join conditions with 'and' or 'or'"
    if token.type == "NAME" and "COMPOP" in expected:
        return "compare with ==, !=, <, <=, >, >=, in, contains or matches"
    if "LSQB" in expected:
        return 'in takes a list: traits.country in ["IT", "FR"]'
    if previous in _OPERATORS and token.type in {"$END", "_AND", "_OR", "RPAR"}:
        return 'put a value after the operator, e.g. traits.country == "IT"'
    return None


# -- unparse --------------------------------------------------------------------------------

_PRECEDENCE = {Or: 1, And: 2, Not: 3}


def unparse(cond: Condition) -> str:
    """The canonical text of ``cond``: ``parse(unparse(c)) == c``."""
    return _cond(cond)


def unparse_value(value: Value) -> str:
    """The text of a value: ``computed.orders``, ``now - 7d``, ``count(event ...)``."""
    return _value(value)


def _cond(node: Condition, parent: int = 0) -> str:
    if isinstance(node, Or | And):
        mine = _PRECEDENCE[type(node)]
        joiner = " or " if isinstance(node, Or) else " and "
        # A nested and/or always gets parentheses, so the tree comes back as it was.
        text = joiner.join(
            _cond(i, 9) if isinstance(i, Or | And) else _cond(i, mine) for i in node.items
        )
        return f"({text})" if parent >= mine else text
    if isinstance(node, Not):
        return f"not {_cond(node.item, 3)}"
    if isinstance(node, Compare):
        return _compare(node)
    if isinstance(node, Exists):
        return f"{_value(node.field)} exists"
    if isinstance(node, Did):
        did = "did not" if node.negated else "did"
        return f"{did} {_event_spec(node.event, node.where, None, node.window_ms)}"
    if isinstance(node, InSegment):
        return f"in_segment({_quote(node.name)})"
    if isinstance(node, Consented):
        return f"consented({_quote(node.purpose)})"
    raise TypeError(f"not a condition: {node!r}")


def _compare(node: Compare) -> str:
    left = _value(node.left)
    if node.op == "in":
        if not (isinstance(node.right, Literal) and isinstance(node.right.value, tuple)):
            raise ValueError("'in' takes a list of literals")
        return f"{left} in [{', '.join(_scalar(v) for v in node.right.value)}]"
    if node.op in ("contains", "matches") and not isinstance(node.right, Literal):
        raise ValueError(f"'{node.op}' takes a literal")
    return f"{left} {node.op} {_value(node.right)}"


def _value(node: Value) -> str:
    if isinstance(node, Field):
        root, *rest = node.path
        if not _NAME.fullmatch(root) or root in KEYWORDS:
            raise ValueError(f"not a field root: {root!r}")
        return ".".join([root, *(_segment(s) for s in rest)])
    if isinstance(node, Literal):
        if isinstance(node.value, tuple):
            raise ValueError("a list only goes after 'in'")
        return _scalar(node.value)
    if isinstance(node, Timestamp):
        if not node.relative:
            raise ValueError("absolute timestamps have no text form; use a date string")
        if node.offset_ms == 0:
            return "now"
        sign = "-" if node.offset_ms < 0 else "+"
        return f"now {sign} {format_duration(abs(node.offset_ms))}"
    if isinstance(node, EventAggregate):
        return f"{node.fn}({_event_spec(node.event, node.where, node.of, node.window_ms)})"
    raise TypeError(f"not a value: {node!r}")


def _event_spec(event: str | None, where: Condition | None, of: Field | None, ms: int) -> str:
    parts = ["event"]
    if event is not None:
        parts.append(_quote(event))
    if where is not None:
        parts.append(f"where {_cond(where)}")
    if of is not None:
        parts.append(f"of {_value(of)}")
    parts.append(f"within {format_duration(ms)}")
    return " ".join(parts)


def _segment(name: str) -> str:
    return name if _NAME.fullmatch(name) and name not in KEYWORDS else _quote(name)


def _quote(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def _scalar(value: str | int | float | bool | None) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return _quote(value)
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("numbers must be finite")
    return repr(value)


__all__ = [
    "ConditionSyntaxError",
    "duration_ms",
    "format_duration",
    "parse",
    "unparse",
    "unparse_value",
]
