"""Why a membership holds or not: the condition tree with each node's truth and the
values it compared, for ``GET /v1/profiles/{id}/segments`` and membership reasons.

>>> from unico.segments.evaluate import ProfileContext
>>> from unico.segments.parser import parse
>>> ctx = ProfileContext({"computed": {"orders": 3}}, now_ms=0)
>>> explain(parse("computed.orders >= 2"), ctx)
{'condition': 'computed.orders >= 2', 'result': True, 'value': 3, 'compared_with': 2}
"""

from __future__ import annotations

from typing import Any

from unico.segments.ast import (
    And,
    Compare,
    Condition,
    Did,
    EventAggregate,
    Exists,
    Literal,
    Not,
    Or,
    Value,
)
from unico.segments.evaluate import MISSING, EvalContext, operand, truth
from unico.segments.parser import unparse


def explain(cond: Condition, ctx: EvalContext) -> dict[str, Any]:
    """``{"condition", "result", ...}`` for ``cond`` and, below it, for each part.

    ``result`` is true, false or null (unknown: a value was missing, which does not hold).
    A comparison adds ``value`` and ``compared_with``; ``exists`` adds ``value``; ``did``
    adds ``count``; ``and``/``or``/``not`` add ``items``. Missing values are null with
    ``"missing": true``.
    """
    out: dict[str, Any] = {"condition": unparse(cond), "result": truth(cond, ctx)}
    if isinstance(cond, And | Or):
        out["items"] = [explain(item, ctx) for item in cond.items]
    elif isinstance(cond, Not):
        out["items"] = [explain(cond.item, ctx)]
    elif isinstance(cond, Compare):
        left = _shown(cond.left, ctx)
        out["value"] = left
        if cond.op in ("in", "matches", "contains") and isinstance(cond.right, Literal):
            out["compared_with"] = _json(cond.right.value)
        else:
            out["compared_with"] = _shown(cond.right, ctx)
        if left is None and not isinstance(cond.left, Literal):
            out["missing"] = True
    elif isinstance(cond, Exists):
        value = ctx.field(cond.field.path)
        out["value"] = _json(value)
    elif isinstance(cond, Did):
        out["count"] = ctx.aggregate(cond.as_count()) or 0
    return out


def _shown(node: Value, ctx: EvalContext) -> Any:
    if isinstance(node, EventAggregate):
        return ctx.aggregate(node)
    resolved = operand(node, ctx)
    return _json(resolved.value)


def _json(value: Any) -> Any:
    if value is MISSING:
        return None
    if isinstance(value, tuple):
        return list(value)
    return value
