"""One clock and one record of a run: events and request results that oracles query by window.

Everything that happens in a run lands here stamped with `now_ns()` (wall-clock nanoseconds, the
same clock Go's log timestamps and Locust's child process use), so a reload write, a crash line in
a log and a burst of failed requests line up to the millisecond. Injectors and the platform write;
oracles and reports read. Neither side imports the other.
"""

from __future__ import annotations

import bisect
import enum
import heapq
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ddsketch import DDSketch

from chaos.suggest import did_you_mean

#: Relative accuracy of latency quantiles (1% of the value).
QUANTILE_ACCURACY = 0.01


def now_ns() -> int:
    """The run's single clock: wall-clock nanoseconds since the epoch."""
    return time.time_ns()


class EventFamily(enum.StrEnum):
    """What an event is about: the part of its kind before the dot, for `Timeline.events(family=...)`."""

    FAULT = "fault"
    RELOAD = "reload"
    GC = "gc"
    TARGET = "target"
    ETCD = "etcd"
    LOAD = "load"
    RUNTIME = "runtime"
    NETWORK = "network"


class EventKind(enum.StrEnum):
    """Every kind of event a run records, named once so producers and readers cannot drift apart.

    Values are dotted, family first, and go into report.json as they are. `source` is who the
    event is about (an injector, a target, an etcd member, ``etcd``, ``load``); the comment of each
    kind says when it is recorded and which `details` keys it carries.
    """

    #: An injector's fault is about to be injected (`run_fault`; source: the injector).
    #: details: fault_id, target (None for cluster-wide faults), params (the validated
    #: parameters), healthy (the target's readiness answer before; None without a probe); or,
    #: for a fault the platform cannot do, unavailable (the one-line reason) instead of healthy.
    FAULT_START = "fault.start"
    #: The fault was injected and reverted, whatever happened (source: the injector).
    #: details: fault_id, target, landed (the injector's proof it took effect), healthy (after);
    #: target_down (what found the target not running: the fault or its revert), only when it was.
    FAULT_END = "fault.end"

    #: reload_storm wrote the target's config, at the instant the write began (source: the
    #: injector). details: target, version (the config's identity: its version, else its content
    #: hash), valid (the target must accept it), mutation (the label written: value, structural,
    #: invalid, syntax, type-break, unchanged, or ``revert`` for the original put back), mode (the
    #: write mode); and for writes of a user's config: write (index, 1-based), expect (accept,
    #: reject or unknown), names (every string the service may report it by), changes (the
    #: path-level diff), origin (auto, variant:NAME, configd, syntax, unchanged), trigger_only, site
    #: (the mutation site written, `path:operator`, under `pattern: auto`) and follows (the interesting
    #: site a guided follow-up write follows).
    RELOAD_WRITE = "reload.write"
    #: A write's reload trigger did not reach the target (source: the injector): the HTTP reload
    #: endpoint did not answer, or the process was not running to take its SIGHUP. details: target,
    #: error, target_down (the target was not running: it crashed, exited or is restarting).
    RELOAD_TRIGGER_FAILED = "reload.trigger_failed"
    #: The target was seen serving another version than at the previous poll during a storm
    #: (source: the injector). details: target, version (the identity seen), write (index of the
    #: write it matches, None: none), via (the probe kind: header, json, metrics, config, log);
    #: identified False when a reload counter or timestamp moved (the newest write is assumed).
    RELOAD_LIVE = "reload.live"
    #: The target reported rejecting a write (source: the injector). details: target, write
    #: (index), via (log or metrics), why (the log line, or what the metric said), identified (the
    #: service named the write; else the newest write was assumed).
    RELOAD_REJECTED = "reload.rejected"
    #: The end of a storm, before the original config is put back: what is live then
    #: (source: the injector). details: target, live (identity, None: unreadable), write (index
    #: matched), expected (index of the newest write it was seen to take: what it must still serve),
    #: awaited (the last write it had to accept, waited for up to settle_ms), probe_failures,
    #: reported (what each probe kind last said is live: identity and write), disagreement, fates
    #: (write index -> live, rejected or not seen: each write's one observed fate), watched (a probe
    #: named a config the suite wrote, so a write it never showed live was watched, not unknown).
    RELOAD_SETTLED = "reload.settled"

    #: gc_pressure applied its pressure and begins holding it (source: the injector). details:
    #: target, method, and what that method applied: agent_actions (agent), env (env: GOGC and/or
    #: GOMEMLIMIT as set), cgroups (cgroup: the limited groups), hog (hog: where it runs).
    GC_PRESSURE = "gc.pressure"

    #: A target process or pod started (source: the target). The first one per target is the
    #: run's setup, with port (and pid locally; namespace on Kubernetes). A requested restart
    #: carries requested=True and env (the variables changed); a restart by the supervisor or the
    #: kubelet after an exit carries requested=False, incarnation, restarts (and pod on Kubernetes).
    #: pid is None on Kubernetes; a deployed service found on a cluster carries deployed (KIND/NAME)
    #: and kill_switch (the command that aborts the run).
    TARGET_START = "target.start"
    #: The target passed its readiness check after a start (source: the target). details: pid
    #: (None on Kubernetes).
    TARGET_READY = "target.ready"
    #: A target process or container exited, stamped when it did (source: the target). details:
    #: pid (None on Kubernetes), returncode, signal (its name, or None), requested (False: a crash),
    #: incarnation; on Kubernetes also reason (e.g. ``OOMKilled``, ``pod deleted``, else None).
    TARGET_EXIT = "target.exit"
    #: The platform stopped the target for good (the run's end, or a start that failed). No details.
    TARGET_STOP = "target.stop"

    #: The etcd members were launched, before they serve (source: ``etcd``). details: members
    #: (their names); on Kubernetes also namespace.
    ETCD_START = "etcd.start"
    #: A member was SIGKILLed (source: the member). No details.
    ETCD_KILL = "etcd.kill"
    #: A member's pod was deleted; Kubernetes only (source: the member). No details.
    ETCD_DELETE = "etcd.delete"
    #: A killed or deleted member answers again (source: the member). No details.
    ETCD_RESTART = "etcd.restart"
    #: A member was SIGSTOPped (source: the member). No details.
    ETCD_PAUSE = "etcd.pause"
    #: A paused member was SIGCONTed (source: the member). No details.
    ETCD_RESUME = "etcd.resume"
    #: A member's peer traffic was cut both ways (source: the member). No details.
    ETCD_ISOLATE = "etcd.isolate"
    #: An isolated member's peer traffic flows again (source: the member). No details.
    ETCD_HEAL = "etcd.heal"
    #: The leader is being taken out on purpose, just before it is (source: ``etcd``). details:
    #: operation (``move-leader``, ``kill-leader``, ``pause-leader``, ...), leader (the old one).
    ETCD_LEADER_LOST = "etcd.leader_lost"
    #: A leader of a later term was seen, stamped when it was (source: ``etcd``). details: leader,
    #: previous, operation, term.
    ETCD_LEADER = "etcd.leader"

    #: Request results flow from Locust, stamped when its processes were launched (source:
    #: ``load``). details: user (the user class reference), users, workers, host.
    LOAD_START = "load.start"
    #: Locust's processes ended and their results were drained (source: ``load``). details:
    #: records (request results received), complete (Locust's own totals arrived), requests and
    #: failures (results received, and failed ones, by request name such as ``GET /hello``).
    LOAD_STOP = "load.stop"

    #: A runtime reading once goroutine counts settled (or the wait ran out), before the load and
    #: after it: the leak oracle's before/after pair (source: the target). details: via (chaosagent,
    #: prometheus URL or pprof URL), goroutines, heap_live_bytes (each only when the source has
    #: it), creators (pprof: goroutines by the function that created them).
    RUNTIME_IDLE = "runtime.idle"
    #: A periodic runtime reading during the run (source: the target). details: as RUNTIME_IDLE,
    #: without creators.
    RUNTIME_SAMPLE = "runtime.sample"

    #: A link was routed through chaosproxy as the run started (source: the link's name, e.g.
    #: ``etcd-peer.m0``). details: link (etcd-client, etcd-peer, load or upstream), target (None for
    #: etcd-peer), member (etcd links), listen (the proxy's address the link is reached at), upstream
    #: (where it forwards), protocol (tcp or udp), proxy_pid.
    NETWORK_LINK = "network.link"
    #: The `network` injector put its fault on its links (source: the injector). details: link (the
    #: kind), links (their names), target, member (etcd links: the member named, or the leader's name
    #: when `leader` was asked for), fault (as the proxy took it: kind, direction, latency_ms, ...),
    #: applied_ns (when the proxy applied it, on the run's clock).
    NETWORK_FAULT_APPLIED = "network.fault_applied"
    #: The `network` injector took its fault off its links again, in its revert (source: the injector).
    #: details: link, links, target, member, removed (the faults the proxy took off), removed_ns, and
    #: the figures of what the fault did: configured and observed (added latency, shares discarded or
    #: dropped, connections reset or refused, throughput), counts (the proxy's counters over the fault).
    NETWORK_FAULT_REMOVED = "network.fault_removed"

    @property
    def family(self) -> EventFamily:
        return EventFamily(self.value.partition(".")[0])

    @classmethod
    def parse(cls, text: str) -> EventKind:
        """The kind a report or a captured run names; ValueError naming the valid kinds otherwise."""
        try:
            return cls(text)
        except ValueError:
            raise ValueError(f"unknown event kind {text!r}{did_you_mean(text, cls)}") from None


@dataclass(frozen=True, slots=True)
class Event:
    """Something that happened at one instant: a fault step, a process exit, a leader change."""

    #: When, on the run's clock (`now_ns`), or when it was observed to have happened.
    t_ns: int
    kind: EventKind
    #: Who it happened to or who did it: a target, an etcd member, an injector.
    source: str
    #: The keys each kind carries are listed at its `EventKind` member.
    details: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.kind, EventKind):  # a plain string has no family, and may name no kind at all
            raise TypeError(f"event kind {self.kind!r} is not an EventKind; strings read back from a report "
                            "go through EventKind.parse")


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """One request the load generator made, as the oracles need it."""

    t_ns: int
    latency_ms: float
    ok: bool
    name: str = ""
    status: int = 0
    error: str | None = None
    version: str | None = None
    #: Key a keyed request wrote or read (write/read-pair users such as kvd's), else None.
    key: str | None = None
    #: Write: the value written. Read: the value this user last wrote and had acknowledged.
    expected: str | None = None
    #: Read: the value the service returned (None for writes and failed reads).
    observed: str | None = None


@dataclass(frozen=True, slots=True)
class WindowStats:
    """Request statistics over `[start_ns, end_ns)`, with quantiles from a mergeable sketch."""

    start_ns: int
    end_ns: int
    count: int
    errors: int
    p50_ms: float | None
    p99_ms: float | None
    max_ms: float | None

    @property
    def error_rate(self) -> float:
        return self.errors / self.count if self.count else 0.0

    @property
    def rps(self) -> float:
        seconds = (self.end_ns - self.start_ns) / 1e9
        return self.count / seconds if seconds > 0 else 0.0


class Timeline:
    """Thread-safe, append-mostly record of events and requests, queried by time window."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._events: list[Event] = []
        self._requests: list[RequestRecord] = []
        self._request_times: list[int] = []

    # -- writing ---------------------------------------------------------------------------
    def record(self, kind: EventKind, source: str, t_ns: int | None = None, **details: Any) -> Event:
        """Stamp an event now (or at `t_ns`, for events observed after the fact) and keep it."""
        event = Event(t_ns if t_ns is not None else now_ns(), kind, source, dict(details))
        with self._lock:
            self._events.append(event)
        return event

    def add_requests(self, records: Iterable[RequestRecord]) -> None:
        """Add request results; they may arrive slightly out of order from the load process.

        Each batch is sorted and merged into the tail it overlaps, so the record stays in time
        order at the cost of the (short) overlap, not of the whole run.
        """
        batch = sorted(records, key=lambda r: r.t_ns)
        if not batch:
            return
        with self._lock:
            cut = bisect.bisect_right(self._request_times, batch[0].t_ns)
            if cut < len(self._requests):
                batch = list(heapq.merge(self._requests[cut:], batch, key=lambda r: r.t_ns))
                del self._requests[cut:]
                del self._request_times[cut:]
            self._requests.extend(batch)
            self._request_times.extend(r.t_ns for r in batch)

    # -- reading ---------------------------------------------------------------------------
    def events(
        self, kind: EventKind | None = None, since_ns: int | None = None, until_ns: int | None = None,
        *, family: EventFamily | None = None,
    ) -> list[Event]:
        """Events in time order, filtered by kind, by family, and by window `[since_ns, until_ns)`."""
        with self._lock:
            events = sorted(self._events, key=lambda e: e.t_ns)
        return [
            e
            for e in events
            if (kind is None or e.kind == kind)
            and (family is None or e.kind.family == family)
            and (since_ns is None or e.t_ns >= since_ns)
            and (until_ns is None or e.t_ns < until_ns)
        ]

    def requests(self, start_ns: int | None = None, end_ns: int | None = None) -> list[RequestRecord]:
        """Request records started in `[start_ns, end_ns)`, in time order."""
        with self._lock:
            lo = 0 if start_ns is None else bisect.bisect_left(self._request_times, start_ns)
            hi = (
                len(self._request_times)
                if end_ns is None
                else bisect.bisect_left(self._request_times, end_ns)
            )
            return self._requests[lo:hi]

    def window(self, start_ns: int, end_ns: int) -> WindowStats:
        """Counts, errors and latency quantiles of the requests started in the window."""
        return summarize(self.requests(start_ns, end_ns), start_ns, end_ns)

    def buckets(self, width_ms: int = 100, start_ns: int | None = None,
                end_ns: int | None = None) -> list[WindowStats]:
        """Consecutive fixed-width windows covering the requests (empty windows included)."""
        records = self.requests(start_ns, end_ns)
        if not records:
            return []
        times = [r.t_ns for r in records]
        width_ns = width_ms * 1_000_000
        origin = start_ns if start_ns is not None else records[0].t_ns
        last = end_ns if end_ns is not None else records[-1].t_ns + 1
        out: list[WindowStats] = []
        index = 0
        t = origin
        while t < last:
            upper = min(t + width_ns, last)
            chunk_end = bisect.bisect_left(times, upper, lo=index)
            out.append(summarize(records[index:chunk_end], t, upper))
            index = chunk_end
            t = upper
        return out

    def first_healthy_window(
        self,
        start_ns: int,
        end_ns: int,
        hold_ms: int,
        healthy: Callable[[WindowStats], bool],
        step_ms: int = 100,
    ) -> int | None:
        """First t in [start_ns, end_ns - hold), probed every `step_ms`, whose window [t, t + hold)
        `healthy` accepts as a whole; None when no such window fits before `end_ns`."""
        hold_ns, step_ns = hold_ms * 1_000_000, step_ms * 1_000_000
        for t in range(start_ns, end_ns - hold_ns + 1, step_ns):
            if healthy(self.window(t, t + hold_ns)):
                return t
        return None

def summarize(records: list[RequestRecord], start_ns: int, end_ns: int) -> WindowStats:
    """Exact counts and sketch quantiles of `records` (never averages of percentiles)."""
    sketch = DDSketch(relative_accuracy=QUANTILE_ACCURACY)
    errors = 0
    for record in records:
        sketch.add(max(record.latency_ms, 1e-3))
        if not record.ok:
            errors += 1
    if not records:
        return WindowStats(start_ns, end_ns, 0, 0, None, None, None)
    return WindowStats(
        start_ns,
        end_ns,
        len(records),
        errors,
        sketch.get_quantile_value(0.50),
        sketch.get_quantile_value(0.99),
        max(r.latency_ms for r in records),
    )
