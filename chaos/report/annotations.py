"""What a report draws on top of the load curves: fault windows and event markers.

Pure functions over Timeline events, so the pairing and labelling rules are tested without a
browser: fault windows pair ``fault.start`` with ``fault.end`` by ``details["fault_id"]`` (a
start without an end stays open to the end of the run); markers are reloads (``reload.write``),
process crashes, requested exits and restarts (``target.exit``; every ``target.start`` after a
target's first) and etcd
leadership changes (``etcd.leader_lost``, ``etcd.leader``).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from chaos.timeline import Event, EventKind


class MarkerKind(enum.StrEnum):
    RELOAD = "reload"
    RELOAD_INVALID = "reload-invalid"
    CRASH = "crash"
    EXIT = "exit"
    RESTART = "restart"
    LEADER_LOST = "leader-lost"
    LEADER = "leader"


#: Which lane of the plot each kind of marker sits in (lanes are drawn in this order).
LANES: Mapping[MarkerKind, str] = {
    MarkerKind.RELOAD: "reloads",
    MarkerKind.RELOAD_INVALID: "reloads",
    MarkerKind.CRASH: "process",
    MarkerKind.EXIT: "process",
    MarkerKind.RESTART: "process",
    MarkerKind.LEADER_LOST: "etcd",
    MarkerKind.LEADER: "etcd",
}


@dataclass(frozen=True, slots=True)
class FaultWindow:
    """One fault from its start event to its end event (end None: it never ended)."""

    fault_id: Any
    name: str
    target: str | None
    start_ns: int
    end_ns: int | None
    landed: bool | None

    @property
    def label(self) -> str:
        ident = f"{self.name} #{self.fault_id}" if self.fault_id is not None else self.name
        if self.end_ns is None:
            return f"{ident} (never ended)"
        if self.landed is False:
            return f"{ident} (did not land)"
        return ident


@dataclass(frozen=True, slots=True)
class Marker:
    """One instant worth marking: `label` is short, `detail` is the full story (tooltip)."""

    t_ns: int
    kind: MarkerKind
    source: str
    label: str
    detail: str


def plain(value: Any) -> str:
    """A detail value as a person reads it (enums by value, bools lower-case)."""
    if isinstance(value, enum.Enum):
        value = value.value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def describe_details(details: Mapping[str, Any], skip: Iterable[str] = ()) -> str:
    """``key=value`` pairs of an event's details, in their recorded order."""
    skipped = set(skip)
    return ", ".join(f"{k}={plain(v)}" for k, v in details.items() if k not in skipped)


def fault_windows(events: Sequence[Event]) -> list[FaultWindow]:
    """Pair each ``fault.start`` with the first later ``fault.end`` of the same fault id.

    Events without a ``fault_id`` pair by source (injector name), first come first served.
    """
    ends: dict[tuple[str, Any], list[Event]] = {}
    for event in events:
        if event.kind is EventKind.FAULT_END:
            ends.setdefault(_fault_key(event), []).append(event)
    for pending in ends.values():
        pending.sort(key=lambda e: e.t_ns)
    windows: list[FaultWindow] = []
    for start in sorted((e for e in events if e.kind is EventKind.FAULT_START), key=lambda e: e.t_ns):
        pending = ends.get(_fault_key(start), [])
        end = next((e for e in pending if e.t_ns >= start.t_ns), None)
        if end is not None:
            pending.remove(end)
        landed = end.details.get("landed") if end is not None else None
        windows.append(FaultWindow(
            fault_id=start.details.get("fault_id"), name=start.source,
            target=start.details.get("target"), start_ns=start.t_ns,
            end_ns=end.t_ns if end is not None else None,
            landed=landed if isinstance(landed, bool) else None,
        ))
    return windows


def _fault_key(event: Event) -> tuple[str, Any]:
    fault_id = event.details.get("fault_id")
    return ("id", fault_id) if fault_id is not None else ("source", event.source)


def markers(events: Sequence[Event]) -> list[Marker]:
    """Markers for every event a person needs to see on the timeline, in time order."""
    out: list[Marker] = []
    started: set[str] = set()
    for event in sorted(events, key=lambda e: e.t_ns):
        if event.kind is EventKind.TARGET_START and event.source not in started:
            started.add(event.source)  # the first start is the run's setup, not a restart
            continue
        marker = _marker(event)
        if marker is not None:
            out.append(marker)
    return out


def _marker(event: Event) -> Marker | None:
    d = event.details
    where = event.source
    if event.kind is EventKind.RELOAD_WRITE:
        version = plain(d.get("version", "?"))
        mutation = plain(d.get("mutation", "write"))
        expect = str(d.get("expect", "accept" if d.get("valid", True) is not False else "reject"))
        kind = MarkerKind.RELOAD_INVALID if expect == "reject" else MarkerKind.RELOAD
        target = d.get("target") or where
        label = f"reload {version}" + {"reject": " (invalid)", "unknown": " (validity unknown)"}.get(expect, "")
        changes = "; ".join(str(c) for c in (d.get("changes") or [])[:5])
        verdict = {"accept": "valid", "reject": "INVALID", "unknown": "validity unknown"}.get(expect, expect)
        return Marker(event.t_ns, kind, str(target), label,
                      f"{target}: {mutation} config write, version {version}, {verdict}"
                      + (f": {changes}" if changes else ""))
    if event.kind is EventKind.TARGET_EXIT:
        how = (f"killed by {d['signal']}" if d.get("signal")
               else f"exit status {plain(d.get('returncode', '?'))}")
        if d.get("requested"):
            return Marker(event.t_ns, MarkerKind.EXIT, where, "stopped",
                          f"{where} stopped on request ({how}); {describe_details(d)}")
        return Marker(event.t_ns, MarkerKind.CRASH, where, "crash",
                      f"{where} crashed: {how}; {describe_details(d)}")
    if event.kind is EventKind.TARGET_START:  # every start after a target's first one
        why = "requested" if d.get("requested") else "by supervisor"
        return Marker(event.t_ns, MarkerKind.RESTART, where, "restart",
                      f"{where} (re)started {why}; {describe_details(d)}")
    if event.kind is EventKind.ETCD_LEADER_LOST:
        old = plain(d.get("leader", "?"))
        return Marker(event.t_ns, MarkerKind.LEADER_LOST, where, f"{old} lost",
                      f"etcd leader {old} lost ({plain(d.get('operation', '?'))})")
    if event.kind is EventKind.ETCD_LEADER:
        new = plain(d.get("leader", "?"))
        previous = d.get("previous")
        return Marker(event.t_ns, MarkerKind.LEADER, where, f"leader {new}",
                      f"etcd leader is now {new}" + (f" (was {plain(previous)})" if previous else ""))
    return None
