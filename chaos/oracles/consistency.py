"""No stale reads: a read returns the latest acknowledged write of its key (within a lag bound).

Load users that write and then read their own keys (kvd's) record key, expected and observed
value on every request. From the acknowledged writes of each key the oracle knows, for a read
that started at t, the newest write acknowledged before t - max_lag: the read must return that
value or a newer one (or the value of a write whose outcome is unknown). `max_lag_ms` is 0 for
linearizable reads; an eventually consistent cache (a watch-fed one) gets a small lag, so that
only a cache that stays behind is flagged. A failed read is an error, not a stale read.

How stale a stale read is: how long before the read its value had been replaced by an acknowledged
write. When every stale read is within `NEAR_WRITE_MS` of that write, the finding says so and names
`max_lag_ms`: a read path that is eventually consistent by design (a watch-fed cache) lags like
that, which is not a bug by itself; a read stuck behind for good is far older.
"""

from __future__ import annotations

from collections import defaultdict

from pydantic import Field

from chaos.oracles.base import Oracle, OracleParams
from chaos.oracles.context import OracleContext
from chaos.timeline import RequestRecord
from chaos.verdict import Evidence, Finding, Status

NAME = "consistency"


#: Stale reads all this close (ms) to the write they missed are the lag of an eventually consistent read path.
NEAR_WRITE_MS = 500.0


class ConsistencyParams(OracleParams):
    max_lag_ms: float = Field(0.0, ge=0, description="How far behind the latest acknowledged write a read may "
                                                    "be (0: read-your-writes exactly); give an eventually "
                                                    "consistent read path (a watch-fed cache) its expected lag")
    min_reads: int = Field(20, ge=1, description="Fewer checked reads than this is inconclusive")
    max_stale: int = Field(0, ge=0, description="Stale reads tolerated")


def _is_write(record: RequestRecord) -> bool:
    return record.name.upper().startswith(("PUT", "POST"))


def check(ctx: OracleContext, params: ConsistencyParams) -> Finding:
    keyed = [r for r in ctx.timeline.requests() if r.key is not None]
    acked: dict[str, list[tuple[int, str]]] = defaultdict(list)  # key -> [(ack_ns, value)]
    unsure: dict[str, set[str]] = defaultdict(set)  # values of writes that failed: maybe applied
    for r in keyed:
        if _is_write(r) and r.expected is not None and r.key is not None:
            if r.ok:
                acked[r.key].append((r.t_ns + int(r.latency_ms * 1e6), r.expected))
            else:
                unsure[r.key].add(r.expected)
    for history in acked.values():
        history.sort()
    lag_ns = int(params.max_lag_ms * 1e6)
    checked = stale = after_faults = 0
    staleness_ms: list[float] = []
    evidence: list[Evidence] = []
    for r in keyed:
        if _is_write(r) or not r.ok or r.observed is None or r.key is None:
            continue
        history = acked.get(r.key, [])
        cutoff = r.t_ns - lag_ns
        required = max((i for i, (ack, _) in enumerate(history) if ack <= cutoff), default=None)
        if required is None:
            continue  # nothing acknowledged long enough ago: any answer is allowed
        checked += 1
        allowed = {value for _, value in history[required:]} | unsure[r.key]
        if r.observed in allowed:
            continue
        stale += 1
        if r.t_ns >= ctx.phases.faults_end:
            after_faults += 1
        behind_ms = (r.t_ns - _replaced_at(history, r.observed)) / 1e6
        staleness_ms.append(behind_ms)
        if len(evidence) < 5:
            ack_ns, value = history[required]
            evidence.append(Evidence(r.t_ns, f"{r.name} key {r.key}: read {r.observed!r}, but {value!r} was "
                                             f"acknowledged {(r.t_ns - ack_ns) / 1e6:.0f} ms before the read "
                                             f"(the value read had been replaced {behind_ms:.0f} ms before)"))
    figures = {"reads_checked": checked, "stale_reads": stale, "stale_after_faults": after_faults,
               "max_lag_ms": params.max_lag_ms, "max_staleness_ms": round(max(staleness_ms, default=0.0), 1)}
    if checked < params.min_reads:
        return Finding(NAME, Status.INCONCLUSIVE,
                       f"only {checked} reads after acknowledged writes (need {params.min_reads}): does the "
                       "load user record key/expected/observed?", (), figures)
    if stale > params.max_stale:
        summary = (f"{stale} stale read(s) of {checked} ({after_faults} after the faults ended; lag allowed "
                   f"{params.max_lag_ms:g} ms)")
        if max(staleness_ms) <= NEAR_WRITE_MS:
            summary += (f"; every stale read came within {max(staleness_ms):.0f} ms of the write it missed: an "
                        "eventually consistent read path lags like that, which is not a bug by itself; if this "
                        "one is consistent only eventually by design, allow it with the consistency oracle's "
                        f"`max_lag_ms` (e.g. {{consistency: {{max_lag_ms: {_round_up(max(staleness_ms))}}}}})")
        return Finding(NAME, Status.FAIL, summary, tuple(evidence), figures)
    return Finding(NAME, Status.PASS, f"{checked} reads after acknowledged writes, none stale beyond "
                                      f"{params.max_lag_ms:g} ms", (), figures)


def _replaced_at(history: list[tuple[int, str]], observed: str) -> int:
    """When the value read was replaced: the ack of the write after its own last acknowledged write (the
    first acknowledged write, for a value no acknowledged write gave)."""
    own = max((i for i, (_, value) in enumerate(history) if value == observed), default=-1)
    return history[min(own + 1, len(history) - 1)][0]


def _round_up(ms: float) -> int:
    """A lag bound above `ms` a person would write: the next multiple of 100 ms."""
    return (int(ms) // 100 + 1) * 100


ORACLE = Oracle(NAME, ConsistencyParams, check)
