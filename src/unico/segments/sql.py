"""The SQL compiler: a condition as a WHERE clause over ``profile``, for SQLite (JSON1) and
PostgreSQL (JSONB), with the evaluator's semantics (`unico.segments.semantics`).

Each comparison compiles to an expression that is TRUE, FALSE or NULL (unknown), so SQL's
own ``AND``/``OR``/``NOT`` give the evaluator's three-valued logic; the whole condition is
wrapped in ``coalesce(..., false)``. A JSON value's kind is read with ``json_type`` /
``jsonb_typeof`` and each kind is compared in a ``CASE`` branch of its own (PostgreSQL does
not promise to evaluate ``AND`` operands in order, so a cast is only ever guarded by
``CASE``); against a constant that is a simple ``CASE`` on the type, so the type is read
once per row, not once per branch (a back-fill over a million profiles spent more than half
its scan there). Windowed aggregates are correlated subqueries on ``event``. User values
are always bound parameters.

>>> from unico.segments.parser import parse
>>> clause = compile_condition(parse("computed.orders >= 2"), now_ms=0, dialect_name="sqlite")
>>> print(clause.compile(compile_kwargs={"literal_binds": True}))
coalesce(CASE json_type(profile.computed, '$."orders"') \
WHEN 'integer' THEN json_extract(profile.computed, '$."orders"') >= 2 \
WHEN 'real' THEN json_extract(profile.computed, '$."orders"') >= 2 ELSE NULL END, false)
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy import ColumnElement, Engine
from sqlalchemy.dialects import postgresql
from sqlalchemy.sql.elements import KeyedColumnElement

from unico.db.schema import event, profile
from unico.profiles.consent import DEFAULT_CONSENT, PURPOSES
from unico.segments import semantics
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
from unico.segments.evaluate import (
    PROFILE_TIMES,
    Operand,
    compare_operands,
    contains,
    literal_operand,
    timestamp_ms,
)
from unico.segments.semantics import FIELD_KINDS, Kind, Rep

Bool = ColumnElement[bool]
SegmentClause = Callable[[str], ColumnElement[bool]]
_SQLITE_KINDS: dict[Kind, tuple[str, ...]] = {
    "number": ("integer", "real"),
    "string": ("text",),
    "boolean": ("true", "false"),
    "array": ("array",),
    "object": ("object",),
}
_PG_KINDS: dict[Kind, str] = {
    "number": "number",
    "string": "string",
    "boolean": "boolean",
    "array": "array",
    "object": "object",
}


def compile_condition(
    cond: Condition,
    *,
    now_ms: int,
    dialect_name: str,
    consent_defaults: Mapping[str, bool] | None = None,
    segment_clause: SegmentClause | None = None,
    workspace_id: str | None = None,
) -> ColumnElement[bool]:
    """A boolean clause over the ``profile`` table that holds exactly for the profiles the
    evaluator finds ``cond`` true for at ``now_ms`` (``dialect_name``: ``sqlite`` or
    ``postgresql``). ``segment_clause(name)`` compiles ``in_segment(name)``. The caller
    adds the workspace and ``merged_into IS NULL``; naming it in ``workspace_id`` too lets
    windowed aggregates skip the people with no event in the window (a set built once,
    instead of a subquery per profile: what a back-fill over every profile wants)."""
    compiler = _Compiler(
        postgres=dialect_name == "postgresql",
        now_ms=now_ms,
        consent_defaults={**DEFAULT_CONSENT, **(consent_defaults or {})},
        segment_clause=segment_clause,
        event_scope=False,
        workspace_id=workspace_id,
    )
    return sa.func.coalesce(compiler.cond(cond), sa.false())


def aggregate_events(
    agg: EventAggregate, *, now_ms: int, dialect_name: str
) -> tuple[list[ColumnElement[bool]], ColumnElement[Any]]:
    """What a windowed aggregate reads from the ``event`` table at ``now_ms``, with the
    evaluator's semantics: the conditions an event must meet (its name, inside the window,
    ``where``; the workspace and the person are the caller's), and the number each event
    gives to sum/avg/min/max (NULL when it has none: such events do not count)."""
    compiler = _Compiler(
        postgres=dialect_name == "postgresql",
        now_ms=now_ms,
        consent_defaults=DEFAULT_CONSENT,
        segment_clause=None,
        event_scope=False,
    )
    return compiler.events_of(agg)


@dataclass
class _Operand:
    """A value in SQL. A constant keeps its Python `Operand`; otherwise ``kinds`` are the
    kinds it may have, ``test(kind)`` says whether it has one (None: always, when present),
    and ``present`` (if not None) whether it is there at all."""

    const: Operand | None = None
    kinds: tuple[Kind, ...] = ()
    test: Callable[[Kind], Bool | None] = lambda _k: None
    present: Bool | None = None
    num: ColumnElement[Any] | None = None
    text: ColumnElement[Any] | None = None
    boolean: Bool | None = None
    json: ColumnElement[Any] | None = None  # the JSON value itself (for contains on lists)
    #: a JSON value's type as the database names it (``jsonb_typeof`` / ``json_type``), and
    #: the names each kind has there: comparisons with a constant branch on it once
    type_name: ColumnElement[Any] | None = None
    type_names: Mapping[Kind, tuple[str, ...]] | None = None


@dataclass
class _Compiler:
    postgres: bool
    now_ms: int
    consent_defaults: Mapping[str, bool]
    segment_clause: SegmentClause | None
    event_scope: bool
    workspace_id: str | None = None

    # -- conditions --------------------------------------------------------------------

    def cond(self, node: Condition) -> Bool:
        if isinstance(node, And):
            return sa.and_(*(self.cond(i) for i in node.items))
        if isinstance(node, Or):
            return sa.or_(*(self.cond(i) for i in node.items))
        if isinstance(node, Not):
            return sa.not_(self.cond(node.item))
        if isinstance(node, Compare):
            return self.compare(node)
        if isinstance(node, Exists):
            value = self.operand(node.field)
            return value.present if value.present is not None else sa.false()
        if isinstance(node, Did):
            count = self.aggregate(node.as_count())
            return count == 0 if node.negated else count > 0
        if isinstance(node, InSegment):
            return self.in_segment(node.name)
        if isinstance(node, Consented):
            return self.consented(node.purpose)
        raise TypeError(f"not a condition: {node!r}")

    def in_segment(self, name: str) -> Bool:
        if self.event_scope:
            return sa.false()
        if self.segment_clause is None:
            raise ValueError("in_segment needs a segment_clause")
        return self.segment_clause(name)

    def consented(self, purpose: str) -> Bool:
        if self.event_scope or purpose not in PURPOSES:
            return sa.false()
        default = bool(self.consent_defaults.get(purpose, False))
        record = self.json_field(profile.c.consent, (purpose,))
        granted = self.json_field(profile.c.consent, (purpose, "granted"))
        assert record.present is not None and granted.boolean is not None
        assert granted.type_name is not None and granted.type_names is not None
        booleans = dict.fromkeys(granted.type_names["boolean"], granted.boolean)
        is_true = sa.case(booleans, value=granted.type_name, else_=sa.false())
        return sa.case((record.present, is_true), else_=sa.literal(default, sa.Boolean))

    # -- comparisons -------------------------------------------------------------------

    def compare(self, node: Compare) -> Bool:
        left = self.operand(node.left)
        if node.op == "in":
            return self.is_in(left, node.right)
        right = self.operand(node.right)
        if left.const is not None and right.const is not None:
            if node.op == "contains":
                return _truth(contains(left.const, right.const))
            if node.op == "matches":
                return _unknown() if right.const.kind is None else self.matches(left, right)
            return _truth(compare_operands(node.op, left.const, right.const))
        if node.op == "contains":
            return self.contains(left, right)
        if node.op == "matches":
            return self.matches(left, right)
        return self.ordered(node.op, left, right)

    def ordered(self, op: str, a: _Operand, b: _Operand) -> Bool:
        if _kinds(a) == () or _kinds(b) == ():
            return _unknown()
        if a.type_name is not None and b.const is not None:
            return self.by_type(op, a, b, a)
        if b.type_name is not None and a.const is not None:
            return self.by_type(op, a, b, b)
        branches: list[tuple[list[Bool], Bool]] = []
        for ka in _kinds(a):
            for kb in _kinds(b):
                how = semantics.plan(op, ka, kb)
                # A NULL number or text makes the comparison NULL by itself; constant
                # outcomes need the presence test.
                presence = how[0] not in ("num", "str")
                tests = [
                    t for t in (_test(a, ka, presence), _test(b, kb, presence)) if t is not None
                ]
                result = self.planned(op, how, a, b)
                if result is not None:  # unknown is what ELSE gives
                    branches.append((tests, result))
        if not branches:
            return _unknown()
        if len(branches) == 1 and not branches[0][0]:
            return branches[0][1]
        return sa.case(*[(sa.and_(*t), e) for t, e in branches], else_=_unknown())

    def by_type(self, op: str, a: _Operand, b: _Operand, value: _Operand) -> Bool:
        """``a op b`` where one side is a JSON ``value`` and the other a constant: a simple
        ``CASE`` on the value's type, which the database computes once (a searched ``CASE``
        computes it again for every ``WHEN``); a type without a branch is unknown."""
        assert value.type_name is not None and value.type_names is not None
        whens: dict[str, Bool] = {}
        for kind in value.kinds:
            ka, kb = (kind, _kinds(b)[0]) if value is a else (_kinds(a)[0], kind)
            result = self.planned(op, semantics.plan(op, ka, kb), a, b)
            if result is not None:
                whens.update(dict.fromkeys(value.type_names[kind], result))
        if not whens:
            return _unknown()
        return sa.case(whens, value=value.type_name, else_=_unknown())

    def planned(self, op: str, how: semantics.Plan, a: _Operand, b: _Operand) -> Bool | None:
        """The comparison a plan calls for (None: unknown)."""
        if how[0] == "unknown":
            return None
        if how[0] == "const":
            return sa.true() if how[1] else sa.false()
        if how[0] == "bool":
            return _op(op, _bool(a), _bool(b))
        _, rep_a, rep_b = how
        return _op(op, self.rep(a, rep_a, b), self.rep(b, rep_b, a))

    def rep(self, x: _Operand, rep: Rep, other: _Operand) -> ColumnElement[Any]:
        if x.const is not None:
            if rep == "ms":
                return sa.literal(x.const.ms)
            if rep == "iso":
                assert x.const.ms is not None and other.text is not None
                text = semantics.iso(x.const.ms)
                return sa.case((sa.func.length(other.text) == 10, text[:10]), else_=text)
            return sa.literal(x.const.value)
        column = x.num if rep == "num" else x.text
        assert column is not None
        return column.collate("C") if self.postgres and rep == "str" else column

    def is_in(self, left: _Operand, right: Value) -> Bool:
        items = right.value if isinstance(right, Literal) else None
        if not isinstance(items, tuple):
            return _unknown()
        if left.const is not None:
            if left.const.kind is None:
                return _unknown()
            found = [compare_operands("==", left.const, literal_operand(i)) for i in items]
            return _truth(True if True in found else None if None in found else False)
        if not items:
            return sa.case((_present(left), sa.false()), else_=_unknown())
        consts = [_const(literal_operand(item)) for item in items]
        return sa.or_(*(self.ordered("==", left, c) for c in consts))

    def contains(self, left: _Operand, right: _Operand) -> Bool:
        needle = right.const
        if needle is None or needle.kind is None or needle.kind in ("array", "object", "time"):
            return _unknown()
        branches: list[tuple[Bool, Bool]] = []
        if "string" in left.kinds and needle.kind in ("string", "date") and left.text is not None:
            found = (
                sa.func.strpos(left.text, needle.value)
                if self.postgres
                else sa.func.instr(left.text, needle.value)
            )
            branches.append((_or_true(_test(left, "string")), found > 0))
        if "array" in left.kinds and left.json is not None:
            branches.append((_or_true(_test(left, "array")), self.list_has(left.json, needle)))
        if not branches:
            return _unknown()
        return sa.case(*branches, else_=_unknown())

    def list_has(self, array: ColumnElement[Any], needle: Operand) -> Bool:
        value = needle.value
        if self.postgres:
            elements = sa.func.jsonb_array_elements(array).table_valued("value").alias("e")
            wanted = sa.cast(sa.literal(value, postgresql.JSONB), postgresql.JSONB)
            return sa.exists(sa.select(1).select_from(elements).where(elements.c.value == wanted))
        each = sa.func.json_each(array).table_valued("type", "value").alias("e")
        if needle.kind in ("string", "date"):
            match = sa.and_(each.c.type == "text", each.c.value == value)
        elif needle.kind == "number":
            match = sa.and_(each.c.type.in_(("integer", "real")), each.c.value == value)
        else:
            match = each.c.type == ("true" if value else "false")
        return sa.exists(sa.select(1).select_from(each).where(match))

    def matches(self, left: _Operand, right: _Operand) -> Bool:
        pattern = right.const.value if right.const is not None else None
        if not isinstance(pattern, str) or semantics.compile_pattern(pattern) is None:
            return _unknown()
        if left.const is not None:
            left = self.text_const(left.const)
        if "string" not in left.kinds or left.text is None:
            return _unknown()
        if self.postgres:
            short = sa.func.length(left.text) <= semantics.MAX_SUBJECT
            found: Bool = sa.case(
                (short, left.text.op("~", return_type=sa.Boolean)(pattern)), else_=_unknown()
            )
        else:
            found = sa.func.unico_regexp(pattern, left.text, type_=sa.Boolean)
        return sa.case((_or_true(_test(left, "string")), found), else_=_unknown())

    def text_const(self, const: Operand) -> _Operand:
        if const.kind not in ("string", "date"):
            return _Operand()
        return _Operand(kinds=("string",), text=sa.literal(const.value, sa.Text))

    # -- values ------------------------------------------------------------------------

    def operand(self, node: Value) -> _Operand:
        if isinstance(node, Literal):
            return _const(literal_operand(node.value))
        if isinstance(node, Timestamp):
            ms = timestamp_ms(node, self.now_ms)
            return _const(Operand("time", semantics.iso(ms), ms))
        if isinstance(node, EventAggregate):
            value = self.aggregate(node)
            present = None if node.fn in ("count", "sum") else value.is_not(None)
            return _Operand(kinds=("number",), present=present, num=value)
        return self.field(node)

    def field(self, node: Field) -> _Operand:
        root, rest = node.path[0], node.path[1:]
        if self.event_scope:
            columns = {"properties": event.c.properties, "context": event.c.context}
            if root in columns and rest:
                return self.json_field(columns[root], rest)
            return _Operand()
        if root in ("traits", "computed") and rest:
            return self.json_field(profile.c[root], rest)
        if root == "soft" and len(rest) == 2:
            return self.json_field(profile.c.soft, (*rest, "value"))
        if root == "profile" and len(rest) == 1 and rest[0] in PROFILE_TIMES:
            column = profile.c[rest[0]]
            return _Operand(kinds=("number",), present=column.is_not(None), num=column)
        return _Operand()

    def json_field(self, column: KeyedColumnElement[Any], path: tuple[str, ...]) -> _Operand:
        if any('"' in p or "\\" in p for p in path):
            return _Operand()
        if self.postgres:
            # One key is ``->`` (``#>`` decodes its path array on every row: slower).
            if len(path) == 1:
                value = column.op("->", return_type=postgresql.JSONB)(path[0])
                text = column.op("->>", return_type=sa.Text)(path[0])
            else:
                keys = sa.bindparam(None, list(path), type_=postgresql.ARRAY(sa.Text))
                value = column.op("#>", return_type=postgresql.JSONB)(keys)
                text = column.op("#>>", return_type=sa.Text)(keys)
            kind = sa.func.jsonb_typeof(value, type_=sa.Text)
            return _Operand(
                kinds=FIELD_KINDS,
                test=lambda k: kind == _PG_KINDS[k],
                present=_named(kind),
                num=sa.cast(text, sa.Float),
                text=text,
                boolean=text == "true",
                json=sa.case((kind == "array", value), else_=sa.cast("[]", postgresql.JSONB)),
                type_name=kind,
                type_names={k: (name,) for k, name in _PG_KINDS.items()},
            )
        json_path = "$" + "".join(f'."{p}"' for p in path)
        kind = sa.func.json_type(column, json_path, type_=sa.Text)
        extracted = sa.func.json_extract(column, json_path)
        return _Operand(
            kinds=FIELD_KINDS,
            test=lambda k: _in_or_eq(kind, _SQLITE_KINDS[k]),
            present=_named(kind),
            num=extracted,
            text=extracted,
            boolean=kind == "true",
            json=sa.func.json_extract(column, json_path),
            type_name=kind,
            type_names=_SQLITE_KINDS,
        )

    def aggregate(self, agg: EventAggregate) -> ColumnElement[Any]:
        if self.event_scope:
            raise ValueError("aggregates cannot be nested inside 'where'")
        matching, number = self.events_of(agg)
        conditions: list[Bool] = [
            event.c.workspace_id == profile.c.workspace_id,
            event.c.profile_id == profile.c.profile_id,
            *matching,
        ]
        if agg.fn == "count":
            query = sa.select(sa.func.count()).where(*conditions)
            return self.only_active(agg, query.correlate(profile).scalar_subquery(), 0)
        folded = getattr(sa.func, agg.fn)(number)
        if agg.fn == "sum":
            folded = sa.func.coalesce(folded, 0)
        query = sa.select(folded).where(*conditions).correlate(profile)
        return self.only_active(agg, query.scalar_subquery(), 0 if agg.fn == "sum" else None)

    def events_of(self, agg: EventAggregate) -> tuple[list[Bool], ColumnElement[Any]]:
        """The conditions on ``event`` for the events ``agg`` reads (its name, its window,
        its ``where``), and for sum/avg/min/max the number each gives (NULL: none)."""
        conditions: list[Bool] = [event.c.timestamp > self.now_ms - agg.window_ms]
        if agg.event is not None:
            conditions.append(event.c.name == agg.event)
        inner = _Compiler(self.postgres, self.now_ms, self.consent_defaults, None, True)
        if agg.where is not None:
            conditions.append(sa.func.coalesce(inner.cond(agg.where), sa.false()))
        value = inner.operand(agg.of) if agg.of is not None else _Operand()
        if agg.fn == "count" or value.num is None:
            return conditions, sa.null()
        number = sa.case((_or_true(_test(value, "number")), value.num), else_=_unknown())
        return conditions, number

    def only_active(
        self, agg: EventAggregate, value: ColumnElement[Any], nothing: int | None
    ) -> ColumnElement[Any]:
        """``value`` for the people with an event of the name in the window, and what an
        aggregate over no events is (``nothing``) for everyone else, without running the
        subquery for them."""
        if self.workspace_id is None:
            return value
        active = sa.select(event.c.profile_id).where(
            event.c.workspace_id == self.workspace_id,
            event.c.timestamp > self.now_ms - agg.window_ms,
        )
        if agg.event is not None:
            active = active.where(event.c.name == agg.event)
        fallback = sa.null() if nothing is None else sa.literal(nothing)
        return sa.case((profile.c.profile_id.in_(active), value), else_=fallback)


def _const(value: Operand) -> _Operand:
    return _Operand(const=value, kinds=() if value.kind is None else (value.kind,))


def _kinds(x: _Operand) -> tuple[Kind, ...]:
    return x.kinds


def _test(x: _Operand, kind: Kind, presence: bool = True) -> Bool | None:
    """Whether ``x`` has ``kind`` (None: no test needed)."""
    if x.const is not None:
        return None
    test = x.test(kind)
    if test is None and presence:
        return x.present
    return test


def _named(kind: ColumnElement[Any]) -> Bool:
    """Whether a JSON value is there and not null, from its type name (computed once)."""
    return sa.func.coalesce(kind, "null") != "null"


def _present(x: _Operand) -> Bool:
    return x.present if x.present is not None else sa.true()


def _in_or_eq(column: ColumnElement[Any], values: tuple[str, ...]) -> Bool:
    return column == values[0] if len(values) == 1 else column.in_(values)


def _bool(x: _Operand) -> ColumnElement[Any]:
    if x.const is not None:
        return sa.literal(bool(x.const.value), sa.Boolean)
    assert x.boolean is not None
    return x.boolean


def _unknown() -> Bool:
    return sa.type_coerce(sa.null(), sa.Boolean)


def _truth(value: bool | None) -> Bool:
    if value is None:
        return _unknown()
    return sa.true() if value else sa.false()


_OPERATORS: dict[str, Callable[[Any, Any], Any]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def _op(op: str, a: ColumnElement[Any], b: ColumnElement[Any]) -> Bool:
    result: Bool = _OPERATORS[op](a, b)
    return result


def _or_true(test: Bool | None) -> Bool:
    return sa.true() if test is None else test


# -- SQLite functions -----------------------------------------------------------------------


def _sqlite_regexp(pattern: str | None, subject: str | None) -> int | None:
    if pattern is None or subject is None:
        return None
    found = semantics.regex_search(pattern, subject)
    return None if found is None else int(found)


def install_sqlite_functions(engine: Engine) -> None:
    """Register ``unico_regexp(pattern, subject)`` on every new SQLite connection of
    ``engine`` (no-op on other backends). It is the evaluator's own bounded matcher, so
    ``matches`` means the same in memory and in SQL; it has a name of its own because
    SQLAlchemy registers a plain ``regexp`` of its own on SQLite connections. Call it
    before the engine's first connection (existing pooled connections are not changed)."""
    if engine.dialect.name != "sqlite":
        return

    @sa.event.listens_for(engine, "connect")
    def _register(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.create_function("unico_regexp", 2, _sqlite_regexp, deterministic=True)
