"""Runtime samples of every target with chaosagent, on the run's timeline, for the leak oracle.

A background thread asks each agent for its runtime/metrics snapshot every `interval_s` and
records a `runtime.sample` event (goroutines, live heap, GC cycles). Failures are recorded as
gaps, never raised: an observer must not break the run (the target may be crashing on purpose).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

from chaos.chaosagent import agent_for
from chaos.errors import InjectionFailed
from chaos.platform.base import RunningTarget
from chaos.timeline import Timeline


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

    def sample_now(self, kind: str = "runtime.sample") -> None:
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
