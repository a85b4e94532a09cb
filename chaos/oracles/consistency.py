"""No stale reads: a read that follows an acknowledged write of the same key returns that write.

Load users that write and then read their own keys (kvd's) record key, expected and observed
value on every request. Keys are private to one user, so read-your-writes must hold exactly; a
failed read is an error (the recovery oracle's business), not a stale read.
"""

from __future__ import annotations

from pydantic import Field

from chaos.oracles.base import Oracle, OracleParams
from chaos.oracles.context import OracleContext
from chaos.verdict import Evidence, Finding, Status

NAME = "consistency"


class ConsistencyParams(OracleParams):
    min_reads: int = Field(20, ge=1, description="Fewer checked reads than this is inconclusive")
    max_stale: int = Field(0, ge=0, description="Stale reads tolerated")


def check(ctx: OracleContext, params: ConsistencyParams) -> Finding:
    checked = stale = 0
    evidence: list[Evidence] = []
    after_faults_stale = 0
    for record in ctx.timeline.requests():
        if record.key is None or not record.name.upper().startswith("GET") or record.expected is None:
            continue
        if not record.ok or record.observed is None:
            continue
        checked += 1
        if record.observed != record.expected:
            stale += 1
            if record.t_ns >= ctx.phases.faults_end:
                after_faults_stale += 1
            if len(evidence) < 5:
                evidence.append(Evidence(record.t_ns, f"{record.name} key {record.key}: read "
                                                      f"{record.observed!r}, last acknowledged write was "
                                                      f"{record.expected!r}"))
    figures = {"reads_checked": checked, "stale_reads": stale, "stale_after_faults": after_faults_stale}
    if checked < params.min_reads:
        return Finding(NAME, Status.INCONCLUSIVE,
                       f"only {checked} read-after-write pairs (need {params.min_reads}): does the load "
                       "user record key/expected/observed?", (), figures)
    if stale > params.max_stale:
        return Finding(NAME, Status.FAIL, f"{stale} stale read(s) of {checked} ({after_faults_stale} after "
                                          "the faults ended)", tuple(evidence), figures)
    return Finding(NAME, Status.PASS, f"{checked} reads after acknowledged writes, none stale", (), figures)


ORACLE = Oracle(NAME, ConsistencyParams, check)
