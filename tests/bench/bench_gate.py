"""Gate wall time and detection power of the bundled incident scenarios on this machine.

    .venv/bin/python tests/bench/bench_gate.py [--trials 10] [--gate-runs 3] [--out FILE]

Writes JSON (machine, command, figures) to tests/bench/results/gate.json:
- gate wall time: `gochaos run gate` end to end as a user runs it (`--gate-runs` times, a new
  process each), split with its report.json into setup (build check, etcd, targets, load start),
  the baseline + fault + observation windows (the irreducible part) and the rest (process start,
  judging, teardown, reports): the overhead, whose target is at most 25 % of the windows;
- detection power: every incident scenario `--trials` times against the buggy build and against
  the fixed one: detection rate (buggy runs that FAIL), false-positive rate (fixed runs that do
  not PASS), and time to detect: from the first fault action (or the baseline start, for a
  scenario whose fault is the traffic itself) to the earliest evidence of the first failing finding.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from machine import command_line, machine_info, write_report

from chaos.run_result import RunResult
from chaos.runner import run_scenario
from chaos.scenario import load_scenario, resolve
from chaos.timeline import EventKind
from chaos.verdict import Status

RESULTS = Path(__file__).resolve().parent / "results"
SCENARIOS = ("reload-panic", "cache-map-race", "etcd-leader-loss", "gc-pressure")
GOCHAOS = Path(sys.executable).with_name("gochaos")
OVERHEAD_TARGET_PCT = 25.0


def gate_once(seed: int | None) -> dict[str, Any]:
    """Run `gochaos run gate` in a new process; split its wall time with its report.json.

    With `seed` None every scenario draws its own seed, as a user's run does.
    """
    with tempfile.TemporaryDirectory(prefix="gochaos-bench-gate-") as tmp:
        started = time.monotonic()
        seed_args = ["--seed", str(seed)] if seed is not None else []
        done = subprocess.run([str(GOCHAOS), "run", "gate", "--report-dir", tmp, *seed_args],
                              capture_output=True, text=True, check=False)
        wall_s = time.monotonic() - started
        if done.returncode not in (0, 1, 2):
            raise SystemExit(f"gochaos run gate exited {done.returncode}:\n{done.stderr[-2000:]}")
        report = json.loads((Path(tmp) / "report.json").read_text(encoding="utf-8"))
    runs = report["runs"]
    setup_s = sum(r["phases"]["baseline_start"] - r["started_ns"] for r in runs) / 1e9
    windows_s = sum(r["phases"]["observe_end"] - r["phases"]["baseline_start"] for r in runs) / 1e9
    rest_s = wall_s - setup_s - windows_s
    return {"verdict": report["verdict"], "seed": seed, "wall_s": round(wall_s, 2), "setup_s": round(setup_s, 2),
            "windows_s": round(windows_s, 2), "overhead_s": round(rest_s, 2),
            "overhead_pct_of_windows": round(100 * rest_s / windows_s, 1),
            "scenarios": {r["scenario"]: {"verdict": r["verdict"], "seed": r["seed"],
                                          "failing": [f["check"] for f in r["findings"] if f["status"] != "pass"]}
                          for r in runs}}


def one(name: str, buggy: bool, seed: int) -> dict[str, object]:
    path = resolve(name)
    started = time.time_ns()
    result: RunResult = run_scenario(load_scenario(path), base_dir=path.parent, buggy=buggy, seed=seed)
    ended = time.time_ns()
    phases = result.phases
    windows_s = (phases.observe_end - phases.baseline_start) / 1e9
    wall_s = (ended - started) / 1e9
    first_fault = min((e.t_ns for e in result.timeline.events(kind=EventKind.FAULT_START)),
                      default=phases.baseline_start)
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
    parser.add_argument("--trials", type=int, default=10, help="runs per scenario and build")
    parser.add_argument("--gate-runs", type=int, default=3, help="end-to-end `gochaos run gate` runs")
    parser.add_argument("--out", type=Path, default=RESULTS / "gate.json")
    args = parser.parse_args()
    gates = [gate_once(seed=2000 + i) for i in range(args.gate_runs)]
    for g in gates:
        print(f"gate run: {g['verdict']}  wall {g['wall_s']} s = setup {g['setup_s']} + windows {g['windows_s']} "
              f"+ overhead {g['overhead_s']} s ({g['overhead_pct_of_windows']} % of the windows)", flush=True)
    gate_summary = {
        key: statistics.median(float(g[key]) for g in gates)
        for key in ("wall_s", "setup_s", "windows_s", "overhead_s", "overhead_pct_of_windows")
    } | {"verdicts": [g["verdict"] for g in gates], "overhead_target_pct": OVERHEAD_TARGET_PCT}
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
    summary = {"gate": gate_summary,
               "detection_rate_min": min(float(f["detection_rate"]) for f in figures.values()),  # type: ignore[index]
               "false_positive_rate_max": max(float(f["false_positive_rate"]) for f in figures.values())}  # type: ignore[index]
    report = {"benchmark": "gate", "machine": machine_info(), "command": command_line(),
              "trials": args.trials, "summary": summary, "gate_runs": gates, "scenarios": figures}
    write_report(args.out, report)
    print(f"gate: {summary}; wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
