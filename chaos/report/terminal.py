"""The one place a rich Console is made: a terminal keeps its width, a log (CI) never wraps a line.

Off a terminal rich lays text out at 80 columns (or $COLUMNS) and wraps or crops what is longer, so a
Go stack frame, a log line or a replay command lands in a CI log cut in pieces nobody can grep or copy.
There every line is printed whole (soft wrap) and tables get at least `LOG_WIDTH` columns before they
fold a cell. Whether output is a terminal is the stream's own answer (`isatty`), not rich's: a CI job
that sets FORCE_COLOR for colours still writes a log, not a screen.
"""

from __future__ import annotations

from typing import IO

from rich.console import Console

#: Columns a table may take in a log before it folds a cell (a log has no right edge to respect).
LOG_WIDTH = 160


def make_console(*, stderr: bool = False, file: IO[str] | None = None) -> Console:
    """The Console for stdout (or stderr, or `file`): the terminal's width, or unwrapped lines in a log."""
    console = Console(stderr=stderr, file=file)
    if not is_tty(console.file):
        console.soft_wrap = True
        console.width = max(console.width, LOG_WIDTH)
    return console


def is_tty(stream: IO[str]) -> bool:
    """Is `stream` a terminal (a closed or odd stream is not)?"""
    try:
        return stream.isatty()
    except (AttributeError, ValueError, OSError):
        return False
