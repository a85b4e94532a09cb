"""Correct rollback under config reloads, judged from every observation of what was live.

Reads the storm's writes (identity, what the service must do with each), what the live watcher saw
(`reload.live`: which write the target served, via which probe), the rejections the service
reported (`reload.rejected`), the end of the storm before the original was put back
(`reload.settled`), and the identity every response carried. Fails when:
- a config the suite marked invalid, or one the service said it rejected, was ever seen live;
- at the end of the storm the live config was not the newest one the service was seen to take
  (a service that holds a valid config back, e.g. behind a reload circuit breaker, is not failed for
  that; one that goes back to an older config, or serves a mix, is);
- at the end of the storm two of the service's own reports (say its metrics and its log) name
  different configs as live: one of them reports a config that is not running;
- a response carried a version never written (version-keyed configs only: a hash the suite cannot
  name may be one the service computes differently);
- after the observation window the target does not serve the last accepted config (the original,
  once the storm put it back).
Evidence names the write, its diff and when it was seen.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from pydantic import Field

from chaos.configs.identity import matches_name
from chaos.observe.probes import initial_version, live_version
from chaos.observe.readiness import wait_until
from chaos.oracles.base import Oracle, OracleParams
from chaos.oracles.context import OracleContext
from chaos.timeline import Event, EventKind
from chaos.verdict import Evidence, Finding, Status

NAME = "rollback"
#: Evidence lines kept per kind of problem.
EVIDENCE_EACH = 5


class RollbackParams(OracleParams):
    settle_ms: int = Field(8000, ge=0, description="How long the live version may take to settle "
                                                   "(a reload circuit breaker may hold it back)")
    version_key: str = Field("version", description="Config key that holds the version")


def check(ctx: OracleContext, params: RollbackParams) -> Finding:
    writes = ctx.timeline.events(kind=EventKind.RELOAD_WRITE)
    if not writes:
        return Finding(NAME, Status.INCONCLUSIVE, "no config was written: nothing to judge")
    storm = [w for w in writes if w.details.get("mutation") != "revert"]
    by_index = {int(w.details["write"]): w for w in storm if w.details.get("write") is not None}
    invalid = [w for w in storm if _expect(w) == "reject"]
    evidence: list[Evidence] = []
    problems: list[str] = []

    bad_live = _live_when_it_must_not_be(ctx, by_index, invalid)
    if bad_live:
        problems.append(f"{len(bad_live)} observation(s) of a config it should have rejected being live")
        evidence += bad_live[:EVIDENCE_EACH]
    served_invalid, served_unknown, header_evidence = _headers(ctx, writes, invalid, params)
    if served_invalid:
        problems.append(f"{served_invalid} response(s) carried an invalid config's version")
    if served_unknown:
        problems.append(f"{served_unknown} response(s) carried a version never written")
    evidence += header_evidence
    settled = _settled_problems(ctx, by_index)
    for problem, proof in settled:
        problems.append(problem)
        evidence.append(proof)
    fates = _fates(ctx)  # empty for a timeline recorded before fates were: judged as it was then
    unknown = [w for w in invalid if fates and fates.get(_index(w), UNKNOWN) == UNKNOWN]

    last_valid = next((str(w.details["version"]) for w in reversed(writes) if _expect(w) == "accept"), None)
    live = _live_after(ctx, last_valid, params)
    for name, version in live.items():
        if version != last_valid:
            problems.append(f"{name} serves {version or 'nothing (unreachable)'}, not the last valid {last_valid}")
            evidence.append(Evidence(ctx.phases.observe_end, f"{name} live version {version}"))
    counted = Counter(fates.get(_index(w), UNKNOWN) for w in storm)
    figures = {"writes": len(writes), "invalid_writes": len(invalid), "served_invalid": served_invalid,
               "fates": dict(counted), "must_reject_of_unknown_fate": len(unknown),
               "served_never_written": served_unknown, "invalid_seen_live": len(bad_live),
               "last_valid_version": last_valid, "live": live,
               "settled": [dict(e.details) for e in ctx.timeline.events(kind=EventKind.RELOAD_SETTLED)]}
    if problems:
        return Finding(NAME, Status.FAIL, "; ".join(problems), tuple(evidence), figures)
    if unknown:
        return Finding(NAME, Status.INCONCLUSIVE,
                       f"{len(unknown)} of {len(invalid)} write(s) the service must reject have no observed fate: no "
                       "probe named the configs it ran, so none can be said never served; give the target a live "
                       "probe that names its config (or `version_key`)",
                       tuple(Evidence(w.t_ns, f"write #{_index(w)} ({_describe(w.details)}): fate unknown")
                             for w in unknown[:EVIDENCE_EACH]), figures)
    observed = f" (writes: {', '.join(f'{n} {fate}' for fate, n in sorted(counted.items()))})" if fates else ""
    return Finding(NAME, Status.PASS,
                   f"{len(invalid)} invalid config(s) never served{observed}; live version is the last valid "
                   f"{last_valid}", (), figures)


def _live_when_it_must_not_be(ctx: OracleContext, by_index: Mapping[int, Event],
                              invalid: list[Event]) -> list[Evidence]:
    """A write marked invalid seen live, or one seen live after the service said it rejected it."""
    invalid_ids = {int(w.details["write"]) for w in invalid if w.details.get("write") is not None}
    rejected_at: dict[int, int] = {}
    for event in ctx.timeline.events(kind=EventKind.RELOAD_REJECTED):
        if event.details.get("identified"):  # the service named the write it rejected
            rejected_at.setdefault(int(event.details["write"]), event.t_ns)
    found = []
    for event in ctx.timeline.events(kind=EventKind.RELOAD_LIVE):
        index = event.details.get("write")
        if index is None or event.details.get("identified") is False:
            continue  # a reload counter that moved says a reload happened, not which config it took
        written = by_index.get(int(index))
        if written is None:
            continue
        why = None
        if index in invalid_ids:
            why = "marked invalid (expect reject)"
        elif index in rejected_at and event.t_ns > rejected_at[index]:
            why = "the service said it rejected it"
        if why:
            found.append(Evidence(event.t_ns, f"write #{index} ({_describe(written.details)}), {why}, seen live via "
                                              f"{event.details.get('via')} {(event.t_ns - written.t_ns) / 1e6:.0f} ms "
                                              "after it was written"))
    return found


def _headers(ctx: OracleContext, writes: list[Event], invalid: list[Event],
             params: RollbackParams) -> tuple[int, int, list[Evidence]]:
    """Responses that carried an invalid config's identity, or (version-keyed) one never written."""
    invalid_names = {str(n) for w in invalid for n in (w.details.get("names") or [w.details["version"]])}
    known = {str(n) for w in writes for n in (*(w.details.get("names") or ()), w.details["version"])}
    versioned = any(t.spec.config is not None and t.spec.config.version_key for t in ctx.targets)
    for target in ctx.targets:
        start = initial_version(target, params.version_key)
        if start is not None:
            known.add(start)
    evidence: list[Evidence] = []
    served_invalid = served_unknown = 0
    for record in ctx.timeline.requests():
        if record.version is None:
            continue
        if matches_name(record.version, invalid_names):
            served_invalid += 1
            if served_invalid <= EVIDENCE_EACH:
                evidence.append(Evidence(record.t_ns, f"{record.name} served invalid version {record.version}"))
        elif versioned and not matches_name(record.version, known):
            served_unknown += 1
            if served_unknown <= EVIDENCE_EACH:
                evidence.append(Evidence(record.t_ns, f"{record.name} served never-written version "
                                                      f"{record.version}"))
    return served_invalid, served_unknown, evidence


def _settled_problems(ctx: OracleContext, by_index: Mapping[int, Event]) -> list[tuple[str, Evidence]]:
    """At the end of each storm (before the revert): the last config it had to accept was live."""
    found = []
    for event in ctx.timeline.events(kind=EventKind.RELOAD_SETTLED):
        if event.details.get("disagreement"):
            found.append((f"at the end of the storm {event.details.get('target')}'s own reports disagree on which "
                          f"config is live: {event.details['disagreement']}",
                          Evidence(event.t_ns, f"end of storm: {event.details['disagreement']}")))
        expected, seen = event.details.get("expected"), event.details.get("write")
        if seen == expected or expected is None or seen is None:
            continue  # nothing taken, or an identity the suite cannot name: the header check judges those
        wanted = by_index.get(int(expected)) if expected else None
        got = by_index.get(int(seen)) if seen else None
        wanted_text = f"write #{expected} ({_describe(wanted.details)})" if wanted else "the config it started with"
        got_text = (f"write #{seen} ({_describe(got.details)})" if got else
                    f"{event.details.get('live') or 'nothing readable'}"
                    + (" (the config it started with)" if seen == 0 else ""))
        found.append((f"at the end of the storm {event.details.get('target')} served {got_text}, not the newest "
                      f"one it had taken, {wanted_text}",
                      Evidence(event.t_ns, f"end of storm: live {event.details.get('live')}, expected {wanted_text}")))
    return found


def _live_after(ctx: OracleContext, last_valid: str | None, params: RollbackParams) -> dict[str, str | None]:
    """What each target with a version probe serves once settled (bounded by settle_ms)."""
    live: dict[str, str | None] = {}
    for target in ctx.targets:
        if target.spec.version is None or target.spec.config is None or not target.spec.config.version_key:
            continue
        seen: list[str | None] = [None]

        def settled(t: Any = target, box: list[str | None] = seen) -> bool:
            box[0] = live_version(t)
            return box[0] == last_valid

        wait_until(settled, timeout_s=params.settle_ms / 1000)
        live[target.spec.name] = seen[0]
    return live


def _expect(write: Event) -> str:
    """accept, reject or unknown (writes recorded before expectations were: from `valid`)."""
    return str(write.details.get("expect", "accept" if write.details.get("valid") else "reject"))


def _describe(details: Mapping[str, Any]) -> str:
    changes = details.get("changes") or []
    shown = "; ".join(str(c) for c in changes[:3]) + (f"; +{len(changes) - 3} more" if len(changes) > 3 else "")
    label = f"{details.get('mutation')} from {details.get('origin')}" if details.get("origin") else \
        str(details.get("mutation"))
    return f"{label}: {shown}" if shown else label


ORACLE = Oracle(NAME, RollbackParams, check)


#: A write's fate when no storm recorded one, or its probes could name no config (see RELOAD_SETTLED).
UNKNOWN = "unknown"


def _index(write: Event) -> int | None:
    index = write.details.get("write")
    return int(index) if index is not None else None


def _fates(ctx: OracleContext) -> dict[int | None, str]:
    """Each write's observed fate from the storms' settled events: live, rejected, or not seen (watched by a
    probe that named configs), else unknown."""
    fates: dict[int | None, str] = {}
    for event in ctx.timeline.events(kind=EventKind.RELOAD_SETTLED):
        watched = bool(event.details.get("watched"))
        for index, fate in (event.details.get("fates") or {}).items():
            fates[int(index)] = fate if fate != "not seen" or watched else UNKNOWN
    return fates
