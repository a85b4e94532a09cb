"""Where a target's goroutine count and heap can be read: whatever the service already exposes.

A service that links chaosagent is read through it; any other Go service is read from what it
serves on its ports: Prometheus text with the Go collector's `go_goroutines` and
`go_memstats_heap_alloc_bytes` (client_golang's default registry has both), or net/http/pprof's
`/debug/pprof/goroutine`, whose full dump (`debug=2`) also says which function created each
goroutine, so a leak is named by its creator as goleak does. `find_source` tries them in that
order on every port of the target and keeps the first that answers.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

import requests

from chaos.chaosagent import agent_for
from chaos.errors import InjectionFailed
from chaos.platform.base import Endpoint, RunningTarget

TIMEOUT_S = 1.0
_METRIC = re.compile(r"^(go_goroutines|go_memstats_heap_alloc_bytes)(?:\{[^}]*\})?\s+(\S+)", re.MULTILINE)
_GOROUTINE = re.compile(r"^goroutine \d+ \[", re.MULTILINE)
_CREATED_BY = re.compile(r"^created by (\S+?)(?: in goroutine \d+)?$", re.MULTILINE)


class SourceUnreadable(Exception):
    """The source did not answer this time (the target may be restarting): a gap, not an error."""


class PortUnreachable(SourceUnreadable):
    """Nothing answered HTTP on that port at all (a DNS or raw TCP port): no other path is tried there."""


@dataclass(frozen=True, slots=True)
class RuntimeSnapshot:
    """One reading: goroutines (None: this source has no count), live heap bytes (None: no heap)."""

    goroutines: int | None
    heap_bytes: int | None
    #: Goroutines by the function that created them (pprof, or chaosagent when asked; else empty).
    creators: Mapping[str, int] = field(default_factory=dict)


class RuntimeSource(Protocol):
    @property
    def via(self) -> str:
        """How it is read, for reports: chaosagent, prometheus URL or pprof URL."""


    def read(self, *, creators: bool = False) -> RuntimeSnapshot:
        """One reading; `creators` asks for goroutines by creating function where that costs extra."""


@dataclass(frozen=True, slots=True)
class AgentSource:
    target: RunningTarget
    via: str = "chaosagent"

    def read(self, *, creators: bool = False) -> RuntimeSnapshot:
        agent = agent_for(self.target)
        if agent is None:
            raise SourceUnreadable("chaosagent is off")
        try:
            snap = agent.runtime(creators=creators)
        except InjectionFailed as e:
            raise SourceUnreadable(str(e)) from e
        return RuntimeSnapshot(int(snap.get("goroutines", 0)), int(snap.get("heap_live_bytes", 0)),
                               {str(fn): int(n) for fn, n in (snap.get("creators") or {}).items()})


@dataclass(frozen=True, slots=True)
class HttpSource:
    """A page the service serves about its runtime, read by `parse` (None: the page does not hold it)."""

    kind: str
    url: str
    parse: Callable[[str], RuntimeSnapshot | None]

    @property
    def via(self) -> str:
        return f"{self.kind} {self.url}"

    def read(self, *, creators: bool = False) -> RuntimeSnapshot:
        snapshot = self.parse(_get(self.url))  # a pprof page holds the creators anyway
        if snapshot is None:
            raise SourceUnreadable(f"{self.url} shows no goroutine count")
        return snapshot


def from_prometheus(text: str) -> RuntimeSnapshot | None:
    """Goroutines and heap from the Go collector's samples; None without `go_goroutines`."""
    found = dict(_METRIC.findall(text))
    if "go_goroutines" not in found:
        return None
    heap = found.get("go_memstats_heap_alloc_bytes")
    return RuntimeSnapshot(int(float(found["go_goroutines"])), int(float(heap)) if heap else None)


def from_goroutine_dump(dump: str) -> RuntimeSnapshot | None:
    """Goroutines, and how many each function created, from a `debug=2` dump (the page is read with
    `?debug=2`); None if it lists none."""
    total = len(_GOROUTINE.findall(dump))
    if total == 0:
        return None
    return RuntimeSnapshot(total, None, dict(Counter(_CREATED_BY.findall(dump))))


def find_source(target: RunningTarget) -> RuntimeSource | None:
    """The first runtime source the target answers on: chaosagent, Prometheus, then pprof; None if none."""
    if agent_for(target) is not None:
        return AgentSource(target)
    for endpoint in _endpoints(target):
        candidates = (HttpSource("prometheus", endpoint.url + "/metrics", from_prometheus),
                      HttpSource("pprof", endpoint.url + "/debug/pprof/goroutine?debug=2", from_goroutine_dump))
        for source in candidates:
            try:
                source.read()
            except PortUnreachable:
                break
            except SourceUnreadable:
                continue
            return source
    return None


def _endpoints(target: RunningTarget) -> list[Endpoint]:
    found = [target.endpoint]
    for port in target.spec.ports:
        try:
            found.append(target.endpoint_for(port))
        except Exception:
            continue
    return found


def _get(url: str) -> str:
    try:
        response = requests.get(url, timeout=TIMEOUT_S)
    except requests.RequestException as e:
        raise PortUnreachable(f"{url}: {e}") from e
    if response.status_code != 200:
        raise SourceUnreadable(f"{url}: HTTP {response.status_code}")
    return response.text
