"""A gate's members side by side: `--jobs N` runs up to N scenarios at once.

Each member runs in its own thread with everything a run owns (platform, ports leased through the shared
ledger, run dir, timeline, state holdings), so members do not see each other; the results come back in the
gate's order, whatever order they finished in. Most of a chaos run is waiting (baselines, storms between
writes, observation windows), so two cores carry two members with room to spare.

Signals reach only the main thread. It waits here; on Ctrl-C or SIGTERM it cancels every member still
running: the member's progress calls (several a second in every phase) raise `Interrupted`, the run tears
down as after a Ctrl-C and hands back its unfinished (aborted) result, and only then does the interrupt go
on up. A member that errors lets the others finish and is raised after them; members not started yet are
not started.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from typing import TypeVar

from chaos.errors import Interrupted
from chaos.runner import Progress
from chaos.timeline import WindowStats

T = TypeVar("T")
R = TypeVar("R")

#: How often the waiting main thread wakes (a Ctrl-C interrupts the wait at once anyway).
POLL_S = 0.25


class Cancellation:
    """Set once by the main thread; every member's progress checks it."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self.reason = "SIGINT"

    def cancel(self, reason: str) -> None:
        self.reason = reason
        self._event.set()

    def check(self) -> None:
        """Raise `Interrupted` in a member once the gate was cancelled."""
        if self._event.is_set():
            raise Interrupted(self.reason)

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()


class CancellableProgress:
    """A member's progress: what `show` reports, with a cancellation point at every report."""

    def __init__(self, show: Progress, cancellation: Cancellation) -> None:
        self._show = show
        self._cancellation = cancellation

    def phase(self, name: str, seconds: float | None = None) -> None:
        self._cancellation.check()
        self._show.phase(name, seconds)

    def note(self, text: str) -> None:
        self._cancellation.check()
        self._show.note(text)

    def live(self, stats: WindowStats | None) -> None:
        self._cancellation.check()
        self._show.live(stats)


def run_side_by_side(items: Sequence[T], jobs: int, run_one: Callable[[T, Cancellation], R]) -> list[R]:
    """`run_one(item, cancellation)` for every item, up to `jobs` at once; the results in the items' order.

    On KeyboardInterrupt or `Interrupted` in the waiting (main) thread, every running member is cancelled
    and waited for before the interrupt is raised again. A member's own exception is raised once every
    member that had started has ended; members not started by then are not started.
    """
    cancellation = Cancellation()
    with ThreadPoolExecutor(max_workers=max(1, jobs), thread_name_prefix="gochaos-job") as pool:
        futures: list[Future[R]] = [pool.submit(run_one, item, cancellation) for item in items]
        try:
            _wait_all(futures)
        except BaseException as e:
            cancellation.cancel(e.signal_name if isinstance(e, Interrupted) else "SIGINT")
            for future in futures:
                future.cancel()
            _drain(futures)
            raise
        failed = next((f for f in futures if not f.cancelled() and f.exception() is not None), None)
        if failed is not None:
            error = failed.exception()
            assert error is not None
            raise error
    return [future.result() for future in futures]


def _wait_all(futures: list[Future[R]]) -> None:
    """Until every member ended; after a member's exception, the rest that started still finish."""
    pending = set(futures)
    while pending:
        done, pending = wait(pending, timeout=POLL_S, return_when=FIRST_EXCEPTION)
        if any(not f.cancelled() and f.exception() is not None for f in done):
            for future in pending:
                future.cancel()  # not started yet: stays unstarted; started ones run to their end
            pending = {f for f in pending if not f.cancelled()}


def _drain(futures: list[Future[R]]) -> None:
    """Wait for cancelled members to tear down (a second Ctrl-C here is ignored: teardown must finish)."""
    remaining = [f for f in futures if not f.cancelled()]
    while remaining:
        try:
            wait(remaining, timeout=POLL_S)
        except KeyboardInterrupt:
            continue
        remaining = [f for f in remaining if not f.done()]
