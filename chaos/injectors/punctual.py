"""Keeping a fault's timed actions on time: prompt thread switches, and a wake-up that learns how late
wake-ups run.

A storm thread woken for its next write first waits for a CPU (the machine may be busy) and then for
the GIL, which CPython hands over only after the running thread held it for the switch interval
(5 ms by default). Writes meant 10 ms apart landed up to 6 ms late (p99,
tests/bench/bench_reload_precision.py). Three remedies, all bounded:

- while any fault runs, a 0.5 ms switch interval (the process's own comes back after the last one);
- while any fault runs, the objects that existed when it started are frozen out of the garbage
  collector (`gc.freeze`): a full collection then scans only what the faults made, not the whole
  suite (a 100 ms storm's write was 37 ms late behind one 40 ms gen-2 collection);
- `Punctual.sleep_until` wakes early by how late recent wake-ups ran (their 90th percentile, at least
  1 ms, at most 5 ms) and spins the rest, so a busy machine's scheduling delay is absorbed too.
"""

from __future__ import annotations

import contextlib
import gc
import sys
import threading
import time
from collections import deque
from collections.abc import Iterator

#: The switch interval while a fault runs: short enough for 10 ms storms, long enough to cost little.
FAULT_SWITCH_INTERVAL_S = 0.0005
MIN_SPIN_S = 0.001
MAX_SPIN_S = 0.005
#: How many recent wake-ups the early-wake margin is learnt from.
WAKE_HISTORY = 64

_lock = threading.Lock()
_active = 0
_saved = sys.getswitchinterval()


@contextlib.contextmanager
def punctual_faults() -> Iterator[None]:
    """For the duration: a short switch interval, and what exists now frozen out of the garbage collector
    (nested and overlapping faults share both; the last one to end restores them)."""
    global _active, _saved
    with _lock:
        if _active == 0:
            _saved = sys.getswitchinterval()
            sys.setswitchinterval(min(_saved, FAULT_SWITCH_INTERVAL_S))
            gc.freeze()
        _active += 1
    try:
        yield
    finally:
        with _lock:
            _active -= 1
            if _active == 0:
                sys.setswitchinterval(_saved)
                gc.unfreeze()


class Punctual:
    """Sleeps that end on their deadline: the last stretch is spun, as long as wake-ups have lately run late."""

    def __init__(self) -> None:
        self._late_s: deque[float] = deque(maxlen=WAKE_HISTORY)

    @property
    def margin_s(self) -> float:
        """How early to wake: the 90th percentile of recent lateness plus 0.5 ms, within [1 ms, 5 ms]."""
        if not self._late_s:
            return MIN_SPIN_S
        ordered = sorted(self._late_s)
        late = ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]
        return min(MAX_SPIN_S, max(MIN_SPIN_S, late + 0.0005))

    def sleep_until(self, deadline: float, stop: threading.Event) -> bool:
        """Sleep until `time.monotonic()` reaches `deadline`; False when `stop` was set first."""
        wake_at = deadline - self.margin_s
        if stop.wait(max(0.0, wake_at - time.monotonic())):
            return False
        self._late_s.append(max(0.0, time.monotonic() - wake_at))
        while time.monotonic() < deadline:
            pass
        return not stop.is_set()
