"""Everything a run starts is tracked here so it can be stopped on exit, on error and on signals.

`SupervisedProcess` and the load runner register each process group they start (and each group
they SIGSTOP); fixtures and the CLI stop them in `finally` blocks. This module is the backstop
under those: an `atexit` hook that kills any group still registered, and `interrupts_raise()`,
which turns SIGTERM (and SIGHUP) into the same unwinding path as Ctrl-C so that `finally` blocks
run for every signal a CI runner sends. Groups are also recorded in the state file
(`chaos.state`), whose reclaimers here kill or resume them after a SIGKILLed suite, but only
while the recorded pid and start time still match.
"""

from __future__ import annotations

import atexit
import logging
import os
import signal
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from types import FrameType

from chaos import state
from chaos.errors import Interrupted
from chaos.procfs import group_members

log = logging.getLogger("gochaos")

_lock = threading.Lock()
_groups: dict[int, str] = {}
_listener_errors: list[str] = []


def track_process_group(pgid: int, name: str) -> None:
    """Remember a process group the suite started, until it is seen to exit."""
    with _lock:
        _groups[pgid] = name
    state.hold("process_group", str(pgid), f"process group {pgid} ({name})", **state.identity(pgid))


def forget_process_group(pgid: int) -> None:
    with _lock:
        _groups.pop(pgid, None)
    state.release("process_group", str(pgid))
    state.release("stopped", str(pgid))


def note_stopped(pgid: int, name: str) -> None:
    """Record a group about to be SIGSTOPped: if the suite dies, the next run sends it SIGCONT."""
    state.hold("stopped", str(pgid), f"stopped process group {pgid} ({name})", **state.identity(pgid))


def note_continued(pgid: int) -> None:
    state.release("stopped", str(pgid))


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
        state.release("process_group", str(pgid))
        state.release("stopped", str(pgid))
    return list(groups.values())


def report_listener_error(message: str) -> None:
    """Observers never break a run: their failures are logged and kept for the report."""
    log.warning("listener failed: %s", message)
    with _lock:
        _listener_errors.append(message)


def listener_errors() -> list[str]:
    with _lock:
        return list(_listener_errors)


def _group_is_the_recorded_one(pgid: int, start: int | None) -> bool:
    """Is process group `pgid` still the one recorded (leader `pgid` with start time `start`)?

    If the leader is gone but members remain, the group is still the recorded one: the kernel does
    not hand out a pid that is still some group's id.
    """
    leader_start = state.process_start(pgid)
    if leader_start is not None:
        return leader_start == start
    return bool(group_members(pgid))


def _recorded_group_present(holding: state.Holding) -> bool:
    """Is the process group a holding recorded still there (for a dry run's report)?"""
    return _group_is_the_recorded_one(int(holding.data["pid"]), holding.data.get("start"))


@state.kind("stopped", order=10, present=_recorded_group_present)
def _reclaim_stopped(holding: state.Holding) -> str:
    pgid = int(holding.data["pid"])
    if not _group_is_the_recorded_one(pgid, holding.data.get("start")):
        return state.ALREADY_GONE
    os.killpg(pgid, signal.SIGCONT)
    return "resumed (SIGCONT)"


@state.kind("process_group", order=20, present=_recorded_group_present)
def _reclaim_group(holding: state.Holding) -> str:
    pgid = int(holding.data["pid"])
    if not _group_is_the_recorded_one(pgid, holding.data.get("start")):
        return state.ALREADY_GONE
    for sig in (signal.SIGCONT, signal.SIGKILL):
        os.killpg(pgid, sig)
    return "killed"


def _kill_leftovers_at_exit() -> None:
    if _owner_pid != os.getpid():
        return  # a forked child: the groups are its parent's
    names = kill_tracked()
    if names:
        log.warning("killed leftover processes at exit: %s", ", ".join(sorted(names)))


_owner_pid = os.getpid()
atexit.register(_kill_leftovers_at_exit)


def sigint_interrupts() -> signal.Handlers | Callable[[int, FrameType | None], object] | int | None:
    """Make SIGINT raise KeyboardInterrupt even when it was inherited as ignored; return the old handler.

    A shell starts background jobs (`cmd &`, CI scripts, nohup) with SIGINT ignored, and Python then
    leaves it ignored: a `kill -INT` would be lost and a fault never reverted. A run's own process
    group never gets a terminal's Ctrl-C anyway, so only deliberate signals arrive here.
    """
    previous = signal.getsignal(signal.SIGINT)
    if previous is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    return previous


_abort_reason: str | None = None


def request_abort(reason: str) -> None:
    """Abort the run from any thread as SIGTERM would, naming `reason` instead of the signal.

    For watchers that learn the run must stop (a kill switch deleted in the cluster): the main
    thread gets `Interrupted(reason)` at once, and every fault is reverted on the way out.
    """
    global _abort_reason
    _abort_reason = reason
    os.kill(os.getpid(), signal.SIGTERM)


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
        reason = _abort_reason if signum == signal.SIGTERM and _abort_reason else signal.Signals(signum).name
        raise Interrupted(reason)

    previous = {s: signal.signal(s, _raise) for s in (signal.SIGTERM, signal.SIGHUP)}
    previous[signal.SIGINT] = sigint_interrupts()
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def stop_concurrently(stops: Sequence[Callable[[], None]]) -> None:
    """Run several blocking stops at once: teardown then takes the slowest one, not their sum.

    Each stop is waited on through an Event, not Thread.join: a second Ctrl-C landing in a join
    marks the thread as finished while it still runs (python/cpython#90882), and the caller would
    go on (e.g. delete the run dir) under a stop still in progress.
    """
    finished = [threading.Event() for _ in stops]

    def run(stop: Callable[[], None], done: threading.Event) -> None:
        try:
            stop()
        finally:
            done.set()

    for stop, done in zip(stops, finished, strict=True):
        threading.Thread(target=run, args=(stop, done), name="gochaos-stop", daemon=True).start()
    for done in finished:
        done.wait()
