"""The console: a live line while a run goes on, then the verdict table and the replay command.

Uses rich; when stdout is not a terminal (CI logs) it prints one plain line per phase instead of
redrawing, so logs stay readable (`chaos.report.terminal` makes the Console). A suite ends with each
member's own replay command, so the last lines of a gate's log say how to replay the one that failed.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text

from chaos.report.replay import member_replays, replay_command
from chaos.run_result import RunResult
from chaos.timeline import WindowStats
from chaos.verdict import Status

_STYLE = {Status.PASS: "bold green", Status.FAIL: "bold red", Status.INCONCLUSIVE: "bold yellow",
          Status.ERROR: "bold red", Status.ABORTED: "bold magenta"}


class ConsoleProgress:
    """Implements the runner's Progress: phase, elapsed, live rps / errors / p99."""

    def __init__(self, console: Console, title: str, *, redraw: bool = True) -> None:
        self.console = console
        self.title = title
        #: One redrawn line on a terminal; False: a plain line per phase (CI logs, members run side by side).
        self.redraw = redraw
        self.started = time.monotonic()
        self._phase = "setup"
        self._phase_started = self.started
        self._phase_seconds: float | None = None
        self._note = ""
        self._stats: WindowStats | None = None
        self._live: Live | None = None

    def __enter__(self) -> ConsoleProgress:
        if self.console.is_terminal and self.redraw:
            self._live = Live(self._render(), console=self.console, refresh_per_second=4,
                              transient=True)
            self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.__exit__(None, None, None)
            self._live = None

    def phase(self, name: str, seconds: float | None = None) -> None:
        self._phase, self._phase_seconds = name, seconds
        self._phase_started = time.monotonic()
        if self._live is None:
            span = f" ({seconds:g}s)" if seconds else ""
            self.console.print(f"[{self._elapsed():6.1f}s] {self.title}: {name}{span}",
                               highlight=False)
        self._refresh()

    def note(self, text: str) -> None:
        self._note = text
        if self._live is None:
            self.console.print(f"[{self._elapsed():6.1f}s]   {text}", highlight=False)
        self._refresh()

    def live(self, stats: WindowStats | None) -> None:
        self._stats = stats
        self._refresh()

    def _elapsed(self) -> float:
        return time.monotonic() - self.started

    def _refresh(self) -> None:
        if self._live is not None:
            self._live.update(self._render())

    def _render(self) -> Text:
        line = Text()
        line.append(f"{self.title} ", style="bold")
        line.append(f"{self._phase}", style="cyan")
        in_phase = time.monotonic() - self._phase_started
        if self._phase_seconds:
            line.append(f" {in_phase:4.1f}/{self._phase_seconds:g}s")
        line.append(f"  elapsed {self._elapsed():5.1f}s")
        if self._stats is not None and self._stats.count:
            p99 = f"{self._stats.p99_ms:.1f}" if self._stats.p99_ms is not None else "-"
            line.append(f"  {self._stats.rps:7.0f} rps  {self._stats.error_rate:6.1%} err  p99 {p99} ms")
        if self._note:
            line.append(f"  {self._note}", style="dim")
        return line


def print_verdict(console: Console, result: RunResult) -> None:
    """The verdict table: one row per finding, then the evidence of each failure."""
    verdict = result.verdict
    mode = " (buggy build)" if result.buggy else ""
    table = Table(title=f"{result.scenario.name}{mode}: seed {result.seed}", title_justify="left")
    table.add_column("check")
    table.add_column("status")
    table.add_column("summary", overflow="fold")
    for finding in verdict.findings:
        table.add_row(finding.check, Text(finding.status.value.upper(), style=_STYLE[finding.status]),
                      finding.summary)
    console.print(table)
    for finding in verdict.failures:
        console.print(Text(f"{finding.check}: evidence", style="bold red"))
        for item in finding.evidence[:5]:
            console.print(Text(item.text))
    console.print(Text(f"verdict: {verdict.status.value.upper()}", style=_STYLE[verdict.status]))
    console.print(f"replay: {replay_command(result)}", highlight=False, markup=False, soft_wrap=True)


def print_replays(console: Console, results: Sequence[RunResult]) -> None:
    """For a suite: one line per member, replaying it alone with its seed (one scenario: nothing, its verdict
    already ended with its replay)."""
    replays = member_replays(results)
    if len(replays) < 2:
        return
    width = max(len(r.scenario) for r in replays)
    for replay in replays:
        console.print(f"replay {replay.scenario:<{width}} ({replay.status.value}): {replay.command}",
                      highlight=False, markup=False, soft_wrap=True)
