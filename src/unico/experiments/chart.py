"""The lift over time: each variant's cumulative lift on the primary metric, day by day,
with its interval, drawn as an inline SVG (no script, nothing fetched).

>>> svg = lift_svg([{"day": "2026-01-15", "variants": {"B": {"expected": 0.1,
...     "ci": [0.0, 0.2], "error": None}}}])
>>> svg.startswith("<svg") and "B" in svg
True
"""

from __future__ import annotations

from html import escape
from typing import Any

from sqlalchemy import Connection

from unico.core.clock import to_iso
from unico.core.types import EpochMs
from unico.experiments.metrics import compare_sums, variant_stats
from unico.experiments.model import ExperimentSpec
from unico.experiments.store import ExperimentStore, Sums

DAY = 86_400_000
MAX_POINTS = 60
EMPTY = Sums(0, 0.0, 0.0, 0)
WIDTH, HEIGHT, PAD = 720, 320, 48
COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")


def daily_lift(
    conn: Connection, store: ExperimentStore, row: dict[str, Any], until: EpochMs
) -> list[dict[str, Any]]:
    """The cumulative lift of each variant over the control at the end of each day since
    the start (at most ``MAX_POINTS`` points, evenly spaced)."""
    spec = ExperimentSpec.model_validate(row["spec"])
    metric = spec.primary()
    start = row["started_at"]
    if start is None:
        return []
    days = max(1, -(-(until - start) // DAY))
    step = -(-days // MAX_POINTS)
    names = [c.name for c in spec.cells()]
    out = []
    for day in range(step, days + step, step):
        end = min(start + day * DAY, until)
        stats = variant_stats(conn, store, row["workspace_id"], row["experiment_id"], metric, end)
        control = stats.get(names[0], (None, EMPTY))[1]
        # The last point may end within a day (now): its time tells it from the day before.
        label = (to_iso(end) or "")[: 10 if end == start + day * DAY else 16].replace("T", " ")
        point: dict[str, Any] = {"day": label, "variants": {}}
        for name in names[1:]:
            result = compare_sums(spec, metric, control, stats.get(name, (None, EMPTY))[1])
            point["variants"][name] = {
                "expected": result.expected,
                "ci": list(result.ci),
                "error": result.error,
            }
        out.append(point)
    return out


def lift_svg(points: list[dict[str, Any]]) -> str:
    """An SVG line chart of the lifts (percent) with shaded intervals and a zero line."""
    names = sorted({n for p in points for n in p["variants"]})
    values = [
        x
        for p in points
        for v in p["variants"].values()
        if v["error"] is None
        for x in (v["ci"][0], v["ci"][1], v["expected"])
    ]
    low, high = min([0.0, *values]), max([0.0, *values])
    if high - low < 1e-9:
        low, high = -0.05, 0.05
    span = high - low

    def x(i: int) -> float:
        return PAD + (WIDTH - 2 * PAD) * (i / max(1, len(points) - 1))

    def y(v: float) -> float:
        return float(HEIGHT - PAD - (HEIGHT - 2 * PAD) * (v - low) / span)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}"'
        f' width="{WIDTH}" height="{HEIGHT}" role="img" aria-label="lift over time">',
        f'<line x1="{PAD}" x2="{WIDTH - PAD}" y1="{y(0):.1f}" y2="{y(0):.1f}" stroke="#888"'
        ' stroke-dasharray="4 3"/>',
        f'<text x="4" y="{y(high) + 4:.1f}" font-size="11">{high:+.1%}</text>',
        f'<text x="4" y="{y(low) + 4:.1f}" font-size="11">{low:+.1%}</text>',
    ]
    if points:
        parts.append(f'<text x="{PAD}" y="{HEIGHT - 16}" font-size="11">{points[0]["day"]}</text>')
        parts.append(
            f'<text x="{WIDTH - PAD}" y="{HEIGHT - 16}" font-size="11" text-anchor="end">'
            f"{points[-1]['day']}</text>"
        )
    for k, name in enumerate(names):
        colour = COLOURS[k % len(COLOURS)]
        shown = [
            (i, p["variants"][name])
            for i, p in enumerate(points)
            if name in p["variants"] and p["variants"][name]["error"] is None
        ]
        if not shown:
            continue
        upper = [f"{x(i):.1f},{y(v['ci'][1]):.1f}" for i, v in shown]
        lower = [f"{x(i):.1f},{y(v['ci'][0]):.1f}" for i, v in reversed(shown)]
        line = [f"{x(i):.1f},{y(v['expected']):.1f}" for i, v in shown]
        parts.append(
            f'<polygon points="{" ".join(upper + lower)}" fill="{colour}" fill-opacity="0.15"/>'
        )
        parts.append(
            f'<polyline points="{" ".join(line)}" fill="none" stroke="{colour}" stroke-width="2"/>'
        )
        parts.append(
            f'<text x="{WIDTH - PAD + 4}" y="{PAD + 14 * k}" font-size="12" fill="{colour}">'
            f"{escape(name)}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)
