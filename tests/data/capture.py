"""Capture real runs of the bundled targets' buggy and fixed modes as test data for the oracles.

    .venv/bin/python tests/data/capture.py

Writes, for each case, `runs/<case>.json.gz`: the run's phases, timeline events, every request
record, and each target's output lines (stamped on arrival, with incarnation) and exits. The
oracles' unit tests replay these, so the parsers are tested on what Go really prints and the
oracles on what a real run really looks like. Also writes `race/configd-cache-race.log`: the
output of a `-race` build of configd with `--cache-lock=none` under concurrent traffic.
"""

from __future__ import annotations

import dataclasses
import gzip
import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import requests

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

from chaos.build import Binaries  # noqa: E402
from chaos.ports import free_port  # noqa: E402
from chaos.run_result import RunResult  # noqa: E402
from chaos.runner import run_scenario  # noqa: E402
from chaos.scenario import load_scenario, resolve  # noqa: E402

CASES = {  # case -> (scenario, buggy)
    "reload-panic-unsafe": ("reload-panic", True),
    "reload-panic-atomic": ("reload-panic", False),
    "cache-map-race-none": ("cache-map-race", True),
    "etcd-leader-loss-leaky": ("etcd-leader-loss", True),
    "etcd-leader-loss-isolated": ("etcd-leader-loss", False),
    "gc-pressure-goroutines": ("gc-pressure", True),
    "gc-pressure-none": ("gc-pressure", False),
}


def to_json(result: RunResult) -> dict[str, object]:
    timeline = result.timeline
    return {
        "scenario": result.scenario.name, "buggy": result.buggy, "seed": result.seed,
        "verdict": result.verdict.status.value,
        "phases": dataclasses.asdict(result.phases),
        "events": [[e.t_ns, e.kind, e.source, dict(e.details)] for e in timeline.events()],
        "requests": [[r.t_ns, round(r.latency_ms, 3), r.ok, r.name, r.status, r.error, r.version, r.key,
                      r.expected, r.observed] for r in timeline.requests()],
        "targets": [
            {"name": t.spec.name, "spec": t.spec.model_dump(mode="json"), "restarts": t.restarts,
             "lines": [[line.t_ns, line.stream, line.incarnation, line.text] for line in t.logs()],
             "exits": [dataclasses.asdict(e) for e in t.exits()]}
            for t in result.targets
        ],
    }


def capture_runs(out: Path) -> None:
    for case, (name, buggy) in CASES.items():
        path = resolve(name)
        result = run_scenario(load_scenario(path), base_dir=path.parent, buggy=buggy, seed=20261124)
        data = to_json(result)
        (out / f"{case}.json.gz").write_bytes(gzip.compress(json.dumps(data).encode(), 9))
        print(f"{case}: {result.verdict.status.value}, {len(result.timeline.requests())} requests")


def capture_race(out: Path) -> None:
    binary = Binaries(race=True)["configd"]
    config = out / "config.yaml"
    config.write_text("version: race\nhttp:\n  routes:\n    /: {status: 200, body: ok}\n")
    port = free_port()
    log = out / "configd-cache-race.log"
    with log.open("w") as sink:
        proc = subprocess.Popen([str(binary), f"--listen=127.0.0.1:{port}", f"--config={config}",
                                 "--cache-lock=none"], stderr=sink, stdout=sink)
        try:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and "listening" not in log.read_text():
                time.sleep(0.05)

            def hammer(n: int) -> None:
                session = requests.Session()
                for i in range(200):
                    try:
                        session.put(f"http://127.0.0.1:{port}/cache/k{i % 8}", data=f"v{n}", timeout=2)
                    except requests.RequestException:
                        return

            threads = [threading.Thread(target=hammer, args=(n,)) for n in range(8)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        finally:
            proc.terminate()
            proc.wait(10)
    config.unlink()
    print(f"race: {sum('WARNING: DATA RACE' in line for line in log.read_text().splitlines())} reports")


if __name__ == "__main__":
    (HERE / "runs").mkdir(exist_ok=True)
    (HERE / "race").mkdir(exist_ok=True)
    capture_race(HERE / "race")
    capture_runs(HERE / "runs")
