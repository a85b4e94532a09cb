"""A guided storm: which writes made the service show something new, and the follow-ups they earn.

During a `pattern: auto` storm the `Guide` judges each write's window (from the write to the next
one) once it closed `JUDGE_LAG_S` ago, so the load's results and the probes' reads are in: the
live watcher's rejections, the target's output lines, the load's status codes and latency, the
target's unasked exits (`chaos.injectors.novelty`). A site written alone (the exploring stage)
whose window shows a signal no earlier window showed is interesting: the write source queues its
follow-ups (`chaos.configs.followups`), written once every site was. Follow-ups that show
something new are counted, not followed up again.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass

from chaos.injectors.base import FaultOutcome
from chaos.injectors.live_watch import LiveWatcher
from chaos.injectors.novelty import LATENCY_MIN_REQUESTS, Novelty, describe, latency_tier, signals
from chaos.injectors.reload_sources import NextWrite
from chaos.platform.base import RunningTarget
from chaos.platform.observations import ExitRecord
from chaos.timeline import Timeline, now_ns, summarize

log = logging.getLogger("gochaos")

#: A write's window is judged this long after it closed: the load ships its results every 25 ms, the live
#: watcher polls every 20 ms.
JUDGE_LAG_S = 0.15
#: Windows are judged in batches at most this often: reading a chatty service's output costs with its length.
JUDGE_EVERY_S = 0.25
#: What the load saw in this long before the storm is not new (and sets the latency the storm is compared to).
BEFORE_S = 2.0
#: Fewer requests before the storm than this give no latency to compare with.
BEFORE_MIN_REQUESTS = 20
#: New signals kept per interesting write in the fault's details.
SIGNALS_KEPT = 5


@dataclass(frozen=True, slots=True)
class _Write:
    index: int
    t_ns: int
    site: str | None
    follows: str | None


def _how(exit: ExitRecord) -> str:
    """How a process ended, in a few words: its signal, the platform's reason, else its status."""
    return exit.signal or exit.reason or f"status {exit.returncode}"


class Guide:
    """Judges each write of one storm in order; `on_interesting(site)` when a site's write showed something new."""

    def __init__(self, target: RunningTarget, timeline: Timeline, watcher: LiveWatcher,
                 on_interesting: Callable[[str], object]) -> None:
        self.target, self.timeline, self.watcher, self.on_interesting = target, timeline, watcher, on_interesting
        started = now_ns()
        before = timeline.requests(started - int(BEFORE_S * 1e9), started)
        self._before_p99 = summarize(before, 0, 1).p99_ms if len(before) >= BEFORE_MIN_REQUESTS else None
        self._exits = len(target.exits())
        self.novelty = Novelty(signals(lines=(line.text for line in target.logs()),
                                       statuses=(r.status for r in before),
                                       request_errors=(r.error for r in before if r.error and not r.status)))
        self._pending: list[_Write] = []
        self._judged_ns = 0
        #: Each interesting site, with the new signals its write showed.
        self.interesting: dict[str, tuple[str, ...]] = {}
        #: How many follow-up writes there were, and each that showed something new, with what.
        self.follow_ups = 0
        self.follow_ups_new: dict[str, tuple[str, ...]] = {}
        #: Why judging stopped (None: it did not): a guide that fails leaves the storm to go on unguided.
        self.failed: str | None = None

    def wrote(self, index: int, t_ns: int, write: NextWrite) -> None:
        """Write `index` went out at `t_ns`: judge its window once it closed."""
        self._pending.append(_Write(index, t_ns, write.site, write.follows))
        self.follow_ups += write.follows is not None

    def update(self, *, final: bool = False) -> None:
        """Judge every window closed at least JUDGE_LAG_S ago (`final`: every window, the last up to now). An
        observer never breaks a storm: a failure is logged once and judging stops."""
        if self.failed is not None:
            return
        try:
            self._update(final)
        except Exception as e:  # reading a target's output or the load's results must not end the fault
            self.failed = f"{type(e).__name__}: {e}"
            log.warning("guided storm on %s: judging writes stopped (%s); the storm goes on unguided",
                        self.target.spec.name, self.failed)

    def _update(self, final: bool) -> None:
        now = now_ns()
        if not final and now - self._judged_ns < JUDGE_EVERY_S * 1e9:
            return
        ends = [w.t_ns for w in self._pending[1:]] + ([now] if final else [])
        ready = [end for end in ends if final or now - end >= JUDGE_LAG_S * 1e9]
        if not ready:
            return
        self._judged_ns = now
        lines = self.target.logs(self._pending[0].t_ns)
        fresh = self.target.exits()[self._exits:]
        for write, end in zip(self._pending, ready, strict=False):
            self._judge(write, end, [line.text for line in lines if write.t_ns <= line.t_ns < end],
                        [_how(e) for e in fresh if not e.requested and write.t_ns <= e.t_ns < end])
        self._exits += sum(1 for e in fresh if e.t_ns < ready[-1])
        del self._pending[:len(ready)]

    def _judge(self, write: _Write, end_ns: int, lines: list[str], exits: list[str]) -> None:
        requests = self.timeline.requests(write.t_ns, end_ns)
        p99 = summarize(requests, write.t_ns, end_ns).p99_ms if len(requests) >= LATENCY_MIN_REQUESTS else None
        new = self.novelty.judge(signals(
            rejected=write.index in self.watcher.rejected, lines=lines, statuses=(r.status for r in requests),
            request_errors=(r.error for r in requests if r.error and not r.status),
            tier=latency_tier(p99, self._before_p99), exits=exits))
        if not new or write.site is None:
            return
        if write.follows is not None:
            self.follow_ups_new[write.site] = new[:SIGNALS_KEPT]
        elif write.site not in self.interesting:
            self.interesting[write.site] = new[:SIGNALS_KEPT]
            self.on_interesting(write.site)

    def outcome(self, outcome: FaultOutcome, *, followed: bool) -> FaultOutcome:
        """`outcome` with the interesting sites and the follow-ups in its details; `followed` (the storm had rounds
        left after the sites): the follow-ups in its summary too."""
        details = {**outcome.details, "interesting_sites": {k: list(v) for k, v in self.interesting.items()},
                   "follow_ups": self.follow_ups,
                   "follow_ups_new": {k: list(v) for k, v in self.follow_ups_new.items()},
                   **({"guide_failed": self.failed} if self.failed else {})}
        summary = outcome.summary
        if followed:
            summary += f"; follow-ups: {self.follow_ups} of {len(self.interesting)} interesting sites"
            if self.follow_ups_new:
                first, new = next(iter(self.follow_ups_new.items()))
                summary += f", {len(self.follow_ups_new)} showed something new (first: {first}: {describe(new)})"
        return dataclasses.replace(outcome, summary=summary, details=details)
