"""Runs compared over time: the figures that drift, per scenario, and where they regressed.

Every run directory under a report dir holds a report.json (one run, or a suite of runs). Each run of
each scenario becomes a `RunPoint`: its verdict, time to recover, availability and p99 during the
faults, and how long its faults took to land (from the write to the target serving it, from the
leader's loss to a new leader). A series is one scenario on one build (a `reproduce` run fails on
purpose, so it never counts against the fixed build's history).

Regressions, judged for every run against the runs of its series before it:
  - a figure (`METRICS`) more than `factor` x the median of the last `window` passing runs, and
    higher by more than the figure's noise floor (0.0 s -> 0.1 s of recovery is no regression);
  - a service that never recovered where those runs did;
  - the verdict flipped from pass (the series' previous run) to fail.
The mutation sites a series' `pattern: auto` storms tried add up over its runs (`coverage`): which
sites of each target's config some run tried, and which none did.
Pure logic: `gochaos history` prints it, `chaos.report.trends` plots it.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError

from chaos import run_dirs
from chaos.injectors.etcd_leader import NEW_LEADER_AFTER_MS
from chaos.injectors.live_watch import LIVE_AFTER_MS
from chaos.oracles import recovery
from chaos.report.coverage import Coverage, StormSites, accumulate, of_document
from chaos.report.documents import FAULTS, FILENAME, RunDocument, SuiteDocument
from chaos.verdict import Finding, Status

#: Outcome figures of the injectors that say how long after the ask a fault took effect (ms).
LANDING_FIGURES = (LIVE_AFTER_MS, NEW_LEADER_AFTER_MS)
WINDOW, FACTOR = 5, 2.0
_RUN, _SUITE = TypeAdapter(RunDocument), TypeAdapter(SuiteDocument)


@dataclass(frozen=True, slots=True)
class Regression:
    """One figure (or the verdict) of a run worse than its series' recent passing runs."""

    metric: str
    text: str
    #: A few words for a table cell.
    short: str
    value: float | None = None
    median: float | None = None


@dataclass(frozen=True, slots=True)
class RunPoint:
    """One run of one scenario, reduced to what is compared across runs."""

    run: str  #: the run directory's name
    scenario: str
    buggy: bool
    seed: int
    started_ns: int
    verdict: Status
    recovery_s: float | None  #: None: not measured, or never recovered (see `recovered`)
    recovered: bool | None  #: None: no recovery judged (no recovery oracle, nothing to judge)
    availability: float | None  #: share of requests that succeeded during the faults
    p99_ms: float | None  #: p99 latency of the requests during the faults
    landing_ms: float | None  #: median time from asking for a fault to it taking effect
    findings: tuple[Finding, ...]  #: the checks that did not pass
    regressions: tuple[Regression, ...] = ()
    storms: tuple[StormSites, ...] = ()  #: the sites each `pattern: auto` storm of the run tried

    @property
    def series(self) -> str:
        return f"{self.scenario} (buggy build)" if self.buggy else self.scenario


@dataclass(frozen=True, slots=True)
class Metric:
    """A figure judged for regressions: higher is worse."""

    key: str
    label: str
    short: str
    unit: str
    value: Callable[[RunPoint], float | None]
    #: A rise smaller than this is noise, whatever the ratio to the median.
    noise_floor: float


METRICS = (
    Metric("recovery_s", "time to recover", "recovery", "s", lambda p: p.recovery_s, 0.5),
    Metric("p99_ms", "p99 during faults", "p99", "ms", lambda p: p.p99_ms, 10.0),
    Metric("landing_ms", "fault landing", "landing", "ms", lambda p: p.landing_ms, 50.0),
)


@dataclass(frozen=True, slots=True)
class Skipped:
    """A run directory whose report could not be read, and why (one line)."""

    path: Path
    reason: str


@dataclass(frozen=True, slots=True)
class History:
    points: tuple[RunPoint, ...]  #: oldest first
    skipped: tuple[Skipped, ...]


def load(report_dir: Path, *, exclude: Path | None = None) -> History:
    """Every run under `report_dir` (but `exclude`), oldest first; unreadable reports are skipped."""
    points: list[RunPoint] = []
    skipped: list[Skipped] = []
    for run_dir in run_dirs.runs(report_dir):
        if exclude is not None and run_dir.resolve() == exclude.resolve():
            continue
        try:
            points.extend(read_run_dir(run_dir))
        except ValueError as e:
            skipped.append(Skipped(run_dir / FILENAME, str(e)))
    return History(tuple(sorted(points, key=lambda p: p.started_ns)), tuple(skipped))


def read_run_dir(run_dir: Path) -> list[RunPoint]:
    """The runs in `run_dir`'s report.json; ValueError (one line) when it is missing or malformed."""
    path = run_dir / FILENAME
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError("no report.json (the run was interrupted before its reports)") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"not readable JSON: {e}") from None
    try:
        runs = (_SUITE.validate_python(raw)["runs"] if isinstance(raw, dict) and "runs" in raw
                else [_RUN.validate_python(raw)])
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "top level"
        raise ValueError(f"not a gochaos report ({where}: {first['msg']})") from None
    return [point(run, run_dir.name) for run in runs]


def point(run: RunDocument, run_name: str) -> RunPoint:
    """The figures history compares, from one run's report."""
    by_check = {f["check"]: f for f in run["findings"]}
    recovered_finding = by_check.get(recovery.NAME)
    figures: dict[str, Any] = recovered_finding["figures"] if recovered_finding else {}
    recovery_s = _number(figures.get(recovery.RECOVERY_S))
    never = recovered_finding is not None and recovered_finding["status"] == Status.FAIL and recovery_s is None
    recovered = True if recovery_s is not None else (False if never else None)
    during = run.get("load", {}).get(FAULTS)
    availability = during["availability"] if during else _number(figures.get(recovery.AVAILABILITY))
    landings = [ms for fault in run["faults"] for key in LANDING_FIGURES
                for ms in _numbers(fault["details"].get(key))]
    return RunPoint(
        run=run_name, scenario=run["scenario"], buggy=run["buggy"], seed=run["seed"],
        started_ns=run["started_ns"] or run["phases"].get("baseline_start", 0),
        verdict=Status(run["verdict"]), recovery_s=recovery_s, recovered=recovered,
        availability=availability, p99_ms=during["p99_ms"] if during else None,
        landing_ms=round(statistics.median(landings), 1) if landings else None,
        findings=tuple(Finding(f["check"], Status(f["status"]), f["summary"]) for f in run["findings"]
                       if f["status"] != Status.PASS),
        storms=of_document(run),
    )


def flag(points: Iterable[RunPoint], *, window: int = WINDOW, factor: float = FACTOR) -> list[RunPoint]:
    """`points` (oldest first) with each one's regressions against the earlier runs of its series."""
    flagged: list[RunPoint] = []
    earlier: dict[str, list[RunPoint]] = {}
    for p in points:
        before = earlier.setdefault(p.series, [])
        flagged.append(replace(p, regressions=tuple(regressions(p, before, window=window, factor=factor))))
        before.append(p)
    return flagged


def regressions(p: RunPoint, before: Sequence[RunPoint], *, window: int = WINDOW,
                factor: float = FACTOR) -> list[Regression]:
    """What got worse in `p` compared with `before` (the earlier runs of its series, oldest first)."""
    found: list[Regression] = []
    if before and before[-1].verdict is Status.PASS and p.verdict is Status.FAIL:
        checks = ", ".join(f.check for f in p.findings if f.status is Status.FAIL)
        found.append(Regression("verdict", f"verdict pass -> fail ({checks or 'no failing check named'})",
                                "pass -> fail"))
    passing = [b for b in before if b.verdict is Status.PASS]
    for metric in METRICS:
        values = [v for v in (metric.value(b) for b in passing) if v is not None][-window:]
        if not values:
            continue
        median = statistics.median(values)
        value = metric.value(p)
        if metric.key == "recovery_s" and p.recovered is False:
            found.append(Regression(metric.key, f"never recovered (median {median:g} s of the last "
                                                f"{len(values)} passing runs)", "never recovered", None, median))
        elif value is not None and value > factor * median and value - median > metric.noise_floor:
            ratio = f"{value / median:.1f}x" if median > 0 else f"+{value - median:g} {metric.unit}"
            found.append(Regression(metric.key, f"{metric.label} {value:g} {metric.unit} = {ratio} the median "
                                                f"{median:g} {metric.unit} of the last {len(values)} passing runs",
                                    f"{metric.short} {ratio}", value, median))
    return found


def newest(points: Sequence[RunPoint], count: int) -> list[RunPoint]:
    """The newest `count` runs of each series, oldest first."""
    kept: dict[str, list[RunPoint]] = {}
    for p in reversed(points):
        series = kept.setdefault(p.series, [])
        if len(series) < count:
            series.append(p)
    keep = {id(p) for series in kept.values() for p in series}
    return [p for p in points if id(p) in keep]


def by_series(points: Iterable[RunPoint]) -> dict[str, list[RunPoint]]:
    grouped: dict[str, list[RunPoint]] = {}
    for p in points:
        grouped.setdefault(p.series, []).append(p)
    return grouped


def coverage(points: Iterable[RunPoint]) -> dict[str, list[Coverage]]:
    """Per series with `pattern: auto` storms: the sites tried over its runs, per target and config."""
    found = {series: accumulate(p.storms for p in runs) for series, runs in by_series(points).items()}
    return {series: sites for series, sites in found.items() if sites}


def newest_run_regressions(points: Sequence[RunPoint]) -> list[RunPoint]:
    """The runs of the newest run directory that regressed (what `--fail-on-regression` fails on)."""
    if not points:
        return []
    latest = max(points, key=lambda p: (p.started_ns, p.run)).run
    return [p for p in points if p.run == latest and p.regressions]


def document(report_dir: Path, points: Sequence[RunPoint], skipped: Sequence[Skipped], *,
             window: int = WINDOW, factor: float = FACTOR) -> dict[str, Any]:
    """`gochaos history --json`: the runs oldest first, each with its regressions, and what was skipped."""
    regressed = newest_run_regressions(points)
    return {
        "report_dir": str(report_dir), "window": window, "factor": factor,
        "newest_run": max(points, key=lambda p: (p.started_ns, p.run)).run if points else None,
        "newest_run_regressed": bool(regressed),
        "runs": [to_json(p) for p in points],
        "coverage": [{"series": series, "target": c.target, "config": c.config, "runs": c.runs, "sites_total": c.total,
                      "sites_tried": len(c.tried), "never_tried": list(c.never) if c.never is not None else None}
                     for series, found in coverage(points).items() for c in found],
        "skipped": [{"path": str(s.path), "reason": s.reason} for s in skipped],
    }


def to_json(p: RunPoint) -> dict[str, Any]:
    """One run for `gochaos history --json`."""
    return {
        "run": p.run, "scenario": p.scenario, "buggy": p.buggy, "seed": p.seed, "started_ns": p.started_ns,
        "verdict": p.verdict.value, "recovery_s": p.recovery_s, "recovered": p.recovered,
        "availability_during_faults": p.availability, "p99_ms_during_faults": p.p99_ms,
        "fault_landing_ms": p.landing_ms,
        "findings": [{"check": f.check, "status": f.status.value, "summary": f.summary} for f in p.findings],
        "regressions": [{"metric": r.metric, "text": r.text, "short": r.short, "value": r.value, "median": r.median}
                        for r in p.regressions],
    }


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _numbers(value: Any) -> list[float]:
    if isinstance(value, list):
        return [v for v in (_number(item) for item in value) if v is not None]
    single = _number(value)
    return [] if single is None else [single]
