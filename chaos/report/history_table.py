"""`gochaos history` on a terminal: one table per scenario, oldest run first, regressions marked; under it the
mutation sites its storms tried over those runs, and a few of those none tried."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from rich import box
from rich.table import Table
from rich.text import Text

from chaos.report.coverage import accumulate, lines
from chaos.report.history import RunPoint, by_series
from chaos.verdict import Status

MARK = "▲"
_STYLE = {Status.PASS: "bold green", Status.FAIL: "bold red", Status.INCONCLUSIVE: "bold yellow",
          Status.ERROR: "bold red", Status.ABORTED: "bold magenta"}


def tables(points: Sequence[RunPoint]) -> list[Table]:
    """One table per series (scenario and build), in the order the series first ran."""
    return [_table(name, runs) for name, runs in by_series(points).items()]


def _table(name: str, runs: Sequence[RunPoint]) -> Table:
    flagged = sum(bool(p.regressions) for p in runs)
    title = (f"{name}: {len(runs)} run(s)" + (f", {flagged} with regressions" if flagged else "")
             + " · availability and p99 during the faults")
    sites = lines(accumulate(p.storms for p in runs))
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, caption="\n".join(sites) or None,
                  caption_justify="left")
    for header, justify in (("run (UTC)", "left"), ("seed", "right"), ("verdict", "left"),
                            ("recovery", "right"), ("avail.", "right"), ("p99", "right"),
                            ("landing", "right"), ("findings", "left"), (f"{MARK} regression", "left")):
        table.add_column(header, justify=justify, no_wrap=header.startswith("run"))  # type: ignore[arg-type]
    for p in runs:
        regressed = {r.metric for r in p.regressions}
        recovery = ("never" if p.recovered is False
                    else None if p.recovery_s is None else f"{p.recovery_s:.2f} s")
        table.add_row(
            datetime.fromtimestamp(p.started_ns / 1e9, tz=UTC).strftime("%Y-%m-%d %H:%M:%S"),
            str(p.seed),
            Text(p.verdict.value.upper(), style=_STYLE[p.verdict]),
            _cell(recovery, "recovery_s" in regressed),
            _cell(None if p.availability is None else f"{100 * p.availability:.2f}%", False),
            _cell(None if p.p99_ms is None else f"{p.p99_ms:.1f} ms", "p99_ms" in regressed),
            _cell(None if p.landing_ms is None else f"{p.landing_ms:g} ms", "landing_ms" in regressed),
            Text(", ".join(f.check for f in p.findings) or "—"),
            Text(", ".join(r.short for r in p.regressions), style="bold red"),
        )
    return table


def _cell(text: str | None, bad: bool) -> Text:
    if text is None:
        return Text("—", style="dim")
    return Text(f"{MARK} {text}" if bad else text, style="bold red" if bad else "")
