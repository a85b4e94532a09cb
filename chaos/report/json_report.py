"""report.json: the verdict, findings, phases, faults and events of a run, for machines.

Schema (version 1): {schema, scenario, buggy, seed, verdict, exit_code, started_ns,
phases{...ns},
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
from typing import Any

from chaos.report import overall_status
from chaos.runner import RunResult
from chaos.verdict import Verdict

SCHEMA_VERSION = 1


def to_dict(result: RunResult) -> dict[str, Any]:
    return {
        "schema": SCHEMA_VERSION,
        "scenario": result.scenario.name,
        "buggy": result.buggy,
        "seed": result.seed,
        "verdict": result.verdict.status.value,
        "exit_code": int(result.verdict.exit_code),
        "started_ns": result.started_ns,
        "phases": asdict(result.phases),
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
                   for e in result.timeline.events()],
    }


def write(result: RunResult, directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "report.json"
    path.write_text(json.dumps(to_dict(result), indent=2, default=str), encoding="utf-8")
    return path


def write_many(results: Sequence[RunResult], directory: Path) -> Path:
    """One report.json for several runs: the overall verdict and each run's report in `runs`."""
    overall = Verdict(overall_status(r.verdict.status for r in results), ())
    document = {"schema": SCHEMA_VERSION, "verdict": overall.status.value, "exit_code": int(overall.exit_code),
                "runs": [to_dict(r) for r in results]}
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "report.json"
    path.write_text(json.dumps(document, indent=2, default=str), encoding="utf-8")
    return path
