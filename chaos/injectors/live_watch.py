"""What went live during a reload storm, observed through every probe the target offers.

The storm writes configs into a `WriteBook` (each with every name it may be reported by: its
version, a hash of its bytes, a hash of its canonical tree), and the `LiveWatcher` polls the
target's live probes every 20 ms: each change of what is live becomes a `reload.live` event naming
the write it matches, and each rejection the service reports (a log line, a failed-reload metric)
a `reload.rejected` event. Nothing is assumed: a write whose outcome nobody saw stays "not seen".
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass, field
from typing import Any

import requests

from chaos.configs.identity import content_hash, matches_name
from chaos.injectors.base import FaultOutcome, InjectionContext
from chaos.observe.live_probes import ConfigProbe, LiveProbe, LogProbe
from chaos.observe.probes import Seen, log_outcomes, read, why_silent
from chaos.platform.base import RunningTarget
from chaos.timeline import EventKind, now_ns

#: Poll period of the metric, endpoint and header probes (the issue's 25 ms bound on seeing a change).
POLL_S = 0.02
#: Outcome figure: per accepted write, ms from the write to the target serving it (when the fault landed).
LIVE_AFTER_MS = "live_after_ms"


@dataclass(frozen=True, slots=True)
class Written:
    """One config the storm wrote (index 0: the config the target started with)."""

    index: int
    t_ns: int
    #: Every string the service may report it by: version, sha256/sha512 of its bytes, content hash.
    names: frozenset[str]
    #: accept, reject or unknown: what the service must do with it.
    expect: str
    label: str
    tree_hash: str | None


def names_of(text: str, tree: Any, version: str | None) -> frozenset[str]:
    """The strings a service may report a config by (hashes in full and in the 16-digit short form; any
    prefix of at least MIN_HASH_PREFIX hex digits of a full hash matches too: `matches_name`)."""
    raw = text.encode("utf-8")
    names = {hashlib.sha256(raw).hexdigest(), hashlib.sha512(raw).hexdigest(), hashlib.md5(raw).hexdigest()}
    names |= {name[:16] for name in names}
    if tree is not None:
        names.add(content_hash(tree))
    if version is not None:
        names.add(version)
    return frozenset(names)


def identity_of(text: str, tree: Any, version: str | None) -> str:
    """How reports name a write: its version, else its content hash, else a hash of its bytes."""
    if version is not None:
        return version
    if tree is not None:
        return content_hash(tree)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


@dataclass
class WriteBook:
    """The storm's writes, in order, shared with the watcher (thread-safe)."""

    writes: list[Written] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, written: Written) -> None:
        with self._lock:
            self.writes.append(written)

    def latest(self) -> Written | None:
        with self._lock:
            return self.writes[-1] if self.writes else None

    def match(self, seen: Seen) -> Written | None:
        """The newest write `seen` names (its identity, or its whole tree's content hash)."""
        tree_hash = content_hash(seen.tree) if seen.tree is not None else None
        with self._lock:
            for written in reversed(self.writes):
                if seen.identity is not None and matches_name(seen.identity, written.names):
                    return written
                if tree_hash is not None and tree_hash == written.tree_hash:
                    return written
        return None


class LiveWatcher:
    """Polls every live probe of a target during a storm and records what it sees on the timeline."""

    def __init__(self, target: RunningTarget, ctx: InjectionContext, source: str, book: WriteBook,
                 interval_s: float = POLL_S) -> None:
        self.target, self.ctx, self.source, self.book, self.interval_s = target, ctx, source, book, interval_s
        self.probes: tuple[LiveProbe, ...] = target.spec.live_probes()
        #: Every identity seen live, with when it was first seen.
        self.seen: dict[str, int] = {}
        #: Index of every write seen live, with when it was first seen.
        self.live_writes: dict[int, int] = {}
        #: Index of every write the service was seen to reject.
        self.rejected: set[int] = set()
        #: The write the target was last seen serving (0: the one it started with), and its identity.
        self.current: int | None = None
        self.current_identity: str | None = None
        #: Probes that never answered, by kind (the fault says which failed).
        self.silent: set[str] = {p.kind for p in self.probes if not isinstance(p, LogProbe)}
        #: Probes (by position) that never showed a config, a reload or a rejection: a typo or a wrong path.
        self.unmatched: set[int] = set(range(len(self.probes)))
        #: A probe named a config the suite wrote (or started with): what it did not see live, it watched.
        self.identifying = False
        self.started_ns = 0
        #: What each kind of probe last said is live: (identity, index of the write it names or None).
        self.reported: dict[str, tuple[str, int | None]] = {}
        self._failures: dict[int, float] = {}
        self._unset: set[int] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="live-config", daemon=True)
        self._session = requests.Session()

    def __enter__(self) -> LiveWatcher:
        self.started_ns = now_ns()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
        self._session.close()

    def poll_once(self, last: dict[int, str | None], logs_since: list[int]) -> None:
        """Read every probe once; record what changed."""
        for number, probe in enumerate(self.probes):
            if isinstance(probe, LogProbe):
                self._read_logs(number, probe, logs_since)
                continue
            seen = read(self.target, probe, self._session)
            if seen is None:
                continue
            self.silent.discard(probe.kind)
            if seen.identity is not None or seen.tree is not None or seen.marker is not None:
                self.unmatched.discard(number)
            latest = self.book.latest()
            if (seen.identity is not None and not getattr(probe, "moves", False) and latest is not None
                    and latest.index > 0 and latest.index not in self.live_writes
                    and matches_name(seen.identity, latest.names)):
                self._served(latest, seen.identity, probe)  # before the reload flag: served beats refused
            failures = seen.reloads.failures
            if failures is not None:
                before = self._failures.setdefault(number, failures)
                if failures > before and latest is not None and latest.index > 0:
                    self._failures[number] = failures
                    self._rejected(latest, probe.kind, f"the failed-reload counter rose to {failures:g}")
            if seen.reloads.ok is False and latest is not None and latest.index not in self.rejected \
                    and latest.index not in self.live_writes:
                self._rejected(latest, probe.kind, "the failed-reload metric says so")
            if seen.identity is not None and not getattr(probe, "moves", False):
                self.reported[probe.kind] = (seen.identity, _index(self.book.match(seen)))
            if getattr(probe, "moves", False):
                if seen.marker is None:
                    self._unset.add(number)  # e.g. a reload-version metric that appears with the first reload
                elif number not in last and number not in self._unset:
                    last[number] = seen.marker  # what it showed before the storm
                elif last.get(number) != seen.marker:
                    last[number] = seen.marker
                    self._moved(seen.marker, probe)
                continue
            key = seen.identity if seen.identity is not None else (
                content_hash(seen.tree) if seen.tree is not None else None)
            if key is None or key == last.get(number):
                continue
            last[number] = key
            self._live(seen, key, probe)

    def _run(self) -> None:
        last: dict[int, str | None] = {}
        logs_since = [self.started_ns]
        while not self._stop.wait(self.interval_s):
            self.poll_once(last, logs_since)

    def _live(self, seen: Seen, key: str, probe: LiveProbe) -> None:
        written = self.book.match(seen)
        identified = written is not None
        self.identifying |= identified
        latest = self.book.latest()
        if written is None and key not in self.seen and latest is not None and latest.index > 0:
            written = latest  # a new identity the suite cannot name (the service hashes its own way): a reload
        event = self.ctx.timeline.record(
            EventKind.RELOAD_LIVE, self.source, target=self.target.spec.name, version=key,
            write=written.index if written else None, via=probe.kind, identified=identified,
            **({"tree": seen.tree} if isinstance(probe, ConfigProbe) and not identified else {}))
        self.seen.setdefault(key, event.t_ns)
        self.current, self.current_identity = (written.index if written else None), key
        self.reported[probe.kind] = (key, written.index if written else None)
        if written is not None:
            self.live_writes.setdefault(written.index, event.t_ns)

    def _served(self, written: Written, identity: str, probe: LiveProbe) -> None:
        """The newest write is what the target serves, though its identity did not change: the same config
        written again (a toggle back, an unchanged write). One observation per write, so each counts."""
        event = self.ctx.timeline.record(EventKind.RELOAD_LIVE, self.source, target=self.target.spec.name,
                                         version=identity, write=written.index, via=probe.kind, identified=True)
        self.identifying = True
        self.current, self.current_identity = written.index, identity
        self.live_writes.setdefault(written.index, event.t_ns)

    def _moved(self, marker: str, probe: LiveProbe) -> None:
        """A reload timestamp or counter moved: the service took a config, most likely the newest write."""
        latest = self.book.latest()
        if latest is None or latest.index == 0:
            return
        event = self.ctx.timeline.record(EventKind.RELOAD_LIVE, self.source, target=self.target.spec.name,
                                         version=marker, write=latest.index, via=probe.kind, identified=False)
        self.current, self.current_identity = latest.index, marker
        self.live_writes.setdefault(latest.index, event.t_ns)

    def _read_logs(self, number: int, probe: LogProbe, since: list[int]) -> None:
        for outcome in log_outcomes(self.target, probe, since[0]):
            since[0] = max(since[0], outcome.t_ns + 1)
            self.unmatched.discard(number)
            if outcome.accepted:
                if outcome.identity is not None:
                    self._live(Seen(identity=outcome.identity), outcome.identity, probe)
                else:  # "reload ok" that names no config: the service took one, most likely the newest
                    self._moved(f"log@{outcome.t_ns}", probe)
                continue
            named = self.book.match(Seen(identity=outcome.identity)) if outcome.identity else None
            written = named or self.book.latest()
            if written is not None and (written.index not in self.rejected or named is not None):
                self._rejected(written, "log", outcome.line.strip()[:300], t_ns=outcome.t_ns,
                               identified=named is not None)

    def _rejected(self, written: Written, via: str, why: str, t_ns: int | None = None,
                  identified: bool = False) -> None:
        """Record a rejection; `identified`: the service named the write (else: the newest write is assumed,
        which a write racing the report can make wrong, so oracles judge only identified ones)."""
        self.rejected.add(written.index)
        self.ctx.timeline.record(EventKind.RELOAD_REJECTED, self.source, t_ns=t_ns, target=self.target.spec.name,
                                 write=written.index, via=via, why=why, identified=identified)


def _index(written: Written | None) -> int | None:
    return written.index if written is not None else None


def disagreement(reported: dict[str, tuple[str, int | None]]) -> str | None:
    """Two probes naming different configs as live, in words (None: they agree, or cannot be compared).

    Probes agree when they name the same write; otherwise (one of them not tied to a write, e.g. a hash
    the service computes its own way) their identities are compared when they are the same kind of
    string (same length).
    """
    items = sorted(reported.items())
    for i, (kind_a, (id_a, write_a)) in enumerate(items):
        for kind_b, (id_b, write_b) in items[i + 1:]:
            if write_a is not None and write_b is not None:
                if write_a != write_b:
                    return (f"{kind_a} says write #{write_a} ({id_a[:16]}) is live, {kind_b} says write #{write_b} "
                            f"({id_b[:16]})")
                continue
            # one or both not tied to a write (yet): their own identities still tell, when alike in kind
            if id_a != id_b and len(id_a) == len(id_b) >= 16:
                return f"{kind_a} says {id_a} is live, {kind_b} says {id_b}"
    return None


def expected_live(book: WriteBook, watcher: LiveWatcher) -> Written:
    """The write the target must serve at the end of the storm: the last one it must accept, or the last
    of unknown validity it was seen to take."""
    expected = book.writes[0]
    for written in book.writes[1:]:
        if written.expect == "accept" or (written.expect == "unknown" and written.index in watcher.live_writes):
            expected = written
    return expected


def storm_outcome(book: WriteBook, watcher: LiveWatcher, expected: Written, live: str | None,
                  intervals: list[float], last_valid: str | None, *, probe_fix: str = "") -> FaultOutcome:
    """Did the storm land: what the probes saw of the writes, as the fault's outcome and figures.

    Only observations count: a target with no live probe, or with a probe that never showed a config
    (a typo, a wrong path), has writes of unknown outcome, and the fault did not land (inconclusive,
    with the fix). Each write has exactly one fate: live, rejected, or not seen.
    """
    writes = book.writes[1:]
    fates = write_fates(book, watcher)
    accepted = sorted(i for i, fate in fates.items() if fate == LIVE)
    first_write_ns = writes[0].t_ns if writes else 0
    details: dict[str, Any] = {
        "writes": len(writes), "last_valid_version": last_valid, "live_version": live,
        "expected_write": expected.index, "live_write": watcher.current, "valid_versions_seen_live": len(accepted),
        "writes_seen_live": accepted, "writes_seen_rejected": sorted(i for i, f in fates.items() if f == REJECTED),
        "writes_not_seen": sorted(i for i, f in fates.items() if f == NOT_SEEN),
        "achieved_intervals_ms": [round(i, 2) for i in intervals],
        # from the write to the target serving it: when the pod saw it
        LIVE_AFTER_MS: [round((watcher.live_writes[i] - book.writes[i].t_ns) / 1e6, 1) for i in accepted
                        if watcher.live_writes[i] >= first_write_ns],
        "probe_failures": sorted(watcher.silent),
        "watched": watcher.identifying,
    }
    name = watcher.target.spec.name
    if not watcher.probes:
        return FaultOutcome(False, f"{len(writes)} writes, but nothing shows which config {name} runs: it has no "
                                   f"live probe, so no write's outcome was observed; {probe_fix}", details)
    blind = [why_silent(watcher.target, watcher.probes[i]) for i in sorted(watcher.unmatched)]
    if blind:
        details["probes_never_matched"] = blind
        return FaultOutcome(False, f"{len(writes)} writes, but {len(blind)} live probe(s) of {name} never showed a "
                                   f"config: {'; '.join(blind)}; fix the probe", details)
    rejected = details["writes_seen_rejected"]
    if accepted or (live is not None and expected.index > 0 and watcher.current == expected.index):
        return FaultOutcome(True, f"{len(writes)} writes; the target went live with {len(accepted)} of them "
                                  f"and rejected {len(rejected)}; {len(details['writes_not_seen'])} not seen; "
                                  f"serves {live}", details)
    if writes and rejected and all(w.expect != "accept" for w in writes):
        return FaultOutcome(True, f"{len(writes)} invalid writes, {len(rejected)} seen rejected by the target; "
                                  f"serves {live}", details)
    if writes and all(w.label == "unchanged" for w in writes) and live is not None:
        return FaultOutcome(True, f"{len(writes)} reloads of the unchanged config; still serves {live}", details)
    serving = f"it still serves {live}" if live is not None else "no probe named a live config at the end"
    return FaultOutcome(False, f"{len(writes)} writes, but the target was seen to take none of them; {serving}",
                        details)


#: The one fate each write has, as observed.
LIVE, REJECTED, NOT_SEEN = "live", "rejected", "not seen"


def write_fates(book: WriteBook, watcher: LiveWatcher) -> dict[int, str]:
    """Each storm write's fate: live (seen served) beats rejected (seen refused); else not seen."""
    return {w.index: LIVE if w.index in watcher.live_writes else REJECTED if w.index in watcher.rejected
            else NOT_SEEN for w in book.writes[1:]}


def probe_fix(tree: Any, version_key: str | None) -> str:
    """The one-line fix for a target whose writes nobody could see: its version key, else a probe."""
    if version_key is None and isinstance(tree, dict):
        for key, value in tree.items():
            if str(key).lower() in VERSION_KEYS and isinstance(value, (str, int, float)):
                return (f"its config has a version field: declare `version_key: {key}` and a probe that shows it "
                        "(a response header, a JSON field or a metric)")
    return ("add a `live` probe: a metric naming the config (e.g. {kind: metrics, metric: app_config_info, label: "
            "hash}), a response header, a JSON field, the whole config (kind: config), or its reload log lines "
            "(kind: log, accepted/rejected regexes)")


#: Top-level config keys that hold a config's version.
VERSION_KEYS = frozenset({"version", "config_version", "revision", "generation", "serial"})


def serves(watcher: LiveWatcher, wanted: Written) -> bool:
    """Is the target seen serving `wanted`: its write, or a config known by one of its names?"""
    return watcher.current == wanted.index or (
        watcher.current_identity is not None and matches_name(watcher.current_identity, wanted.names))


def stuck_reload(book: WriteBook, watcher: LiveWatcher, expected: Written, settle_ms: int) -> str | None:
    """A write the target must take that never went live while its probes named what it served: a stuck
    or lost reload, in words. None when it went live, when nothing could tell, or when a write since the
    last one it took was one it must (or was seen to) refuse: a service may pause its reloads after
    invalid configs (a reload circuit breaker), and that is not a stuck reload."""
    if expected.index == 0 or expected.expect != "accept" or not watcher.identifying:
        return None
    if watcher.current_identity is None or serves(watcher, expected):
        return None
    taken = max(watcher.live_writes, default=0)
    pending = [w for w in book.writes if taken < w.index <= expected.index]
    if any(w.expect != "accept" or w.index in watcher.rejected for w in pending):
        return None
    since = book.writes[min(taken + 1, expected.index)].t_ns
    lines = [line.text.strip() for line in watcher.target.logs(since)]
    about = [text for text in lines if any(w in text.lower() for w in ("reload", "config", "sighup", "hup"))]
    said = f"its last log line about it: {(about or lines)[-1][:200]!r}" if lines else "it logged nothing since"
    return (f"write #{expected.index} ({expected.label}), which it must take, was not live {settle_ms} ms after the "
            f"storm while its probes answered: a stuck or lost reload; {watcher.target.spec.name} still serves "
            f"write #{watcher.current} ({watcher.current_identity}); {said}")
