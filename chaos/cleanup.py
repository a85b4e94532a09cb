"""Everything a run starts is tracked here so it can be stopped on exit, on error and on signals.

`SupervisedProcess` registers each process group it starts; fixtures and the CLI stop them in
`finally` blocks. This module is the backstop under those: an `atexit` hook that kills any group
still registered, and `interrupts_raise()`, which turns SIGTERM (and SIGHUP) into the same
unwinding path as Ctrl-C so that `finally` blocks run for every signal a CI runner sends.
"""

from __future__ import annotations

import atexit
import logging
import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from chaos.errors import Interrupted

log = logging.getLogger("gochaos")

_lock = threading.Lock()
_groups: dict[int, str] = {}
_listener_errors: list[str] = []


def track_process_group(pgid: int, name: str) -> None:
    """Remember a process group the suite started, until it is seen to exit."""
    with _lock:
        _groups[pgid] = name


def forget_process_group(pgid: int) -> None:
    with _lock:
        _groups.pop(pgid, None)


def tracked_process_groups() -> dict[int, str]:
    """Process groups started by this process and not yet seen to exit (pgid -> name)."""
    with _lock:
        return dict(_groups)


def kill_tracked(sig: signal.Signals = signal.SIGKILL) -> list[str]:
    """Signal every tracked group (SIGCONT first, so stopped ones die too); return their names."""
    with _lock:
        groups = dict(_groups)
        _groups.clear()
    for pgid in groups:
        for s in (signal.SIGCONT, sig):
            try:
                os.killpg(pgid, s)
            except (ProcessLookupError, PermissionError):
                break
    return list(groups.values())


def report_listener_error(message: str) -> None:
    """Observers never break a run: their failures are logged and kept for the report."""
    log.warning("listener failed: %s", message)
    with _lock:
        _listener_errors.append(message)


def listener_errors() -> list[str]:
    with _lock:
        return list(_listener_errors)


def _kill_leftovers_at_exit() -> None:
    names = kill_tracked()
    if names:
        log.warning("killed leftover processes at exit: %s", ", ".join(sorted(names)))


atexit.register(_kill_leftovers_at_exit)


@contextmanager
def interrupts_raise() -> Iterator[None]:
    """Within the block, SIGTERM and SIGHUP raise `Interrupted` in the main thread like Ctrl-C.

    SIGINT keeps Python's KeyboardInterrupt; callers convert it. Only usable from the main thread
    (signal handlers can only be installed there); elsewhere it does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def _raise(signum: int, _frame: FrameType | None) -> None:
        raise Interrupted(signal.Signals(signum).name)

    previous = {s: signal.signal(s, _raise) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
