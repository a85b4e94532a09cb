"""Leader loss on a real 3-member etcd cluster: operation -> new leader first observed, per mode.

    .venv/bin/python tests/bench/bench_leader_loss.py [--trials 10] [--out FILE]

Writes JSON (machine, command, per-mode samples and p50/p99 in ms) to
tests/bench/results/leader_loss.json by default. The cluster uses the suite's defaults:
heartbeat 50 ms, election timeout 500 ms, so kill/pause/isolate should land near one election
timeout plus a randomised election delay, and move-leader far below it.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from machine import command_line, machine_info

from chaos.build import build
from chaos.etcd import EtcdCluster
from chaos.netfilter import iptables_available

RESULTS = Path(__file__).resolve().parent / "results"


def quantile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--out", type=Path, default=RESULTS / "leader_loss.json")
    args = parser.parse_args()
    etcd = build(["etcd"])["etcd"]
    modes = ["move", "kill", "pause"] + (["isolate"] if iptables_available() is None else [])
    samples: dict[str, list[float]] = {m: [] for m in modes}
    with tempfile.TemporaryDirectory(prefix="gochaos-bench-") as tmp:
        cluster = EtcdCluster(etcd_binary=etcd, base_dir=Path(tmp))
        cluster.start()
        try:
            for _ in range(args.trials):
                for mode in modes:
                    if mode == "move":
                        samples[mode].append(cluster.move_leader().elapsed_ms)
                        continue
                    old, change = cluster.lose_leader(mode)
                    samples[mode].append(change.elapsed_ms)
                    {"kill": cluster.restart, "pause": cluster.resume, "isolate": cluster.heal}[mode](old)
                    cluster.wait_for_leader()
        finally:
            cluster.stop()
    figures = {
        mode: {"trials": len(values), "p50_ms": round(statistics.median(values), 1),
               "p99_ms": round(quantile(values, 0.99), 1), "min_ms": round(min(values), 1),
               "max_ms": round(max(values), 1), "samples_ms": [round(v, 1) for v in values]}
        for mode, values in samples.items()
    }
    report = {"benchmark": "leader_loss", "machine": machine_info(), "command": command_line(),
              "cluster": {"members": 3, "heartbeat_ms": 50, "election_ms": 500},
              "figures": figures}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    for mode, f in figures.items():
        print(f"{mode:8} p50 {f['p50_ms']:7.1f} ms  p99 {f['p99_ms']:7.1f} ms  (n={f['trials']})")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
