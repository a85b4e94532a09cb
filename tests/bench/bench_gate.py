"""Gate wall time and detection power of the bundled incident scenarios on this machine.

    .venv/bin/python tests/bench/bench_gate.py [--trials 10] [--out FILE]

Runs every incident scenario `--trials` times against the buggy build and against the fixed one,
and writes JSON (machine, command, figures) to tests/bench/results/gate.json:
- detection rate (buggy runs that FAIL) and false-positive rate (fixed runs that do not PASS);
- time to detect: from the first fault action (or the baseline start, for a scenario whose
  fault is the traffic itself) to the earliest evidence of the first failing finding;
- wall time per run split into setup (build, etcd, targets, load start), the baseline + fault +
  observation windows (the irreducible part) and the rest (judging, teardown): the overhead.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from machine import command_line, machine_info

from chaos.runner import RunResult, run_scenario
from chaos.scenario import load_scenario, resolve
from chaos.verdict import Status

RESULTS = Path(__file__).resolve().parent / "results"
SCENARIOS = ("reload-panic", "cache-map-race", "etcd-leader-loss", "gc-pressure")


def one(name: str, buggy: bool, seed: int) -> dict[str, object]:
    path = resolve(name)
    started = time.time_ns()
    result: RunResult = run_scenario(load_scenario(path), base_dir=path.parent, buggy=buggy, seed=seed)
    ended = time.time_ns()
    phases = result.phases
    windows_s = (phases.observe_end - phases.baseline_start) / 1e9
    wall_s = (ended - started) / 1e9
    first_fault = min((e.t_ns for e in result.timeline.events(kind="fault.start")), default=phases.baseline_start)
    failing = [f for f in result.verdict.findings if f.status is Status.FAIL]
    evidence = [e.t_ns for f in failing for e in f.evidence if e.t_ns is not None]
    return {
        "verdict": result.verdict.status.value, "seed": seed,
        "failing": [f.check for f in failing],
        "detect_s": round((min(evidence) - first_fault) / 1e9, 3) if evidence else None,
        "wall_s": round(wall_s, 2), "setup_s": round((phases.baseline_start - started) / 1e9, 2),
        "windows_s": round(windows_s, 2),
        "overhead_s": round(wall_s - windows_s, 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--out", type=Path, default=RESULTS / "gate.json")
    args = parser.parse_args()
    figures: dict[str, object] = {}
    for name in SCENARIOS:
        runs = {mode: [one(name, mode == "buggy", seed=1000 + i) for i in range(args.trials)]
                for mode in ("fixed", "buggy")}
        detected = [r for r in runs["buggy"] if r["verdict"] == "fail"]
        false_pos = [r for r in runs["fixed"] if r["verdict"] != "pass"]
        detect = [float(r["detect_s"]) for r in detected if r["detect_s"] is not None]  # type: ignore[arg-type]
        fixed = runs["fixed"]
        figures[name] = {
            "detection_rate": len(detected) / args.trials,
            "false_positive_rate": len(false_pos) / args.trials,
            "detect_s_median": round(statistics.median(detect), 3) if detect else None,
            "fixed_wall_s_median": statistics.median(float(r["wall_s"]) for r in fixed),  # type: ignore[arg-type]
            "fixed_windows_s": fixed[0]["windows_s"],
            "fixed_overhead_s_median": statistics.median(float(r["overhead_s"]) for r in fixed),  # type: ignore[arg-type]
            "runs": runs,
        }
        f = figures[name]
        print(f"{name:18} detection {f['detection_rate']:.0%}  false positives {f['false_positive_rate']:.0%}  "  # type: ignore[index]
              f"detect {f['detect_s_median']} s  fixed wall {f['fixed_wall_s_median']} s "  # type: ignore[index]
              f"(windows {f['fixed_windows_s']} s, overhead {f['fixed_overhead_s_median']} s)", flush=True)  # type: ignore[index]
    gate_windows = sum(float(f["fixed_windows_s"]) for f in figures.values())  # type: ignore[index]
    gate_wall = sum(float(f["fixed_wall_s_median"]) for f in figures.values())  # type: ignore[index]
    summary = {"gate_wall_s": round(gate_wall, 1), "gate_windows_s": round(gate_windows, 1),
               "gate_overhead_pct_of_windows": round(100 * (gate_wall - gate_windows) / gate_windows, 1)}
    report = {"benchmark": "gate", "machine": machine_info(), "command": command_line(),
              "trials": args.trials, "summary": summary, "scenarios": figures}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    print(f"gate: {summary}; wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
