"""Trend plots across runs, as small inline SVG: verdicts, recovery, availability, p99, fault landing.

Drawn with the report's own primitives (`chaos.report.svg`, and the gap-keeping `plots.curve`).
x is a run's position in its series, not its time (a weekend without runs is no gap); y starts at
0, so a doubling looks like one. Every point carries a ``<title>`` naming its run and value; a
regression (see `chaos.report.history`) is ringed in red and listed under the plots. `for_run` gives
report.html its History section; `page` is the standalone page of `gochaos history --html`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING

from chaos import run_dirs
from chaos.report import history
from chaos.report.history import RunPoint
from chaos.report.json_report import to_dict
from chaos.report.plots import AXIS, FONT, GRID, curve
from chaos.report.style import CSS
from chaos.report.svg import INK, MUTED, Canvas, nice_ticks
from chaos.verdict import Status

if TYPE_CHECKING:
    from chaos.run_result import RunResult

WIDTH, HEIGHT, VERDICT_HEIGHT = 264, 136, 62
LEFT, RIGHT, TOP, BOTTOM = 46, 14, 24, 22
#: The newest runs of a series a plot shows (older ones stay in `gochaos history`).
MAX_POINTS = 100
LINE = "#0072B2"
REGRESSION = "#CF222E"
STATUS_COLOUR = {Status.PASS: "#1A7F37", Status.FAIL: "#CF222E", Status.INCONCLUSIVE: "#9A6700",
                 Status.ERROR: "#8250DF", Status.ABORTED: "#57606A"}


@dataclass(frozen=True, slots=True)
class Trend:
    """One plotted figure of a run; `metric` names the `chaos.report.history` regression marked on it."""

    key: str
    title: str
    unit: str
    value: Callable[[RunPoint], float | None]
    metric: str | None


TRENDS = (
    Trend("recovery", "time to recover", "s", lambda p: p.recovery_s, "recovery_s"),
    Trend("availability", "availability during faults", "%",
          lambda p: None if p.availability is None else round(100 * p.availability, 3), None),
    Trend("p99", "p99 during faults", "ms", lambda p: p.p99_ms, "p99_ms"),
    Trend("landing", "fault landing (median)", "ms", lambda p: p.landing_ms, "landing_ms"),
)


def for_run(results: Sequence[RunResult], directory: Path) -> str:
    """report.html's History section: these runs after the earlier runs of their scenarios found
    beside `directory` under its report dir ("" when there are none, or `directory` is no run dir)."""
    if not any(p.name == directory.name for p in run_dirs.runs(directory.parent)):
        return ""
    current = [history.point(to_dict(r), directory.name) for r in results]
    cutoff = min(p.started_ns for p in current)
    names = {p.series for p in current}
    earlier = [p for p in history.load(directory.parent, exclude=directory).points
               if p.series in names and p.started_ns < cutoff]
    if not earlier:
        return ""
    grouped = history.by_series(history.flag([*earlier, *current]))
    shown = {name: points for name, points in grouped.items() if len(points) > 1}
    return section(shown)


def section(series: Mapping[str, Sequence[RunPoint]]) -> str:
    """A card with each series' trend plots and its regressions."""
    if not series:
        return ""
    return ('<section class="card history" id="history"><h3>History</h3>'
            + "".join(series_html(name, points) for name, points in series.items()) + "</section>")


def series_html(name: str, points: Sequence[RunPoint]) -> str:
    points = list(points)[-MAX_POINTS:]
    plots = [trend_svg(points, trend) for trend in TRENDS if any(trend.value(p) is not None for p in points)
             or (trend.key == "recovery" and any(p.recovered is False for p in points))]
    flagged = [(p, r) for p in points for r in p.regressions]
    notes = "".join(f"<li><code>{escape(p.run)}</code>: {escape(r.text)}</li>" for p, r in flagged)
    passed = sum(p.verdict is Status.PASS for p in points)
    return (f'<div class="series"><h4>{escape(name)} <span class="muted">{len(points)} runs, {passed} passed'
            f'{f", {len(flagged)} regression(s)" if flagged else ""}</span></h4>'
            f'<div class="trends"><figure>{verdict_svg(points)}</figure></div>'
            f'<div class="trends">{"".join(f"<figure>{svg}</figure>" for svg in plots)}</div>'
            f'<p class="muted legend">one dot per run, oldest left: green passed, red failed, amber '
            f"inconclusive; a red ring marks a regression</p>"
            f'{f"<ul class=regressions>{notes}</ul>" if notes else ""}</div>')


def verdict_svg(points: Sequence[RunPoint]) -> str:
    """The verdict of each run as a coloured dot, regressions ringed."""
    canvas = Canvas()
    x_of = _x_scale(len(points))
    y = TOP + (VERDICT_HEIGHT - TOP - BOTTOM) / 2
    _title(canvas, "verdict", "")
    canvas.line(LEFT, y, WIDTH - RIGHT, y, GRID)
    for i, p in enumerate(points):
        _dot(canvas, x_of(i), y, p, f"{p.verdict.value.upper()}", regressed=bool(p.regressions))
    _x_labels(canvas, points, x_of, VERDICT_HEIGHT - BOTTOM)
    return _svg(canvas, "verdict", VERDICT_HEIGHT, f"verdict of each of {len(points)} runs")


def trend_svg(points: Sequence[RunPoint], trend: Trend) -> str:
    """One figure across the runs: a line through the runs that have it, a dot per run."""
    canvas = Canvas()
    x_of = _x_scale(len(points))
    values = [trend.value(p) for p in points]
    ticks = nice_ticks(max([v for v in values if v is not None] or [1.0]), 3)
    bottom = HEIGHT - BOTTOM

    def y_of(value: float) -> float:
        return bottom - (value / ticks[-1]) * (bottom - TOP)

    _title(canvas, trend.title, trend.unit)
    for tick in ticks:
        canvas.line(LEFT, y_of(tick), WIDTH - RIGHT, y_of(tick), GRID)
        canvas.text(LEFT - 6, y_of(tick) + 4, f"{tick:g}", anchor="end", size=10, fill=MUTED)
    canvas.line(LEFT, TOP, LEFT, bottom, AXIS)
    canvas.line(LEFT, bottom, WIDTH - RIGHT, bottom, AXIS)
    xs = [x_of(i) for i in range(len(points))]
    curve(canvas, xs, values, y_of, LINE, "", False, bottom)
    for x, value, p in zip(xs, values, points, strict=True):
        regressed = trend.metric is not None and any(r.metric == trend.metric for r in p.regressions)
        if value is not None:
            _dot(canvas, x, y_of(value), p, f"{value:g} {trend.unit}", regressed=regressed)
        elif trend.key == "recovery" and p.recovered is False:  # never recovered: off the scale
            _never(canvas, x, TOP, p, regressed=regressed)
    _x_labels(canvas, points, x_of, bottom)
    return _svg(canvas, trend.key, HEIGHT, f"{trend.title} across {len(points)} runs")


def page(series: Mapping[str, Sequence[RunPoint]], source: Path) -> str:
    """A standalone, self-contained page of the trend plots (same styles as report.html)."""
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    runs = len({p.run for points in series.values() for p in points})
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>gochaos history: {escape(str(source))}</title><style>{CSS}</style></head><body><main>"
            f'<header class="verdict"><h1>gochaos history</h1><span class="muted">{escape(str(source))} · '
            f"{runs} run(s) · generated {generated}</span></header>"
            f"{section(series)}</main></body></html>\n")


def _x_scale(count: int) -> Callable[[float], float]:
    step = (WIDTH - LEFT - RIGHT) / max(count, 1)
    return lambda i: LEFT + (i + 0.5) * step


def _title(canvas: Canvas, title: str, unit: str) -> None:
    canvas.add(f'<text x="{LEFT}" y="14" font-size="12" font-weight="600" fill="{INK}">{escape(title)}'
               f'<tspan dx="6" font-size="10" font-weight="normal" fill="{MUTED}">{escape(unit)}</tspan></text>')


def _tip(p: RunPoint, what: str) -> str:
    return f"{p.run} (seed {p.seed}, {p.verdict.value}): {what}" + "".join(f"; {r.text}" for r in p.regressions)


def _dot(canvas: Canvas, x: float, y: float, p: RunPoint, what: str, *, regressed: bool) -> None:
    colour = STATUS_COLOUR[p.verdict]
    ring = (f'<circle class="regression" cx="{x:.1f}" cy="{y:.1f}" r="7.5" fill="none" stroke="{REGRESSION}" '
            f'stroke-width="2"/>' if regressed else "")
    canvas.add(f'<g><title>{escape(_tip(p, what))}</title>{ring}<circle class="point status-{p.verdict.value}" '
               f'cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{colour}" stroke="#FFFFFF" stroke-width="1"/></g>')


def _never(canvas: Canvas, x: float, y: float, p: RunPoint, *, regressed: bool) -> None:
    ring = (f'<circle class="regression" cx="{x:.1f}" cy="{y + 2:.1f}" r="8" fill="none" stroke="{REGRESSION}" '
            f'stroke-width="2"/>' if regressed else "")
    canvas.add(f'<g><title>{escape(_tip(p, "never recovered"))}</title>{ring}'
               f'<path class="point never status-{p.verdict.value}" d="M{x - 5:.1f} {y - 3:.1f}L{x + 5:.1f} '
               f'{y - 3:.1f}L{x:.1f} {y + 6:.1f}Z" fill="#FFFFFF" stroke="{REGRESSION}" stroke-width="1.8"/></g>')


def _x_labels(canvas: Canvas, points: Sequence[RunPoint], x_of: Callable[[float], float], y: float) -> None:
    """The first and the last run's UTC time under the axis (each run's own is in its tooltip)."""
    shown = {0, len(points) - 1} if points else set()
    for i in sorted(shown):
        stamp = datetime.fromtimestamp(points[i].started_ns / 1e9, tz=UTC).strftime("%m-%d %H:%M")
        anchor = "start" if i == 0 and len(points) > 1 else "end" if i else "middle"
        canvas.text(x_of(i) - (4 if anchor == "start" else -4 if anchor == "end" else 0), y + 15, stamp,
                    anchor=anchor, size=10, fill=MUTED)


def _svg(canvas: Canvas, key: str, height: float, label: str) -> str:
    return (f'<svg class="trend trend-{key}" viewBox="0 0 {WIDTH} {height:.0f}" width="{WIDTH}" '
            f'height="{height:.0f}" role="img" aria-label="{escape(label)}" font-family="{FONT}">'
            + "".join(canvas.parts) + "</svg>")
