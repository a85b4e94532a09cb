"""Flake rate of the gate: `gochaos run gate` N times in a row on the fixed targets.

    .venv/bin/python tests/bench/bench_gate_flake.py [--runs 10] [--out FILE]

Each run is a new process with seeds drawn as a user's run draws them (printed in the report, so
any non-PASS run can be replayed with `gochaos run <scenario> --seed S`). A correct service must
PASS every time: the flake rate is the share of runs that did not, and the JSON lists, for each
such run, the scenario, its seed and the checks that did not pass. Writes
tests/bench/results/gate_flake.json (machine, command, runs, flake rate).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_gate import RESULTS, gate_once
from machine import command_line, machine_info, write_report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--out", type=Path, default=RESULTS / "gate_flake.json")
    args = parser.parse_args()
    runs = []
    for i in range(args.runs):
        run = gate_once(seed=None)
        runs.append(run)
        odd = {name: s for name, s in run["scenarios"].items() if s["verdict"] != "pass"}
        print(f"run {i + 1}/{args.runs}: {run['verdict'].upper()} in {run['wall_s']} s"
              + (f"; not passing: {odd}" if odd else ""), flush=True)
    flaky = [r for r in runs if r["verdict"] != "pass"]
    report = {"benchmark": "gate_flake", "machine": machine_info(), "command": command_line(),
              "runs": len(runs), "non_pass_runs": len(flaky), "flake_rate": len(flaky) / len(runs),
              "details": runs}
    write_report(args.out, report)
    print(f"flake rate {len(flaky)}/{len(runs)}; wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
