"""The timeline plot of one run, as inline SVG: load curves, fault windows and event markers.

Hand-made SVG rather than a plotting library: no heavy dependency for a CI tool, text stays text
(crisp, searchable), and every marker carries a ``<title>`` tooltip, all without JavaScript.
Layout, top to bottom: lanes (phases, faults, reloads, process, etcd), then three panels on one
time axis (throughput, error rate, latency p99/p50), then the legend. Fault windows are shaded
through every panel; crashes, restarts and leader changes are vertical lines through them too.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

from chaos.oracles.context import Phases
from chaos.report.annotations import LANES, FaultWindow, Marker, MarkerKind, fault_windows, markers
from chaos.report.svg import INK, MARK_STYLE, MUTED, Canvas, nice_ticks, symbol
from chaos.timeline import Timeline

WIDTH = 1120
LEFT, RIGHT = 86, 28
LANE_H, PANEL_H, PANEL_GAP = 22, 124, 30
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'DejaVu Sans', Arial, sans-serif"

RPS, ERRORS, P99 = "#0072B2", "#D55E00", "#6A3D9A"
FAULT, GRID, AXIS = "#E69F00", "#E6E8EB", "#9AA0A6"
PHASE_FILL = {"baseline": "#DCE6F2", "faults": "#FCE3B8", "observe": "#DDEFE3"}


@dataclass(frozen=True, slots=True)
class Point:
    """One bucket, at its midpoint in seconds since the baseline start (None: no requests)."""

    t_s: float
    rps: float
    error_pct: float | None
    p50_ms: float | None
    p99_ms: float | None


def bucket_ms(duration_s: float) -> int:
    """100 ms buckets for short runs, 250 ms up to 5 min, then whole seconds (<= ~1200 points)."""
    if duration_s <= 60:
        return 100
    if duration_s <= 300:
        return 250
    return 1000 * max(1, math.ceil(duration_s / 1200))


def series(timeline: Timeline, start_ns: int, end_ns: int, width_ms: int) -> list[Point]:
    return [
        Point(t_s=((b.start_ns + b.end_ns) / 2 - start_ns) / 1e9, rps=b.rps,
              error_pct=100 * b.error_rate if b.count else None, p50_ms=b.p50_ms, p99_ms=b.p99_ms)
        for b in timeline.buckets(width_ms, start_ns, end_ns)
    ]


def _compact(value: float) -> str:
    return f"{value / 1000:g}k" if value >= 1000 else f"{value:g}"


def timeline_svg(timeline: Timeline, phases: Phases, *, width_ms: int | None = None) -> str:
    """The run's timeline, from the baseline start to the end of the observation window."""
    t0, t1 = phases.baseline_start, max(phases.observe_end, phases.baseline_start + 1_000_000)
    span_s = (t1 - t0) / 1e9
    width_ms = width_ms or bucket_ms(span_s)
    points = series(timeline, t0, t1, width_ms)
    events = timeline.events()
    windows = fault_windows(events)
    marks = [m for m in markers(events) if t0 <= m.t_ns <= t1]
    lanes = ["phases", "faults", *dict.fromkeys(LANES[m.kind] for m in marks)]
    plot_w = WIDTH - LEFT - RIGHT

    def x_of(t_ns: float) -> float:
        return LEFT + min(max((t_ns - t0) / (t1 - t0), 0.0), 1.0) * plot_w

    def x_of_s(t_s: float) -> float:
        return x_of(t0 + t_s * 1e9)

    lanes_top = 10.0
    panels_top = lanes_top + len(lanes) * LANE_H + 8
    panel_tops = [panels_top + PANEL_GAP + i * (PANEL_H + PANEL_GAP) for i in range(3)]
    bottom = panel_tops[-1] + PANEL_H
    canvas = Canvas()
    legend_rows, legend = _legend(marks, bool(windows), bottom + 46)
    height = bottom + 46 + legend_rows * 20 + 6

    # Fault windows: shaded through lanes and panels, behind everything else.
    fault_lane_y = lanes_top + LANE_H
    for window in windows:
        end = window.end_ns if window.end_ns is not None else t1
        x1, x2 = x_of(window.start_ns), x_of(end)
        canvas.rect(x1, fault_lane_y, max(x2 - x1, 1.5), bottom - fault_lane_y, FAULT, opacity=0.13,
                    extra=' class="fault-window"')
    # Lanes.
    for i, lane in enumerate(lanes):
        y = lanes_top + i * LANE_H
        canvas.text(LEFT - 10, y + LANE_H / 2 + 4, lane, anchor="end", size=11, fill=MUTED)
        canvas.line(LEFT, y + LANE_H, LEFT + plot_w, y + LANE_H, GRID)
    _phase_lane(canvas, phases, lanes_top, x_of)
    _fault_lane(canvas, windows, fault_lane_y, t1, x_of)
    # Panels.
    rps = [p.rps for p in points]
    errs = [p.error_pct for p in points]
    p99 = [p.p99_ms for p in points]
    p50 = [p.p50_ms for p in points]
    x_ticks = [t for t in nice_ticks(span_s, 10) if t <= span_s + 1e-9]
    panels: list[tuple[str, str, Callable[[float], str], list[tuple[list[float | None], str, str, bool]]]] = [
        ("Throughput", "requests/s", _compact, [(list(rps), RPS, "", True)]),
        ("Error rate", "% of requests failed", lambda v: f"{v:g}%", [(errs, ERRORS, "", True)]),
        ("Latency", "ms (solid p99, dashed p50)", lambda v: f"{v:g}",
         [(p99, P99, "", False), (p50, P99, "5 3", False)]),
    ]
    for (title, unit, fmt, lines), top in zip(panels, panel_tops, strict=True):
        values = [v for data, *_ in lines for v in data if v is not None]
        ticks = nice_ticks(max([1.0, *values]))
        y_of = _scale(top, ticks[-1])
        canvas.add(f'<text x="{LEFT}" y="{top - 9:.1f}" font-size="13" font-weight="600" fill="{INK}">'
                   f'{escape(title)}<tspan dx="8" font-size="11" font-weight="normal" fill="{MUTED}">'
                   f"{escape(unit)}</tspan></text>")
        for tick in ticks:
            canvas.line(LEFT, y_of(tick), LEFT + plot_w, y_of(tick), GRID)
            canvas.text(LEFT - 8, y_of(tick) + 4, fmt(tick), anchor="end", size=11, fill=MUTED)
        for t in x_ticks:
            canvas.line(x_of_s(t), top, x_of_s(t), top + PANEL_H, GRID, opacity=0.7)
        for boundary in (phases.faults_start, phases.faults_end):
            canvas.line(x_of(boundary), top, x_of(boundary), top + PANEL_H, AXIS, dash="3 3")
        for data, colour, dash, filled in lines:
            curve(canvas, [x_of_s(p.t_s) for p in points], data, y_of, colour, dash, filled,
                   top + PANEL_H)
        if not points:
            canvas.text(LEFT + plot_w / 2, top + PANEL_H / 2, "no requests recorded", anchor="middle",
                        fill=MUTED)
        canvas.line(LEFT, top, LEFT, top + PANEL_H, AXIS)
        canvas.line(LEFT, top + PANEL_H, LEFT + plot_w, top + PANEL_H, AXIS)
    # Markers: lines through the panels, glyphs in their lane.
    for mark in marks:
        colour, dash, opacity, _ = MARK_STYLE[mark.kind]
        width = 1.0 if mark.kind is MarkerKind.RELOAD else 1.6
        canvas.line(x_of(mark.t_ns), panels_top, x_of(mark.t_ns), bottom, colour, width=width,
                    dash=dash, opacity=opacity)
    _marker_lanes(canvas, marks, lanes, lanes_top, t0, x_of)
    for t in x_ticks:
        canvas.line(x_of_s(t), bottom, x_of_s(t), bottom + 5, AXIS)
        canvas.text(x_of_s(t), bottom + 18, f"{t:g}", anchor="middle", size=11, fill=MUTED)
    canvas.text(LEFT + plot_w / 2, bottom + 36, f"seconds since baseline start ({width_ms} ms buckets)",
                anchor="middle", size=12, fill=MUTED)
    canvas.add(legend)
    return (f'<svg class="timeline" viewBox="0 0 {WIDTH} {height:.0f}" width="{WIDTH}" '
            f'height="{height:.0f}" role="img" aria-label="timeline: throughput, error rate and latency '
            f'with fault windows and events" font-family="{FONT}">' + "".join(canvas.parts) + "</svg>")


def _scale(top: float, high: float) -> Callable[[float], float]:
    return lambda v: top + PANEL_H - (v / high) * PANEL_H


def curve(canvas: Canvas, xs: Sequence[float], values: Sequence[float | None],
           y_of: Callable[[float], float], colour: str, dash: str, filled: bool, base_y: float) -> None:
    """A polyline broken wherever a bucket had no requests, optionally filled down to zero."""
    runs: list[list[tuple[float, float]]] = [[]]
    for x, v in zip(xs, values, strict=True):
        if v is None:
            if runs[-1]:
                runs.append([])
            continue
        runs[-1].append((x, y_of(v)))
    dashes = f' stroke-dasharray="{dash}"' if dash else ""
    width = 1.3 if dash else 1.8
    for run in (r for r in runs if r):
        if len(run) == 1:
            canvas.add(f'<circle cx="{run[0][0]:.1f}" cy="{run[0][1]:.1f}" r="2" fill="{colour}"/>')
            continue
        coords = " ".join(f"{x:.1f},{y:.1f}" for x, y in run)
        if filled:
            canvas.add(f'<polygon points="{run[0][0]:.1f},{base_y:.1f} {coords} {run[-1][0]:.1f},{base_y:.1f}" '
                       f'fill="{colour}" fill-opacity="0.14" stroke="none"/>')
        canvas.add(f'<polyline class="series" points="{coords}" fill="none" stroke="{colour}" '
                   f'stroke-width="{width}" stroke-linejoin="round"{dashes}/>')


def _phase_lane(canvas: Canvas, phases: Phases, top: float, x_of: Callable[[float], float]) -> None:
    spans = (("baseline", phases.baseline_start, phases.faults_start),
             ("faults", phases.faults_start, phases.faults_end),
             ("observe", phases.faults_end, phases.observe_end))
    for name, start, end in spans:
        x1, x2 = x_of(start), x_of(end)
        seconds = (end - start) / 1e9
        canvas.rect(x1 + 1, top + 4, x2 - x1 - 2, LANE_H - 8, PHASE_FILL[name], extra=' rx="3"',
                    tooltip=f"{name}: {seconds:.2f} s")
        label = f"{name} {seconds:.1f} s"
        if len(label) * 6.4 < x2 - x1 - 6:
            canvas.text((x1 + x2) / 2, top + LANE_H / 2 + 4, label, anchor="middle", size=11, fill=INK)


def _fault_lane(canvas: Canvas, windows: Sequence[FaultWindow], top: float, t1: int,
                x_of: Callable[[float], float]) -> None:
    if not windows:
        canvas.text(LEFT + 6, top + LANE_H / 2 + 4, "no faults injected", size=11, fill=MUTED)
    for window in windows:
        end = window.end_ns if window.end_ns is not None else t1
        x1, x2 = x_of(window.start_ns), x_of(end)
        landed = window.landed is not False and window.end_ns is not None
        seconds = (end - window.start_ns) / 1e9
        extra = ' rx="3"' + ("" if landed else f' stroke="{FAULT}" stroke-dasharray="4 2"')
        canvas.rect(x1, top + 3, max(x2 - x1, 2), LANE_H - 6, FAULT if landed else "#FFFFFF", extra=extra,
                    tooltip=f"{window.label} on {window.target or 'cluster'}: {seconds:.2f} s")
        if len(window.label) * 6.4 < x2 - x1 - 6:
            canvas.text(x1 + 5, top + LANE_H / 2 + 4, window.label, size=11, weight="600",
                        fill="#3D2800" if landed else INK)


def _marker_lanes(canvas: Canvas, marks: Sequence[Marker], lanes: Sequence[str], top: float, t0: int,
                  x_of: Callable[[float], float]) -> None:
    """Each marker's glyph in its lane; a short label after it where it hides nothing."""
    xs = [x_of(m.t_ns) for m in marks]
    label_end: dict[str, float] = {}
    for i, (mark, x) in enumerate(zip(marks, xs, strict=True)):
        lane = LANES[mark.kind]
        y = top + lanes.index(lane) * LANE_H + LANE_H / 2
        tip = f"+{(mark.t_ns - t0) / 1e9:.3f} s: {mark.detail}"
        canvas.add(f'<g class="marker marker-{mark.kind.value}"><title>{escape(tip)}</title>'
                   f"{symbol(mark.kind, x, y)}</g>")
        if mark.kind in (MarkerKind.RELOAD, MarkerKind.RELOAD_INVALID):
            continue  # too many to label; the tooltip and the events table name each one
        end = x + 9 + 6.2 * len(mark.label)
        next_glyph = min((xs[j] for j in range(i + 1, len(marks)) if LANES[marks[j].kind] == lane),
                         default=float(WIDTH))
        if x + 9 > label_end.get(lane, 0.0) and end + 6 < next_glyph and end < WIDTH:
            canvas.text(x + 9, y + 4, mark.label, size=10.5, fill=MARK_STYLE[mark.kind][0])
            label_end[lane] = end + 6


def _legend(marks: Sequence[Marker], any_fault: bool, top: float) -> tuple[int, str]:
    """How many rows the legend takes, and its markup (series, fault window, present markers)."""
    items: list[tuple[str, str]] = [
        (f'<line x1="0" y1="0" x2="22" y2="0" stroke="{RPS}" stroke-width="2.2"/>', "throughput"),
        (f'<line x1="0" y1="0" x2="22" y2="0" stroke="{ERRORS}" stroke-width="2.2"/>', "error rate"),
        (f'<line x1="0" y1="0" x2="22" y2="0" stroke="{P99}" stroke-width="2.2"/>', "p99 latency"),
        (f'<line x1="0" y1="0" x2="22" y2="0" stroke="{P99}" stroke-width="1.4" stroke-dasharray="5 3"/>',
         "p50 latency"),
    ]
    if any_fault:
        items.append((f'<rect x="0" y="-7" width="22" height="14" fill="{FAULT}" fill-opacity="0.35"/>',
                      "fault window"))
    items.append((f'<line x1="0" y1="0" x2="22" y2="0" stroke="{AXIS}" stroke-dasharray="3 3"/>',
                  "phase boundary"))
    for kind in dict.fromkeys(m.kind for m in marks):
        items.append((symbol(kind, 11, 0), MARK_STYLE[kind][3]))
    parts: list[str] = []
    x, row = float(LEFT), 0
    for glyph, label in items:
        width = 30 + 6.5 * len(label) + 16
        if x + width > WIDTH - RIGHT:
            x, row = float(LEFT), row + 1
        parts.append(f'<g transform="translate({x:.1f},{row * 20 + 10})">{glyph}'
                     f'<text x="30" y="4" font-size="12" fill="{INK}">{escape(label)}</text></g>')
        x += width
    return row + 1, f'<g class="legend" transform="translate(0,{top:.1f})">{"".join(parts)}</g>'
