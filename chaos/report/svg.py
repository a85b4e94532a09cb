"""SVG drawing primitives for the report plots: a canvas that escapes text, marker glyphs, ticks."""

from __future__ import annotations

import math
from html import escape

from chaos.report.annotations import MarkerKind

INK, MUTED = "#1F2328", "#59636E"
#: Marker kind -> (colour, dash of its vertical line ("" solid), line opacity, legend text).
MARK_STYLE: dict[MarkerKind, tuple[str, str, float, str]] = {
    MarkerKind.RELOAD: ("#009E73", "", 0.35, "config reload"),
    MarkerKind.RELOAD_INVALID: ("#D81B60", "", 0.6, "invalid config reload"),
    MarkerKind.CRASH: ("#B71C1C", "", 0.85, "crash (unrequested exit)"),
    MarkerKind.EXIT: ("#616161", "2 3", 0.7, "requested exit"),
    MarkerKind.RESTART: ("#2E7D32", "5 3", 0.8, "restart"),
    MarkerKind.LEADER_LOST: ("#AD1457", "5 3", 0.8, "etcd leader lost"),
    MarkerKind.LEADER: ("#AD1457", "", 0.8, "etcd leader elected"),
}


def nice_ticks(high: float, count: int = 4) -> list[float]:
    """0 and round steps (1, 2, 2.5, 5 x 10^k) up to the first tick >= `high`."""
    if not math.isfinite(high) or high <= 0:
        high = 1.0
    raw = high / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw * (1 - 1e-9))
    steps = math.ceil(high / step - 1e-9)
    return [round(i * step, 10) for i in range(steps + 1)]


class Canvas:
    """Accumulates SVG elements; every text is escaped here, once."""

    def __init__(self) -> None:
        self.parts: list[str] = []

    def add(self, markup: str) -> None:
        self.parts.append(markup)

    def text(self, x: float, y: float, text: str, *, anchor: str = "start", size: float = 12,
             fill: str = INK, weight: str = "normal", extra: str = "") -> None:
        self.add(f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="{size}" '
                 f'fill="{fill}" font-weight="{weight}"{extra}>{escape(text)}</text>')

    def line(self, x1: float, y1: float, x2: float, y2: float, stroke: str, *, width: float = 1,
             dash: str = "", opacity: float = 1) -> None:
        dashes = f' stroke-dasharray="{dash}"' if dash else ""
        self.add(f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke="{stroke}" '
                 f'stroke-width="{width}" stroke-opacity="{opacity}"{dashes}/>')

    def rect(self, x: float, y: float, w: float, h: float, fill: str, *, opacity: float = 1,
             extra: str = "", tooltip: str = "") -> None:
        body = f"<title>{escape(tooltip)}</title>" if tooltip else ""
        self.add(f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(w, 0):.1f}" height="{h:.1f}" fill="{fill}" '
                 f'fill-opacity="{opacity}"{extra}>{body}</rect>')


def symbol(kind: MarkerKind, x: float, y: float) -> str:
    """The marker's glyph centred on (x, y)."""
    colour = MARK_STYLE[kind][0]
    if kind is MarkerKind.CRASH:
        return (f'<path d="M{x - 5:.1f} {y - 5:.1f}L{x + 5:.1f} {y + 5:.1f}M{x - 5:.1f} {y + 5:.1f}'
                f'L{x + 5:.1f} {y - 5:.1f}" stroke="{colour}" stroke-width="2.6" stroke-linecap="round"/>')
    if kind is MarkerKind.EXIT:
        return f'<rect x="{x - 4:.1f}" y="{y - 4:.1f}" width="8" height="8" fill="{colour}"/>'
    if kind is MarkerKind.RESTART:
        return f'<path d="M{x:.1f} {y - 6:.1f}L{x + 6:.1f} {y + 5:.1f}L{x - 6:.1f} {y + 5:.1f}Z" fill="{colour}"/>'
    if kind in (MarkerKind.LEADER, MarkerKind.LEADER_LOST):
        fill = colour if kind is MarkerKind.LEADER else "#FFFFFF"
        return (f'<path d="M{x:.1f} {y - 6:.1f}L{x + 6:.1f} {y:.1f}L{x:.1f} {y + 6:.1f}L{x - 6:.1f} {y:.1f}Z" '
                f'fill="{fill}" stroke="{colour}" stroke-width="1.8"/>')
    fill = colour if kind is MarkerKind.RELOAD else "#FFFFFF"
    return (f'<path d="M{x - 5:.1f} {y - 5:.1f}L{x + 5:.1f} {y - 5:.1f}L{x:.1f} {y + 5:.1f}Z" '
            f'fill="{fill}" stroke="{colour}" stroke-width="1.4"/>')
