"""Fault windows and event markers drawn on the report's timeline, from Timeline events."""

from __future__ import annotations

import enum

from chaos.report.annotations import FaultWindow, MarkerKind, describe_details, fault_windows, markers
from chaos.timeline import Event, EventKind

MS = 1_000_000


def ev(ms: int, kind: EventKind, source: str = "inj", **details: object) -> Event:
    return Event(ms * MS, kind, source, details)


def test_fault_windows_pair_by_fault_id_even_when_they_overlap_and_end_out_of_order() -> None:
    events = [
        ev(100, EventKind.FAULT_START, "reload_storm", fault_id=1, target="configd"),
        ev(200, EventKind.FAULT_START, "leader_loss", fault_id=2),
        ev(250, EventKind.FAULT_END, "leader_loss", fault_id=2, landed=False),
        ev(900, EventKind.FAULT_END, "reload_storm", fault_id=1, landed=True),
    ]
    assert fault_windows(events) == [
        FaultWindow(1, "reload_storm", "configd", 100 * MS, 900 * MS, True),
        FaultWindow(2, "leader_loss", None, 200 * MS, 250 * MS, False),
    ]
    labels = [w.label for w in fault_windows(events)]
    assert labels == ["reload_storm #1", "leader_loss #2 (did not land)"]


def test_a_fault_that_never_ended_stays_open_and_says_so() -> None:
    windows = fault_windows([ev(100, EventKind.FAULT_START, "gc_pressure", fault_id=3)])
    assert windows[0].end_ns is None and windows[0].landed is None
    assert windows[0].label == "gc_pressure #3 (never ended)"


def test_without_fault_ids_the_same_injector_pairs_in_order() -> None:
    start, end = EventKind.FAULT_START, EventKind.FAULT_END
    events = [ev(t, kind, "kill") for t, kind in ((10, start), (20, end), (30, start), (45, end))]
    assert [(w.start_ns // MS, w.end_ns and w.end_ns // MS) for w in fault_windows(events)] == [(10, 20), (30, 45)]


def test_the_same_fault_id_run_twice_pairs_each_start_with_the_next_end() -> None:
    events = [ev(10, EventKind.FAULT_START, fault_id=1), ev(20, EventKind.FAULT_END, fault_id=1),
              ev(30, EventKind.FAULT_START, fault_id=1), ev(40, EventKind.FAULT_END, fault_id=1)]
    assert [(w.start_ns // MS, (w.end_ns or 0) // MS) for w in fault_windows(events)] == [(10, 20), (30, 40)]


class Mutation(enum.Enum):
    STRUCTURAL = "structural"


def test_markers_for_reloads_crashes_restarts_and_leader_changes() -> None:
    events = [
        ev(0, EventKind.TARGET_START, "configd", pid=1),  # the setup start: not a restart
        ev(5, EventKind.LOAD_START, "load"),  # not a marker
        ev(10, EventKind.RELOAD_WRITE, "reload_storm", target="configd", version="v1", valid=True, mutation="value"),
        ev(20, EventKind.RELOAD_WRITE, "reload_storm", target="configd", version="v2", valid=False,
           mutation=Mutation.STRUCTURAL),
        ev(30, EventKind.TARGET_EXIT, "configd", returncode=2, signal=None, requested=False),
        ev(40, EventKind.TARGET_START, "configd", pid=2, requested=True),
        ev(50, EventKind.TARGET_EXIT, "configd", returncode=-9, signal="SIGKILL", requested=True),
        ev(55, EventKind.TARGET_START, "configd", pid=3),
        ev(60, EventKind.ETCD_LEADER_LOST, "etcd", leader="m0", operation="kill-leader"),
        ev(70, EventKind.ETCD_LEADER, "etcd", leader="m2", previous="m0"),
    ]
    found = markers(events)
    assert [(m.t_ns // MS, m.kind) for m in found] == [
        (10, MarkerKind.RELOAD), (20, MarkerKind.RELOAD_INVALID), (30, MarkerKind.CRASH),
        (40, MarkerKind.RESTART), (50, MarkerKind.EXIT), (55, MarkerKind.RESTART),
        (60, MarkerKind.LEADER_LOST), (70, MarkerKind.LEADER),
    ]
    by_time = {m.t_ns // MS: m for m in found}
    assert by_time[20].label == "reload v2 (invalid)"
    assert by_time[20].detail == "configd: structural config write, version v2, INVALID"
    assert by_time[30].detail.startswith("configd crashed: exit status 2")
    assert by_time[40].detail.startswith("configd (re)started requested")
    assert by_time[50].detail.startswith("configd stopped on request (killed by SIGKILL)")
    assert by_time[55].detail.startswith("configd (re)started by supervisor")
    assert by_time[60].label == "m0 lost" and "kill-leader" in by_time[60].detail
    assert by_time[70].detail == "etcd leader is now m2 (was m0)"


def test_details_read_plainly() -> None:
    assert describe_details({"valid": False, "mutation": Mutation.STRUCTURAL, "ratio": 0.25, "pid": 7},
                            skip=["pid"]) == "valid=false, mutation=structural, ratio=0.25"
