"""What a service showed around one action (a config write, a signal, a POST): new output lines, metrics and
JSON fields that moved, whether it survived. `gochaos init` judges every reload method by this alone.

The written config's digests (sha256, sha512, md5 of its bytes, as `chaos.injectors.live_watch` names
every write) are looked for in what moved: a service that reports the hash of the file it loaded
can be told WHICH config is live, not only that a reload happened.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import requests

from chaos.init import log_patterns, metrics_probe
from chaos.init.launch import Launched
from chaos.init.metrics_probe import CONFIG_ISH, RUNTIME, Moved, Sample
from chaos.ports import LOOPBACK
from chaos.timeline import now_ns

POLL_S = 0.2
#: After the first sign of a reload, how long to keep watching (a second line, a metric that follows).
SETTLE_S = 0.6
TIMEOUT_S = 1.0


def digests(text: str) -> list[str]:
    """The hex digests a service may name its config by, longest first."""
    raw = text.encode("utf-8")
    return [hashlib.sha512(raw).hexdigest(), hashlib.sha256(raw).hexdigest(), hashlib.md5(raw).hexdigest()]


def names_hash(value: str, hashes: list[str]) -> str | None:
    """The digest (of `hashes`) `value` contains, in full or as a prefix of at least 16 hex digits."""
    lowered = value.lower()
    for digest in hashes:
        if digest in lowered:
            return digest
        for size in (32, 16):
            if digest[:size] in lowered:
                return digest[:size]
    return None


@dataclass(frozen=True)
class HttpPort:
    """An HTTP port's metrics and JSON endpoints, read before and after each action."""

    port: int
    metrics_path: str | None
    json_paths: tuple[str, ...]


@dataclass
class Snapshot:
    metrics: dict[int, list[Sample]] = field(default_factory=dict)
    #: (port, path) -> flattened config-ish scalar fields.
    json: dict[tuple[int, str], dict[str, str]] = field(default_factory=dict)


@dataclass
class FieldMove:
    """A JSON field that changed."""

    port: int
    path: str
    key: str
    before: str | None
    after: str


@dataclass
class Observation:
    """What one action showed."""

    action: str
    written: str | None
    hashes: list[str]
    lines: list[str] = field(default_factory=list)
    metrics: dict[int, list[Moved]] = field(default_factory=dict)
    json: list[FieldMove] = field(default_factory=list)
    died: str | None = None
    waited_s: float = 0.0
    #: From the action to the first sign of it (None: no sign).
    latency_s: float | None = None

    @property
    def reload_lines(self) -> list[str]:
        return log_patterns.reload_lines(self.lines)

    @property
    def failure_lines(self) -> list[str]:
        return log_patterns.failure_lines(self.lines)

    @property
    def showed(self) -> bool:
        """Did anything speak of the config: a reload or failure line, a metric or JSON field that moved?"""
        return bool(self.reload_lines or self.failure_lines or any(self.metrics.values()) or self.json)

    def summary(self) -> str:
        """One line on what it showed, for the scenario's comments."""
        if self.died:
            return self.died
        parts: list[str] = []
        if self.reload_lines or self.failure_lines:
            line = (self.failure_lines or self.reload_lines)[0].strip()
            parts.append(f"log: {line[:110]!r}")
        for port, moves in self.metrics.items():
            for move in moves[:2]:
                what = f"{move.name}{{{move.label}}}" if move.label else move.name
                parts.append(f"metric {what} moved on :{port}")
        for field_move in self.json[:2]:
            parts.append(f"GET {field_move.path} field {field_move.key} moved")
        return "; ".join(parts) if parts else f"nothing in {self.waited_s:.1f} s (no log line, metric or field moved)"


class Observer:
    """Reads a running service's config-ish state and watches it across an action."""

    def __init__(self, service: Launched, ports: list[HttpPort]) -> None:
        self.service, self.ports = service, ports
        self._session = requests.Session()
        #: Samples (by name) and JSON fields (by port, path, field) that move with nothing done: never evidence.
        self.noisy_metrics: set[str] = set()
        self.noisy_json: set[tuple[int, str, str]] = set()

    def learn_noise(self, duration_s: float = 1.0) -> list[str]:
        """Watch the service with nothing done for `duration_s`: what moves then moves on its own, and is ignored
        from now on. Returns what it was, for the comments."""
        seen = self.watch("nothing (a control)", lambda: None, written=None, wait_s=duration_s, settle_s=0.0)
        for moves in seen.metrics.values():
            self.noisy_metrics.update(move.name for move in moves)
        self.noisy_json.update((move.port, move.path, move.key) for move in seen.json)
        return sorted({*self.noisy_metrics, *(f"{path} {key}" for _, path, key in self.noisy_json)})

    def close(self) -> None:
        self._session.close()

    def snapshot(self) -> Snapshot:
        snap = Snapshot()
        for port in self.ports:
            base = f"http://{LOOPBACK}:{port.port}"
            if port.metrics_path is not None:
                samples = self._metrics(base + port.metrics_path)
                if samples is not None:
                    snap.metrics[port.port] = samples
            for path in port.json_paths:
                document = self._json(base + path)
                if document is not None:
                    snap.json[(port.port, path)] = document
        return snap

    def watch(self, action: str, act: Callable[[], None], *, written: str | None, wait_s: float,
              settle_s: float = SETTLE_S) -> Observation:
        """Do `act` and watch for up to `wait_s` for the service to show something (then `settle_s` more)."""
        before = self.snapshot()
        started_ns = now_ns()
        started = time.monotonic()
        act()
        seen: Observation = Observation(action, written, digests(written) if written is not None else [])
        showed_at: float | None = None
        latency = 0.0
        while True:
            time.sleep(POLL_S)
            seen = self._compare(action, written, before, started_ns)
            seen.waited_s = time.monotonic() - started
            if seen.died is not None:
                return seen
            if seen.showed and showed_at is None:
                showed_at = time.monotonic()
                latency = showed_at - started
            seen.latency_s = latency if showed_at is not None else None
            if showed_at is not None and time.monotonic() - showed_at >= settle_s:
                return seen
            if showed_at is None and time.monotonic() - started >= wait_s:
                return seen

    def _compare(self, action: str, written: str | None, before: Snapshot, since_ns: int) -> Observation:
        seen = Observation(action, written, digests(written) if written is not None else [])
        seen.lines = [line.text for line in self.service.lines(since_ns)]
        seen.died = self.service.died()
        if seen.died is not None:
            return seen
        after = self.snapshot()
        for port, samples in after.metrics.items():
            moves = [move for move in metrics_probe.moved(before.metrics.get(port, []), samples)
                     if move.name not in self.noisy_metrics]
            if moves:
                seen.metrics[port] = moves
        for (port, path), fields in after.json.items():
            old = before.json.get((port, path), {})
            seen.json += [FieldMove(port, path, key, old.get(key), value) for key, value in fields.items()
                          if old.get(key) != value and (port, path, key) not in self.noisy_json]
        return seen

    def _metrics(self, url: str) -> list[Sample] | None:
        try:
            reply = self._session.get(url, timeout=TIMEOUT_S)
            return metrics_probe.parse(reply.text) if reply.ok else None
        except (requests.RequestException, ValueError):
            return None

    def _json(self, url: str) -> dict[str, str] | None:
        try:
            reply = self._session.get(url, timeout=TIMEOUT_S)
            return flatten(reply.json()) if reply.ok else None
        except (requests.RequestException, ValueError):
            return None


def flatten(document: Any, prefix: str = "", depth: int = 3) -> dict[str, str]:
    """The config-ish scalar fields of a JSON document, by dotted path (three levels deep)."""
    out: dict[str, str] = {}
    if not isinstance(document, dict) or depth == 0:
        return out
    for key, value in document.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, path + ".", depth - 1))
        elif isinstance(value, (str, int, float, bool)) and CONFIG_ISH.search(str(key)) and not RUNTIME.search(path):
            out[path] = str(value)
    return out
