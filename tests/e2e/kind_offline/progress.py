"""Progress lines for long steps: what started, and how long it took when it ends.

A cold node-image build runs for many minutes; without a line per step the run looks hung. The
durations are also what the README's cold/warm table is made of, so every step reports them the
same way.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

Progress = Callable[[str], None]


def print_progress(line: str) -> None:
    """Default sink: stderr, flushed, so it shows through pytest's capture with -s or live logs."""
    print(f"[kind-offline] {line}", file=sys.stderr, flush=True)


def quiet(line: str) -> None:
    """A sink that drops everything."""


@contextmanager
def step(progress: Progress, what: str) -> Iterator[None]:
    """Report `what` when it starts and its duration when it ends (or fails)."""
    progress(f"{what} ...")
    started = time.monotonic()
    try:
        yield
    except BaseException:
        progress(f"{what}: failed after {time.monotonic() - started:.1f} s")
        raise
    progress(f"{what}: done in {time.monotonic() - started:.1f} s")
