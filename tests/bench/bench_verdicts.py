"""Verdicts over many seeds on greeter, a service shaped like a team's own: each buggy build must get
its verdict, each fixed build must pass.

    .venv/bin/python tests/bench/bench_verdicts.py [--seeds 10] [--first-seed 1] [--case NAME ...] [--out FILE]

For every case the buggy build runs once per seed (`gochaos run FILE --seed S`, a new process each) and
its report is checked for the verdict and the finding the bug deserves; then the fixed build runs on
the same seeds and must PASS. Writes tests/bench/results/verdicts.json: per case the detection rate
(buggy runs with the right verdict from the right check), the false-positive rate (fixed runs that did
not pass), and every run that missed, with its seed and findings, so it can be replayed.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))

from machine import command_line, machine_info, write_report  # noqa: E402

from chaos.build import Binaries  # noqa: E402

TEMPLATES = ROOT / "tests" / "integration" / "greeter"
RESULTS = HERE / "results"


def finding(report: dict[str, Any], check: str) -> dict[str, Any]:
    return next((f for f in report["findings"] if f["check"] == check), {"status": "absent", "summary": ""})


@dataclass(frozen=True)
class Case:
    name: str
    template: str
    buggy: tuple[str, ...]
    fixed: tuple[str, ...]
    #: Does a buggy run's report carry the verdict this bug deserves, from the right check?
    caught: Callable[[dict[str, Any]], bool]
    #: The scenario the fixed build runs (None: the buggy build's): its counterpart that can pass.
    fixed_template: str | None = None


CASES = (
    Case("crash-in-reload", "reload", ("--bug=reload-crash",), ("--bug=none",),
         lambda r: r["verdict"] == "fail" and "makeslice: len out of range" in finding(r, "panics")["summary"]),
    Case("fails-every-request", "reload", ("--bug=accept-invalid",), ("--bug=none",),
         lambda r: r["verdict"] == "fail" and finding(r, "steady_state")["status"] == "fail"),
    Case("shows-no-live-config", "unwatched", ("--config-metric=false",), ("--bug=none",),
         lambda r: r["verdict"] == "inconclusive"
         and "it has no live probe" in finding(r, "fault:reload_storm#1")["summary"],
         fixed_template="reload"),  # the same service showing its config, watched by probes
    Case("leak-prometheus-only", "reload", ("--bug=leak-goroutines",), ("--bug=none",),
         lambda r: r["verdict"] == "fail" and "per reload" in finding(r, "leaks")["summary"]),
    Case("leak-pprof-only", "reload", ("--bug=leak-goroutines", "--observe=pprof"), ("--observe=pprof",),
         lambda r: r["verdict"] == "fail" and "more created by " in finding(r, "leaks")["summary"]),
    Case("stuck-reload", "valid-only", ("--bug=stuck-reload",), ("--bug=none",),
         lambda r: r["verdict"] == "fail" and "stuck or lost reload" in finding(r, "fault:reload_storm#1")["summary"]),
)


def run_once(binary: Path, template: str, flags: tuple[str, ...], seed: int, work: Path, *,
             templates: Path = TEMPLATES, config: str = "greeter.json") -> dict[str, Any]:
    """One `gochaos run` of the template with `flags` (its `config` beside it): exit code, verdict, findings."""
    folder = Path(tempfile.mkdtemp(dir=work))
    text = (templates / f"{template}.chaos.yaml").read_text()
    text = text.replace("SERVICE_BINARY", str(binary)).replace("FLAGS", ", ".join(f'"{f}"' for f in flags))
    (folder / config).write_text((templates / config).read_text())
    scenario = folder / "s.chaos.yaml"
    scenario.write_text(text)
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "chaos.cli", "run", str(scenario), "--seed", str(seed),
                           "--report-dir", str(folder / "r")], capture_output=True, text=True, timeout=600, cwd=ROOT)
    try:
        report = json.loads((folder / "r" / "report.json").read_text())
    except OSError:
        report = {"verdict": "no report", "findings": []}
    return {"seed": seed, "exit_code": done.returncode, "wall_s": round(time.monotonic() - started, 1),
            "report_dir": str(folder / "r"),
            "verdict": report["verdict"], "findings": [{k: f[k] for k in ("check", "status", "summary")}
                                                        for f in report["findings"] if f["status"] != "pass"],
            "report": report}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--first-seed", type=int, default=1)
    parser.add_argument("--case", action="append", choices=[c.name for c in CASES])
    parser.add_argument("--out", type=Path, default=RESULTS / "verdicts.json")
    args = parser.parse_args()
    binary = Binaries()["greeter"]
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    cases = [c for c in CASES if not args.case or c.name in args.case]
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-verdicts-") as tmp:
        work = Path(tmp)
        for case in cases:
            buggy = [run_once(binary, case.template, case.buggy, seed, work) for seed in seeds]
            fixed = [run_once(binary, case.fixed_template or case.template, case.fixed, seed, work) for seed in seeds]
            caught = [case.caught(r["report"]) for r in buggy]
            missed = [{k: v for k, v in r.items() if k != "report"} for r, ok in zip(buggy, caught, strict=True)
                      if not ok]
            false = [{k: v for k, v in r.items() if k != "report"} for r in fixed if r["verdict"] != "pass"]
            results.append({"case": case.name, "buggy_flags": case.buggy, "fixed_flags": case.fixed,
                            "runs": len(seeds), "detected": sum(caught), "detection_rate": sum(caught) / len(seeds),
                            "false_positives": len(false), "false_positive_rate": len(false) / len(seeds),
                            "median_wall_s": sorted(r["wall_s"] for r in buggy + fixed)[len(seeds)],
                            "missed": missed, "fixed_not_passing": false})
            print(f"{case.name}: detected {sum(caught)}/{len(seeds)}, false positives {len(false)}/{len(seeds)}",
                  flush=True)
    write_report(args.out, {"benchmark": "verdicts", "machine": machine_info(), "command": command_line(),
                            "seeds": list(seeds), "cases": results})
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
