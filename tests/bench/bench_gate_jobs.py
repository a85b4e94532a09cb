"""The gate with its members side by side: wall time of `--jobs 2` against `--jobs 1`, and equal verdicts.

    .venv/bin/python tests/bench/bench_gate_jobs.py [--runs 10] [--first-seed 1] [--out FILE]

Runs `gochaos run gate` (fixed builds) and `gochaos reproduce gate` (buggy builds) once each with `--jobs 1`,
then `--runs` times each with `--jobs 2`, seeds first-seed, first-seed + 1, ..., alternating fixed and buggy,
each in a new process as a user runs it. Figures: wall time per run, the ratio of the `--jobs 2` median to
the `--jobs 1` run of the same build (target: at most 0.6 on 2 cores), and the verdicts (fixed: every run
PASS; buggy: every run FAIL), with the findings of any run that did not. Writes
tests/bench/results/gate_jobs.json.
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

RESULTS = Path(__file__).resolve().parent / "results"
ROOT = Path(__file__).resolve().parents[2]
TARGET_RATIO = 0.6


def gate(command: str, jobs: int, seed: int) -> dict[str, Any]:
    """`gochaos COMMAND gate --jobs JOBS --seed SEED` in a new process: its wall time and verdicts."""
    with tempfile.TemporaryDirectory(prefix="gochaos-bench-jobs-") as tmp:
        started = time.monotonic()
        done = subprocess.run([sys.executable, "-m", "chaos.cli", command, "gate", "--jobs", str(jobs), "--seed",
                               str(seed), "--report-dir", tmp], capture_output=True, text=True, check=False,
                              timeout=1200, cwd=ROOT)
        wall_s = time.monotonic() - started
        report_file = Path(tmp) / "report.json"
        if not report_file.is_file():
            raise SystemExit(f"gochaos {command} gate exited {done.returncode} with no report:\n{done.stderr[-2000:]}")
        report = json.loads(report_file.read_text(encoding="utf-8"))
    return {"command": command, "jobs": jobs, "seed": seed, "wall_s": round(wall_s, 2), "verdict": report["verdict"],
            "scenarios": {r["scenario"]: {"verdict": r["verdict"],
                                          "not_passing": {f["check"]: f["summary"] for f in r["findings"]
                                                          if f["status"] != "pass"}}
                          for r in report["runs"]}}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10, help="--jobs 2 runs per build")
    parser.add_argument("--first-seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=RESULTS / "gate_jobs.json")
    args = parser.parse_args()
    expected = {"run": "pass", "reproduce": "fail"}
    serial = {command: gate(command, 1, args.first_seed) for command in expected}
    for command, run in serial.items():
        print(f"{command} gate --jobs 1: {run['verdict']} in {run['wall_s']} s", flush=True)
    side_by_side: dict[str, list[dict[str, Any]]] = {command: [] for command in expected}
    for seed in range(args.first_seed, args.first_seed + args.runs):
        for command in expected:
            run = gate(command, 2, seed)
            side_by_side[command].append(run)
            print(f"{command} gate --jobs 2 --seed {seed}: {run['verdict']} in {run['wall_s']} s", flush=True)
    figures: dict[str, Any] = {}
    for command, want in expected.items():
        runs = side_by_side[command]
        median = statistics.median(r["wall_s"] for r in runs)
        figures[command] = {
            "expected_verdict": want, "jobs_1_wall_s": serial[command]["wall_s"],
            "jobs_1_verdict": serial[command]["verdict"], "jobs_2_median_wall_s": round(median, 2),
            "jobs_2_wall_s": [r["wall_s"] for r in runs],
            "ratio": round(median / serial[command]["wall_s"], 3), "target_ratio": TARGET_RATIO,
            "jobs_2_as_expected": sum(r["verdict"] == want for r in runs), "jobs_2_runs": len(runs),
            "unexpected": [r for r in runs if r["verdict"] != want]}
        f = figures[command]
        print(f"{command}: --jobs 2 median {f['jobs_2_median_wall_s']} s vs --jobs 1 {f['jobs_1_wall_s']} s "
              f"(ratio {f['ratio']}, target <= {TARGET_RATIO}); {f['jobs_2_as_expected']}/{f['jobs_2_runs']} {want}")
    write_report(args.out, {"benchmark": "gate_jobs", "machine": machine_info(), "command": command_line(),
                            "figures": figures, "serial": serial})
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
