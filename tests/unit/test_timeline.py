"""Timeline: events by kind and window, request windows with exact counts, stable-after queries."""

from __future__ import annotations

import random

import pytest

from chaos.timeline import EventFamily, EventKind, RequestRecord, Timeline, WindowStats, summarize

MS = 1_000_000


def req(t_ms: float, latency_ms: float = 1.0, ok: bool = True) -> RequestRecord:
    return RequestRecord(t_ns=int(t_ms * MS), latency_ms=latency_ms, ok=ok)


def test_events_filter_by_exact_kind_family_and_window() -> None:
    timeline = Timeline()
    timeline.record(EventKind.FAULT_START, "reload_storm", t_ns=10 * MS, fault_id=1)
    timeline.record(EventKind.FAULT_END, "reload_storm", t_ns=30 * MS, fault_id=1)
    timeline.record(EventKind.TARGET_EXIT, "configd", t_ns=20 * MS, returncode=2)
    assert [e.kind for e in timeline.events()] == ["fault.start", "target.exit", "fault.end"]
    assert [e.kind for e in timeline.events(family=EventFamily.FAULT)] == ["fault.start", "fault.end"]
    assert [e.kind for e in timeline.events(kind="fault")] == []  # type: ignore[arg-type]
    assert [e.t_ns for e in timeline.events(since_ns=15 * MS, until_ns=30 * MS)] == [20 * MS]
    assert timeline.events(kind=EventKind.TARGET_EXIT)[0].details == {"returncode": 2}


def test_out_of_order_requests_are_windowed_correctly() -> None:
    timeline = Timeline()
    records = [req(t) for t in range(0, 1000, 10)]
    shuffled = records[:]
    random.Random(7).shuffle(shuffled)
    timeline.add_requests(shuffled[:50])
    timeline.add_requests(shuffled[50:])
    assert [r.t_ns for r in timeline.requests()] == [r.t_ns for r in records]
    assert timeline.window(100 * MS, 200 * MS).count == 10
    assert timeline.window(995 * MS, 2000 * MS).count == 0


def test_buckets_add_up_exactly_and_include_empty_windows() -> None:
    timeline = Timeline()
    timeline.add_requests([req(5, ok=False), req(50), req(99), req(250), req(399, ok=False)])
    buckets = timeline.buckets(100, start_ns=0, end_ns=400 * MS)
    assert [b.count for b in buckets] == [3, 0, 1, 1]
    assert [b.errors for b in buckets] == [1, 0, 0, 1]
    assert sum(b.count for b in buckets) == 5
    assert buckets[1].p99_ms is None and buckets[1].error_rate == 0.0


def test_quantiles_come_from_a_sketch_within_one_percent() -> None:
    records = [req(i, latency_ms=float(i + 1)) for i in range(1000)]
    stats = summarize(records, 0, 1000 * MS)
    assert stats.count == 1000 and stats.max_ms == 1000.0
    assert stats.p50_ms == pytest.approx(500, rel=0.02)
    assert stats.p99_ms == pytest.approx(990, rel=0.02)
    assert stats.rps == pytest.approx(1000.0)


def test_first_healthy_window_finds_the_recovery_instant() -> None:
    timeline = Timeline()
    # failing until 500 ms, healthy afterwards, 10 requests per 100 ms
    timeline.add_requests([req(t, ok=t >= 500) for t in range(0, 2000, 10)])

    def no_errors(w: WindowStats) -> bool:
        return w.count > 0 and w.error_rate == 0

    assert timeline.first_healthy_window(0, 2000 * MS, hold_ms=500, healthy=no_errors) == 500 * MS
    assert timeline.first_healthy_window(0, 400 * MS, hold_ms=200, healthy=no_errors) is None
    # the window is judged as a whole: one bad slice inside a big healthy window is tolerated
    timeline.add_requests([req(1500, ok=False)])
    assert timeline.first_healthy_window(
        600 * MS, 2000 * MS, hold_ms=1000, healthy=lambda w: w.count > 0 and w.error_rate < 0.01) == 600 * MS
