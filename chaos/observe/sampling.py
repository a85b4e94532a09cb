"""Runtime samples of every target that shows its runtime, on the run's timeline, for the leak oracle.

Each target is read from what it exposes (`chaos.observe.runtime_sources`: chaosagent, Prometheus
`go_goroutines`, or pprof's goroutine dump). A background thread reads each every `interval_s` and
records a `runtime.sample` event. Failures are recorded as gaps, never raised: an observer must not
break the run (the target may be crashing on purpose).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any

from chaos.observe.runtime_sources import RuntimeSource, SourceUnreadable, find_source
from chaos.platform.base import RunningTarget
from chaos.timeline import EventKind, Timeline


class RuntimeSampler:
    def __init__(self, targets: Sequence[RunningTarget], timeline: Timeline, interval_s: float = 0.5) -> None:
        self.timeline = timeline
        self.interval_s = interval_s
        self._sources: list[tuple[str, RuntimeSource]] = [
            (t.spec.name, source) for t in targets if (source := find_source(t)) is not None]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="runtime-sampler", daemon=True)

    @property
    def sources(self) -> dict[str, str]:
        """Target name -> how its runtime is read (for the dry run and reports)."""
        return {name: source.via for name, source in self._sources}

    def __enter__(self) -> RuntimeSampler:
        if self._sources:
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
        before = {e.source: int(e.details["goroutines"]) for e in self.timeline.events(kind=EventKind.RUNTIME_IDLE)
                  if e.details.get("goroutines") is not None}
        history: dict[str, list[int]] = {name: [] for name, _ in self._sources}
        while time.monotonic() < deadline:
            for name, source in self._sources:
                try:
                    history[name].append(source.read().goroutines or -1)
                except SourceUnreadable:
                    history[name].append(-1)
            if all(_settled(counts, before.get(name)) for name, counts in history.items()):
                break
            time.sleep(poll_s)
        self.sample_now(EventKind.RUNTIME_IDLE)

    def sample_now(self, kind: EventKind = EventKind.RUNTIME_SAMPLE) -> None:
        """Record one reading of every source now (`runtime.idle` for the before/after-load pair)."""
        for name, source in self._sources:
            try:
                snap = source.read(creators=kind is EventKind.RUNTIME_IDLE)
            except SourceUnreadable:
                continue
            details: dict[str, Any] = {"via": source.via}
            if snap.goroutines is not None:
                details["goroutines"] = snap.goroutines
            if snap.heap_bytes is not None:
                details["heap_live_bytes"] = snap.heap_bytes
            if snap.creators and kind is EventKind.RUNTIME_IDLE:
                details["creators"] = dict(snap.creators)
            self.timeline.record(kind, name, **details)

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
