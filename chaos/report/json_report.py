"""report.json: the verdict, findings, phases, load, faults and events of a run, for machines.

Schema (version 1, declared in `chaos.report.documents`): {schema, scenario, buggy, seed, verdict,
exit_code, started_ns, phases{...ns}, load{baseline|faults|observe: {requests, errors, availability,
p50_ms, p99_ms}}, scenario_file and artefacts (where known),
findings[{check, status, summary, figures, evidence[{t_ns, text}]}], faults[{name, fault_id,
target, start_ns, end_ns, landed, summary, details}], events[{t_ns, kind, source, details}]}.
Several runs (`write_many`, e.g. a gate): {schema, verdict, exit_code, runs[<one run as above>]},
where the verdict is the worst of the runs' (FAIL, then INCONCLUSIVE, then PASS).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

from chaos.report import overall_status
from chaos.report.documents import (
    BASELINE,
    FAULTS,
    FILENAME,
    OBSERVE,
    SCHEMA_VERSION,
    RunDocument,
    SuiteDocument,
    WindowDocument,
)
from chaos.run_result import RunResult
from chaos.timeline import WindowStats
from chaos.verdict import Verdict

__all__ = ["SCHEMA_VERSION", "to_dict", "write", "write_many"]


def to_dict(result: RunResult) -> RunDocument:
    phases, timeline = result.phases, result.timeline
    spans = {BASELINE: (phases.baseline_start, phases.faults_start),
             FAULTS: (phases.faults_start, phases.faults_end), OBSERVE: (phases.faults_end, phases.observe_end)}
    document: RunDocument = {
        "schema": SCHEMA_VERSION,
        "scenario": result.scenario.name,
        "buggy": result.buggy,
        "seed": result.seed,
        "verdict": result.verdict.status.value,
        "exit_code": int(result.verdict.exit_code),
        "started_ns": result.started_ns,
        "phases": asdict(phases),
        "load": {name: _window(timeline.window(start, end)) for name, (start, end) in spans.items()},
        "findings": [
            {"check": f.check, "status": f.status.value, "summary": f.summary,
             "figures": dict(f.figures),
             "evidence": [{"t_ns": e.t_ns, "text": e.text} for e in f.evidence]}
            for f in result.verdict.findings
        ],
        "faults": [
            {"name": r.name, "fault_id": r.fault_id, "target": r.target, "start_ns": r.start_ns,
             "end_ns": r.end_ns, "landed": r.outcome.landed, "summary": r.outcome.summary,
             "details": dict(r.outcome.details)}
            for r in result.faults
        ],
        "events": [{"t_ns": e.t_ns, "kind": e.kind.value, "source": e.source, "details": dict(e.details)}
                   for e in timeline.events()],
    }
    # where the run came from and what it kept, absolute so that they read from anywhere
    source = result.scenario.source
    if source is not None and Path(source.path).is_file():  # a scenario written in Python has no file
        document["scenario_file"] = str(Path(source.path).resolve())
    if result.run_dir is not None:
        document["artefacts"] = str(Path(result.run_dir).resolve())
    return document


def _window(stats: WindowStats) -> WindowDocument:
    return {"requests": stats.count, "errors": stats.errors,
            "availability": round(1 - stats.error_rate, 5) if stats.count else None,
            "p50_ms": _ms(stats.p50_ms), "p99_ms": _ms(stats.p99_ms)}


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def write(result: RunResult, directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / FILENAME
    path.write_text(json.dumps(to_dict(result), indent=2, default=str), encoding="utf-8")
    return path


def write_many(results: Sequence[RunResult], directory: Path) -> Path:
    """One report.json for several runs: the overall verdict and each run's report in `runs`."""
    overall = Verdict(overall_status(r.verdict.status for r in results), ())
    document: SuiteDocument = {"schema": SCHEMA_VERSION, "verdict": overall.status.value,
                               "exit_code": int(overall.exit_code), "runs": [to_dict(r) for r in results]}
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / FILENAME
    path.write_text(json.dumps(document, indent=2, default=str), encoding="utf-8")
    return path
