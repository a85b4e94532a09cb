"""The consistency oracle on write-then-read traffic built here: a read path that lags a little is told
apart from one stuck behind, and the lagging one's finding names `max_lag_ms`."""

from __future__ import annotations

import re

from chaos.oracles import bind
from chaos.oracles.consistency import NEAR_WRITE_MS
from chaos.oracles.context import OracleContext, Phases
from chaos.timeline import RequestRecord, Timeline
from chaos.verdict import Finding, Status

MS = 1_000_000


def traffic(read_lag_ms: float, *, stuck_after: int | None = None, writes: int = 40) -> Timeline:
    """One key written every 100 ms (each write acknowledged after 2 ms), read 50 ms after each write, by
    a read path that serves what was acknowledged `read_lag_ms` before the read (or, from write number
    `stuck_after` on, what it had then, for good)."""
    timeline = Timeline()
    acks: list[tuple[int, str]] = []
    records = []
    for i in range(writes):
        t = (1000 + 100 * i) * MS
        value = f"v{i}"
        records.append(RequestRecord(t_ns=t, latency_ms=2.0, ok=True, name="PUT /kv/[key]", key="k", expected=value))
        acks.append((t + 2 * MS, value))
        read_at = t + 50 * MS
        horizon = read_at - int(read_lag_ms * MS)
        if stuck_after is not None and i >= stuck_after:
            horizon = min(horizon, acks[stuck_after - 1][0])
        seen = [v for ack, v in acks if ack <= horizon]
        observed = seen[-1] if seen else "v-initial"
        records.append(RequestRecord(t_ns=read_at, latency_ms=1.0, ok=True, name="GET /cached/[key]", key="k",
                                     expected=value, observed=observed))
    timeline.add_requests(records)
    return timeline


def judge(timeline: Timeline, **params: float) -> Finding:
    phases = Phases(0, 1000 * MS, 3000 * MS, 6000 * MS)
    return bind("consistency", params)(OracleContext(targets=(), timeline=timeline, phases=phases))


def test_a_read_path_lagging_a_little_fails_and_names_max_lag_ms() -> None:
    finding = judge(traffic(read_lag_ms=120))
    assert finding.status is Status.FAIL
    assert finding.figures["stale_reads"] == 40
    assert 0 < float(finding.figures["max_staleness_ms"]) <= NEAR_WRITE_MS
    # read 50 ms after a write, serving what was acknowledged 120 ms earlier: the value read is the one
    # the write 48 ms before the read replaced
    assert "within 48 ms of the write it missed" in finding.summary
    assert "not a bug by itself" in finding.summary and "`max_lag_ms`" in finding.summary


def test_the_lag_it_suggests_makes_the_same_traffic_pass() -> None:
    summary = judge(traffic(read_lag_ms=120)).summary
    suggested = re.search(r"\{consistency: \{max_lag_ms: (\d+)\}\}", summary)
    assert suggested is not None, summary
    assert judge(traffic(read_lag_ms=120), max_lag_ms=float(suggested[1])).status is Status.PASS


def test_a_read_path_stuck_behind_fails_without_blaming_the_lag() -> None:
    finding = judge(traffic(read_lag_ms=0, stuck_after=5), max_lag_ms=200)
    assert finding.status is Status.FAIL
    assert float(finding.figures["max_staleness_ms"]) > 3000
    assert "eventually consistent" not in finding.summary and "max_lag_ms" not in finding.summary
    assert "had been replaced" in finding.evidence[0].text


def test_read_your_writes_passes_with_no_lag_allowed() -> None:
    finding = judge(traffic(read_lag_ms=0))
    assert finding.status is Status.PASS and finding.figures["stale_reads"] == 0
