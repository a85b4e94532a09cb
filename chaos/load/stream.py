"""The record stream from the Locust child to the parent: one JSON object per line.

Messages (key ``t`` is the type)::

    {"t": "ready", "role": "local"|"master", "pid": 123}        runner created, users spawning
    {"t": "r", "r": [[t_ns, latency_ms, ok, name, status, error, version,
                      key, expected, observed], ...]}           a batch of request results
    {"t": "totals", ...}                                        Locust's own final totals
    {"t": "error", "message": "..."}                            the child cannot run; it exits
    {"t": "done"}                                               nothing more will come

A request result travels as a flat list (not a dict) to keep the stream cheap at thousands of
requests per second. Nothing here imports Locust: both sides use this module.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from chaos.timeline import RequestRecord

#: Wire form of one request result (see the module docstring for the field order).
WireRecord = list[Any]


@dataclass(frozen=True, slots=True)
class EntryTotals:
    """Locust's own count for one stats entry (method + name)."""

    method: str
    name: str
    num_requests: int
    num_failures: int


@dataclass(frozen=True, slots=True)
class LoadTotals:
    """Locust's own final totals, as its stats module counted them (not derived from records).

    `complete` is False when the run was cut short (killed) or a worker never confirmed its
    final report; `records_sent` is how many request results the load processes emitted.
    """

    num_requests: int
    num_failures: int
    entries: tuple[EntryTotals, ...]
    records_sent: int
    workers: int
    complete: bool

    def entry(self, method: str, name: str) -> EntryTotals | None:
        """The totals of one entry, or None if Locust never saw it."""
        return next((e for e in self.entries if e.method == method and e.name == name), None)

    @staticmethod
    def from_message(msg: dict[str, Any]) -> LoadTotals:
        return LoadTotals(
            num_requests=int(msg["num_requests"]),
            num_failures=int(msg["num_failures"]),
            entries=tuple(EntryTotals(str(m), str(n), int(r), int(f))
                          for m, n, r, f in msg["entries"]),
            records_sent=int(msg["records_sent"]),
            workers=int(msg["workers"]),
            complete=bool(msg["complete"]),
        )


def totals_message(
    *, num_requests: int, num_failures: int, entries: Sequence[tuple[str, str, int, int]],
    records_sent: int, workers: int, complete: bool,
) -> dict[str, Any]:
    """The ``totals`` message a child emits once, after its users have stopped."""
    return {
        "t": "totals", "num_requests": num_requests, "num_failures": num_failures,
        "entries": [list(e) for e in entries], "records_sent": records_sent,
        "workers": workers, "complete": complete,
    }


def encode(message: dict[str, Any]) -> bytes:
    """One message as one line."""
    return json.dumps(message, separators=(",", ":")).encode() + b"\n"


def decode(line: bytes) -> dict[str, Any]:
    """One line back into a message; raises ValueError on anything that is not one."""
    message = json.loads(line)
    if not isinstance(message, dict) or "t" not in message:
        raise ValueError(f"not a load stream message: {line[:200]!r}")
    return message


def to_records(wire: Sequence[WireRecord]) -> list[RequestRecord]:
    """Request results of one batch (keyed fields set for write/read-pair users)."""
    return [
        RequestRecord(
            t_ns=int(t_ns), latency_ms=float(latency_ms), ok=bool(ok), name=name,
            status=int(status), error=error, version=version, key=key, expected=expected,
            observed=observed,
        )
        for t_ns, latency_ms, ok, name, status, error, version, key, expected, observed in wire
    ]
