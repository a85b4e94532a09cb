"""Hunting over many seeds on hunted: does exploration find each reload bug nobody declared, does the fixed
build pass every site, and how fast does `gochaos shrink` reduce what was found?

    .venv/bin/python tests/bench/bench_hunting.py [--seeds 10] [--first-seed 1] [--bug NAME ...] [--out FILE]

Deterministic bugs: `pattern: auto, rounds: auto` once per seed (tests/integration/hunted/explore.chaos.yaml);
caught = FAIL from `panics`. The racy ones (a slice shrunk in place under a reader; a map written by the reload
while handlers read it, race-built): the flap storm (flap.chaos.yaml) once per seed, its detection rate (a race
shows in some runs only). The fixed build runs the explore and flap storms on the same seeds (the flap storm also
race-built) and must PASS. Then one caught failure per bug is shrunk (`gochaos shrink`): writes before and after, trial
runs, seconds, and whether the written scenario fails again on its own. Writes
tests/bench/results/hunting.json.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))

from bench_verdicts import RESULTS, run_once  # noqa: E402
from machine import command_line, machine_info, write_report  # noqa: E402

from chaos.build import Binaries  # noqa: E402

TEMPLATES = ROOT / "tests" / "integration" / "hunted"
DETERMINISTIC = ("empty-list-index", "empty-string-index", "zero-division", "negative-make", "nil-map-after-remove")
RACY = ("slice-shrink-race", "map-race")
#: Bugs that need the race detector to show: their runs use the race-built binary.
RACE_BUILT = ("map-race",)


def hunt(binary: Path, template: str, bug: str, seed: int, work: Path) -> dict[str, Any]:
    return run_once(binary, template, (f"--bug={bug}",), seed, work, templates=TEMPLATES, config="hunted.yaml")


def caught(run: dict[str, Any]) -> bool:
    return run["verdict"] == "fail" and any(f["check"] == "panics" and f["status"] == "fail"
                                            for f in run["report"]["findings"])


def shrink(run: dict[str, Any]) -> dict[str, Any]:
    """`gochaos shrink` of a failed run, then the written scenario run on its own."""
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "chaos.cli", "shrink", run["report_dir"]], capture_output=True,
                          text=True, timeout=1800, cwd=ROOT)
    seconds = round(time.monotonic() - started, 1)
    summary = next((line for line in done.stdout.splitlines() if " writes -> " in line), done.stdout[-300:])
    written = Path(run["report_dir"]).parent / "hunted-explore-shrunk.chaos.yaml"
    again = subprocess.run([sys.executable, "-m", "chaos.cli", "run", str(written), "--no-report"],
                           capture_output=True, text=True, timeout=600, cwd=ROOT) if written.is_file() else None
    return {"exit_code": done.returncode, "seconds": seconds, "summary": summary,
            "fails_again_on_its_own": again is not None and again.returncode == 1}


def summary_of(run: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in run.items() if k not in ("report", "report_dir")}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--first-seed", type=int, default=1)
    parser.add_argument("--bug", action="append", choices=[*DETERMINISTIC, *RACY])
    parser.add_argument("--out", type=Path, default=RESULTS / "hunting.json")
    args = parser.parse_args()
    binaries = Binaries()
    binary, race_binary = binaries["hunted"], binaries.get("hunted", race=True)
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    bugs = args.bug or [*DETERMINISTIC, *RACY]
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-hunting-") as tmp:
        work = Path(tmp)
        for bug in bugs:
            template = "flap" if bug in RACY else "explore"
            built = race_binary if bug in RACE_BUILT else binary
            runs = [hunt(built, template, bug, seed, work) for seed in seeds]
            hits = [r for r in runs if caught(r)]
            entry: dict[str, Any] = {"bug": bug, "storm": template, "runs": len(runs), "caught": len(hits),
                                     "detection_rate": len(hits) / len(runs),
                                     "missed": [summary_of(r) for r in runs if not caught(r)]}
            if hits and template == "explore":
                entry["shrink"] = shrink(hits[0])
            results.append(entry)
            print(f"{bug}: caught {len(hits)}/{len(runs)}" + (f"; shrink: {entry['shrink']['summary']}"
                                                              if "shrink" in entry else ""), flush=True)
        fixed = {template: [hunt(binary, template, "none", seed, work) for seed in seeds]
                 for template in ("explore", "flap")}
        fixed["flap (race-built)"] = [hunt(race_binary, "flap", "none", seed, work) for seed in seeds]
    not_passing = {t: [summary_of(r) for r in runs if r["verdict"] != "pass"] for t, runs in fixed.items()}
    for template, runs in fixed.items():
        print(f"fixed build, {template}: {len(runs) - len(not_passing[template])}/{len(runs)} pass", flush=True)
    write_report(args.out, {"benchmark": "hunting", "machine": machine_info(), "command": command_line(),
                            "seeds": list(seeds), "bugs": results,
                            "fixed_build": {t: {"runs": len(r), "not_passing": not_passing[t]}
                                            for t, r in fixed.items()}})
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
