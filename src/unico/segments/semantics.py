"""What a comparison means, decided once for the evaluator, the SQL compiler and the checker.

Values have a *kind*: ``number``, ``string``, ``boolean``, ``array``, ``object``; a string
literal that is an ISO date (``"2000-01-01"``, ``"2026-01-15T10:00:00Z"``) is a ``date``,
and ``now - 7d`` is a ``time``. A missing field and JSON ``null`` have no kind: every
comparison with them is *unknown* (SQL's three-valued logic), ``not unknown`` is unknown,
and an unknown condition does not hold. ``exists``, ``did``, ``in_segment`` and
``consented`` are never unknown.

Given two kinds, `plan` says how they compare:

* number with number, string with string: as numbers / as text (code point order, which
  is byte order in UTF-8: SQLite's BINARY and PostgreSQL's "C" collation);
* a date or time with a number (epoch ms fields such as ``profile.last_seen``): in epoch ms;
* a time with a string field: as ISO-8601 UTC text (``2026-01-15T10:00:00.000Z``), and a
  date-only string (10 characters) against the date part alone;
* booleans: ``==`` and ``!=`` only;
* lists and objects: unknown (use ``contains`` and ``exists`` on them);
* any other mix of kinds: ``==`` is false, ``!=`` true, an ordering unknown.

>>> plan("<", "number", "time")
('num', 'num', 'ms')
>>> plan("==", "string", "number")
('const', False)
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Final, Literal, TypeAlias

Kind: TypeAlias = Literal["number", "string", "boolean", "array", "object", "date", "time"]
Rep: TypeAlias = Literal["num", "ms", "str", "iso"]
Plan: TypeAlias = (
    tuple[Literal["unknown"]]
    | tuple[Literal["const"], bool]
    | tuple[Literal["num"], Rep, Rep]
    | tuple[Literal["str"], Rep, Rep]
    | tuple[Literal["bool"]]
)
ORDERING: Final = frozenset({"<", "<=", ">", ">="})
#: Kinds a field read from JSON may have (dates and times are only ever constants).
FIELD_KINDS: Final[tuple[Kind, ...]] = ("number", "string", "boolean", "array", "object")

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})?)?")


def plan(op: str, a: Kind, b: Kind) -> Plan:
    """How ``a op b`` compares, for ``==``, ``!=``, ``<``, ``<=``, ``>``, ``>=``."""
    if a in ("array", "object") or b in ("array", "object"):
        return ("unknown",)
    if "time" in (a, b):
        other = b if a == "time" else a
        if other in ("time", "date", "number"):
            return ("num", _ms(a), _ms(b))
        if other == "string":
            return ("str", "iso" if a == "time" else "str", "iso" if b == "time" else "str")
        return _different(op)
    if {a, b} == {"date", "number"}:
        return ("num", _ms(a), _ms(b))
    if a in ("string", "date") and b in ("string", "date"):
        return ("str", "str", "str")
    if a == b == "number":
        return ("num", "num", "num")
    if a == b == "boolean":
        return ("unknown",) if op in ORDERING else ("bool",)
    return _different(op)


def _ms(kind: Kind) -> Rep:
    return "ms" if kind in ("date", "time") else "num"


def _different(op: str) -> Plan:
    if op == "==":
        return ("const", False)
    if op == "!=":
        return ("const", True)
    return ("unknown",)


def compare_values(op: str, x: Any, y: Any) -> bool:
    """``x op y`` for two values of one Python type."""
    if op == "==":
        return bool(x == y)
    if op == "!=":
        return bool(x != y)
    if op == "<":
        return bool(x < y)
    if op == "<=":
        return bool(x <= y)
    if op == ">":
        return bool(x > y)
    if op == ">=":
        return bool(x >= y)
    raise ValueError(f"not a comparison: {op}")


def kind_of(value: Any) -> Kind | None:
    """The kind of a JSON value; None for null and anything that is not JSON."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number" if value == value and abs(value) != float("inf") else None
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return None


def date_ms(text: str) -> int | None:
    """Epoch ms of an ISO date or date-time (UTC unless it names an offset), else None.

    >>> date_ms("1970-01-02")
    86400000
    >>> date_ms("tomorrow") is None
    True
    """
    if len(text) > 40 or not _DATE.fullmatch(text):
        return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp() * 1000) if parsed.year >= 1 else None


def iso(ms: int) -> str:
    """``2026-01-15T10:00:00.000Z``: how a time compares with a string field."""
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def iso_for(ms: int, other: str) -> str:
    """A time's text against the string ``other``: the date part for a date-only string."""
    text = iso(ms)
    return text[:10] if len(other) == 10 else text


# -- bounded regular expressions ------------------------------------------------------------

MAX_PATTERN: Final = 200
MAX_SUBJECT: Final = 10_000
MAX_QUANTIFIERS: Final = 10
#: Escapes that mean the same to Python's ``re`` and PostgreSQL's regular expressions.
_ESCAPES = set("dDwWsS.\\*+?()[]{}|^$-/nt")


def pattern_problem(pattern: str) -> str | None:
    """Why ``pattern`` is not allowed after ``matches``, or None.

    Patterns are bounded so that matching stays linear in practice: at most 200
    characters and 10 quantifiers, no quantified group that itself holds a quantifier or
    an alternative (``(a+)+``, ``(a|aa)*``: the catastrophic backtracking shapes), no
    backreferences or lookarounds, and only escapes that both Python and PostgreSQL read
    the same way. ``(?i)`` may open a pattern.

    >>> pattern_problem("^[a-z]+@example\\\\.com$") is None
    True
    >>> pattern_problem("(a+)+$")
    'a quantified group may not contain a quantifier or | (nested quantifiers)'
    """
    if len(pattern) > MAX_PATTERN:
        return f"a pattern is at most {MAX_PATTERN} characters"
    body = pattern[4:] if pattern.startswith("(?i)") else pattern
    problem = _scan(body)
    if problem is not None:
        return problem
    try:
        re.compile(_python_pattern(pattern))
    except re.error as exc:
        return f"not a valid pattern: {exc}"
    return None


def _scan(body: str) -> str | None:
    groups: list[bool] = []  # per open group: holds a quantifier or an alternative
    quantifiers, i, in_class = 0, 0, False
    while i < len(body):
        c = body[i]
        if c == "\\":
            if i + 1 >= len(body) or body[i + 1] not in _ESCAPES:
                return "unsupported escape; allowed: \\d \\w \\s (and upper case), \\n \\t, \\."
            if in_class and body[i + 1] in "DWS":
                return "\\D, \\W and \\S cannot stand inside [...]"
            i += 2
            continue
        if in_class:
            if c == "[" and body[i + 1 : i + 2] in (":", "=", "."):
                return "character class names like [:alpha:] are not supported"
            in_class = c != "]"
        elif c == "[":
            in_class = True
            i = _class_start(body, i)
            continue
        elif c == "(":
            if body[i + 1 : i + 2] == "?" and body[i + 1 : i + 3] != "?:":
                return "groups may only be plain (...) or (?:...)"
            groups.append(False)
            if body[i + 1 : i + 2] == "?":
                i += 3
                continue
        elif c == ")":
            inner = groups.pop() if groups else False
            if _quantified(body, i + 1) and inner:
                return "a quantified group may not contain a quantifier or | (nested quantifiers)"
            if groups:
                groups[-1] = groups[-1] or inner or _quantified(body, i + 1)
        elif c in "*+?{":
            if c == "{" and not re.match(r"\{\d{1,2}(,\d{0,2})?\}", body[i:]):
                return "a bound is {n}, {n,} or {n,m} with n and m up to 99"
            quantifiers += 1
            if groups:
                groups[-1] = True
        elif c == "|" and groups:
            groups[-1] = True
        i += 1
    if quantifiers > MAX_QUANTIFIERS:
        return f"a pattern has at most {MAX_QUANTIFIERS} quantifiers"
    return None


def _class_start(pattern: str, i: int) -> int:
    """Past ``[``, ``[^``, ``[]`` or ``[^]`` (a ``]`` first in a class is literal)."""
    j = i + 1
    if pattern[j : j + 1] == "^":
        j += 1
    if pattern[j : j + 1] == "]":
        j += 1
    return j


def _quantified(body: str, i: int) -> bool:
    return i < len(body) and body[i] in "*+?{"


def _python_pattern(pattern: str) -> str:
    """PostgreSQL's ``$`` matches only at the very end; Python's also before a final
    newline, so it becomes ``\\Z`` (outside character classes)."""
    out: list[str] = []
    i, in_class = 0, False
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            out.append(pattern[i : i + 2])
            i += 2
            continue
        if in_class:
            in_class = c != "]"
        elif c == "[":
            in_class = True
            j = _class_start(pattern, i)
            out.append(pattern[i:j])
            i = j
            continue
        elif c == "$":
            c = r"\Z"
        out.append(c)
        i += 1
    return "".join(out)


@lru_cache(maxsize=1024)
def compile_pattern(pattern: str) -> re.Pattern[str] | None:
    """The compiled pattern (``.`` matches newlines, as in PostgreSQL), or None if refused."""
    if pattern_problem(pattern) is not None:
        return None
    return re.compile(_python_pattern(pattern), re.DOTALL)


def regex_search(pattern: str, subject: str) -> bool | None:
    """Whether ``pattern`` occurs in ``subject``; None (unknown) for a refused pattern or a
    subject longer than `MAX_SUBJECT`."""
    compiled = compile_pattern(pattern)
    if compiled is None or len(subject) > MAX_SUBJECT:
        return None
    return compiled.search(subject) is not None
