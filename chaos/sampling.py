"""Runtime samples of every target with chaosagent, on the run's timeline, for the leak oracle.

A background thread asks each agent for its runtime/metrics snapshot every `interval_s` and
records a `runtime.sample` event (goroutines, live heap, GC cycles). Failures are recorded as
gaps, never raised: an observer must not break the run (the target may be crashing on purpose).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

from chaos.chaosagent import agent_for
from chaos.errors import InjectionFailed
from chaos.platform.base import RunningTarget
from chaos.timeline import EventKind, Timeline


class RuntimeSampler:
    def __init__(self, targets: Sequence[RunningTarget], timeline: Timeline, interval_s: float = 0.5) -> None:
        self.timeline = timeline
        self.interval_s = interval_s
        self._agents = [(t.spec.name, agent) for t in targets if (agent := agent_for(t)) is not None]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="runtime-sampler", daemon=True)

    def __enter__(self) -> RuntimeSampler:
        if self._agents:
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5)

    def sample_idle(self, max_wait_s: float, poll_s: float = 0.1) -> None:
        """Record `runtime.idle` once no target's goroutine count moves any more, or after `max_wait_s`.

        Settled means three equal polls in a row, or — after the load — a count already back at the
        one before the load, which no further waiting can make pass more. A target that leaks keeps
        the full wait, so the verdict is the one a fixed wait gives, without paying it on every run.
        """
        deadline = time.monotonic() + max_wait_s
        before = {e.source: int(e.details["goroutines"]) for e in self.timeline.events(kind=EventKind.RUNTIME_IDLE)}
        history: dict[str, list[int]] = {name: [] for name, _ in self._agents}
        while time.monotonic() < deadline:
            for name, agent in self._agents:
                try:
                    history[name].append(int(agent.runtime().get("goroutines", 0)))
                except InjectionFailed:
                    history[name].append(-1)
            if all(_settled(counts, before.get(name)) for name, counts in history.items()):
                break
            time.sleep(poll_s)
        self.sample_now(EventKind.RUNTIME_IDLE)

    def sample_now(self, kind: EventKind = EventKind.RUNTIME_SAMPLE) -> None:
        """Record one snapshot of every agent now (`runtime.idle` for the before/after-load pair)."""
        for name, agent in self._agents:
            try:
                snap = agent.runtime()
            except InjectionFailed:
                continue
            self.timeline.record(kind, name, goroutines=int(snap.get("goroutines", 0)),
                                 heap_live_bytes=int(snap.get("heap_live_bytes", 0)),
                                 gc_cycles=int(snap.get("gc_cycles", 0)))

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample_now()
            self._stop.wait(self.interval_s)


def _settled(counts: list[int], before_load: int | None) -> bool:
    if not counts or counts[-1] < 0:
        return False
    if before_load is not None and counts[-1] <= before_load:
        return True
    return len(counts) >= 3 and counts[-1] == counts[-2] == counts[-3]
