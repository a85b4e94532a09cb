"""Reload storm precision: how close the achieved write intervals come to the requested ones.

    .venv/bin/python tests/bench/bench_reload_precision.py [--rounds 200] [--out FILE]

Runs the `reload_storm` injector (value changes, written by rename as `sed -i` does) against a
real configd on the local platform at 100 ms and at 10 ms requested intervals, and writes JSON
(machine, command, per-interval p50 / p99 / max absolute error in ms, how many versions the
target was seen serving during the storm, and whether it serves the last write after it) to
tests/bench/results/reload_precision.json. The error is what a scenario author must allow for
when a bug needs two writes a given time apart.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from machine import command_line, machine_info, quantile, write_report

from chaos.build import Binaries, build
from chaos.injectors import create
from chaos.injectors.base import InjectionContext, run_fault
from chaos.platform.local.platform import LocalPlatform
from chaos.targets import bundled
from chaos.timeline import Timeline

RESULTS = Path(__file__).resolve().parent / "results"
INTERVALS_MS = (100, 10)



def measure(interval_ms: int, rounds: int, binaries: Binaries) -> dict[str, object]:
    timeline = Timeline()
    with LocalPlatform(timeline=timeline, binaries=binaries) as platform:
        platform.start_target(bundled("configd"))
        ctx = InjectionContext(platform=platform, timeline=timeline, rng=random.Random(interval_ms))
        injector = create("reload_storm", {"pattern": "value", "rounds": rounds, "interval_ms": interval_ms},
                          "configd")
        report = run_fault(injector, ctx, fault_id=1)
    achieved = [float(a) for a in report.outcome.details["achieved_intervals_ms"]]
    errors = [abs(a - interval_ms) for a in achieved]
    return {"requested_ms": interval_ms, "writes": report.outcome.details["writes"],
            "error_p50_ms": round(statistics.median(errors), 2), "error_p99_ms": round(quantile(errors, 0.99), 2),
            "error_max_ms": round(max(errors), 2), "achieved_mean_ms": round(statistics.fmean(achieved), 3),
            "valid_versions_seen_live": report.outcome.details["valid_versions_seen_live"],
            "serves_last_write": report.outcome.details["live_version"] == report.outcome.details["last_valid_version"],
            "landed": report.outcome.landed}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200, help="writes per requested interval")
    parser.add_argument("--out", type=Path, default=RESULTS / "reload_precision.json")
    args = parser.parse_args()
    binaries = build(["configd"])
    figures = {f"{ms}ms": measure(ms, args.rounds, binaries) for ms in INTERVALS_MS}
    report = {"benchmark": "reload_precision", "machine": machine_info(), "command": command_line(),
              "figures": figures}
    write_report(args.out, report)
    for f in figures.values():
        print(f"requested {f['requested_ms']:>3} ms: error p50 {f['error_p50_ms']} ms, p99 {f['error_p99_ms']} ms, "
              f"max {f['error_max_ms']} ms over {f['writes']} writes; seen live during the storm: "
              f"{f['valid_versions_seen_live']}; serves the last write: {f['serves_last_write']}")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
