"""Correct rollback under config reloads: bad configs never served, the last good one stays live.

Reads the reload writes on the timeline (version, valid) and the version every response carried:
- no response carries the version of an invalid config;
- no response carries a version that was never written (nor the initial one);
- after the storm the live version equals the last valid version written.
"""

from __future__ import annotations

from pydantic import Field

from chaos.oracles.base import Oracle, OracleParams
from chaos.oracles.context import OracleContext
from chaos.probes import initial_version, live_version
from chaos.readiness import wait_until
from chaos.timeline import EventKind
from chaos.verdict import Evidence, Finding, Status

NAME = "rollback"


class RollbackParams(OracleParams):
    settle_ms: int = Field(8000, ge=0, description="How long the live version may take to settle "
                                                   "(a reload circuit breaker may hold it back)")
    version_key: str = Field("version", description="Config key that holds the version")


def check(ctx: OracleContext, params: RollbackParams) -> Finding:
    writes = ctx.timeline.events(kind=EventKind.RELOAD_WRITE)
    if not writes:
        return Finding(NAME, Status.INCONCLUSIVE, "no config was written: nothing to judge")
    invalid = {str(w.details["version"]) for w in writes if not w.details.get("valid")}
    known = {str(w.details["version"]) for w in writes}
    for target in ctx.targets:
        start = initial_version(target, params.version_key)
        if start is not None:
            known.add(start)
    evidence: list[Evidence] = []
    served_invalid = served_unknown = 0
    for record in ctx.timeline.requests():
        if record.version is None:
            continue
        if record.version in invalid:
            served_invalid += 1
            if served_invalid <= 5:
                evidence.append(Evidence(record.t_ns, f"{record.name} served invalid version {record.version}"))
        elif record.version not in known:
            served_unknown += 1
            if served_unknown <= 5:
                evidence.append(Evidence(record.t_ns, f"{record.name} served never-written version "
                                                      f"{record.version}"))
    last_valid = next((str(w.details["version"]) for w in reversed(writes) if w.details.get("valid")), None)
    live: dict[str, str | None] = {}
    for target in ctx.targets:
        if target.spec.version is None or target.spec.config is None:
            continue
        seen: list[str | None] = [None]

        def settled(t: object = target, box: list[str | None] = seen) -> bool:
            box[0] = live_version(t)  # type: ignore[arg-type]
            return box[0] == last_valid

        wait_until(settled, timeout_s=params.settle_ms / 1000)
        live[target.spec.name] = seen[0]
    wrong_live = {name: v for name, v in live.items() if v != last_valid}
    figures = {"writes": len(writes), "invalid_writes": len(invalid), "served_invalid": served_invalid,
               "served_never_written": served_unknown, "last_valid_version": last_valid, "live": live}
    problems = []
    if served_invalid:
        problems.append(f"{served_invalid} response(s) carried an invalid config's version")
    if served_unknown:
        problems.append(f"{served_unknown} response(s) carried a version never written")
    for name, version in wrong_live.items():
        problems.append(f"{name} serves {version or 'nothing (unreachable)'}, not the last valid {last_valid}")
        evidence.append(Evidence(ctx.phases.observe_end, f"{name} live version {version}"))
    if problems:
        return Finding(NAME, Status.FAIL, "; ".join(problems), tuple(evidence), figures)
    return Finding(NAME, Status.PASS,
                   f"{len(invalid)} invalid config(s) never served; live version is the last valid "
                   f"{last_valid}", (), figures)


ORACLE = Oracle(NAME, RollbackParams, check)
