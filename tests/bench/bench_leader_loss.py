"""Leader loss on a real 3-member etcd cluster: operation -> new leader first observed, per mode,
against etcd's own leader change time.

    .venv/bin/python tests/bench/bench_leader_loss.py [--trials 10] [--out FILE]

Writes JSON (machine, command, per-mode samples and p50/p99 in ms) to
tests/bench/results/leader_loss.json by default. For every trial it takes three times: the
operation, the moment etcd itself says a new member "became leader" (the raft log line's own
timestamp, from the new leader's log), and the moment the suite first observed that leader
through the Maintenance Status API. `elected_ms` is etcd's part (operation -> elected),
`observe_lag_ms` the suite's (elected -> observed). The cluster uses the suite's defaults:
heartbeat 50 ms, election timeout 500 ms, so kill/pause/isolate should land near one election
timeout plus a randomised election delay, and move-leader far below it.
"""

from __future__ import annotations

import argparse
import datetime
import re
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from machine import command_line, machine_info, quantile, write_report

from chaos.build import build
from chaos.platform.local.etcd import EtcdCluster
from chaos.platform.local.netfilter import iptables_available

RESULTS = Path(__file__).resolve().parent / "results"
BECAME_LEADER = re.compile(r'"ts":"(?P<ts>[^"]+)".*became leader at term')


def elected_ns(cluster: EtcdCluster, leader: str, after_ns: int) -> int | None:
    """When etcd's raft says `leader` became leader (its own log timestamp), after `after_ns`."""
    for line in cluster.member(leader).process.lines(since_ns=after_ns):
        found = BECAME_LEADER.search(line.text)
        if found:
            stamp = datetime.datetime.fromisoformat(found["ts"].replace("Z", "+00:00"))
            ns = round(stamp.timestamp() * 1e6) * 1000
            if ns >= after_ns:
                return ns
    return None



def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--out", type=Path, default=RESULTS / "leader_loss.json")
    args = parser.parse_args()
    etcd = build(["etcd"])["etcd"]
    modes = ["move", "kill", "pause"] + (["isolate"] if iptables_available() is None else [])
    samples: dict[str, list[float]] = {m: [] for m in modes}
    elected: dict[str, list[float]] = {m: [] for m in modes}
    lag: dict[str, list[float]] = {m: [] for m in modes}
    with tempfile.TemporaryDirectory(prefix="gochaos-bench-") as tmp:
        # info level: raft's "became leader" lines carry etcd's own time of the change
        cluster = EtcdCluster(etcd_binary=etcd, base_dir=Path(tmp), log_level="info")
        cluster.start()
        try:
            for _ in range(args.trials):
                for mode in modes:
                    if mode == "move":
                        change = cluster.move_leader()
                    else:
                        old, change = cluster.lose_leader(mode)
                        {"kill": cluster.restart, "pause": cluster.resume, "isolate": cluster.heal}[mode](old)
                    samples[mode].append(change.elapsed_ms)
                    own = elected_ns(cluster, change.new_leader, change.started_ns)
                    if own is not None:
                        elected[mode].append((own - change.started_ns) / 1e6)
                        lag[mode].append((change.observed_ns - own) / 1e6)
                    cluster.wait_for_leader()
        finally:
            cluster.stop()
    figures = {
        mode: {"trials": len(values), "p50_ms": round(statistics.median(values), 1),
               "p99_ms": round(quantile(values, 0.99), 1), "min_ms": round(min(values), 1),
               "max_ms": round(max(values), 1), "samples_ms": [round(v, 1) for v in values],
               "elected_p50_ms": round(statistics.median(elected[mode]), 1) if elected[mode] else None,
               "observe_lag_p50_ms": round(statistics.median(lag[mode]), 1) if lag[mode] else None,
               "observe_lag_p99_ms": round(quantile(lag[mode], 0.99), 1) if lag[mode] else None,
               "elected_samples_ms": [round(v, 1) for v in elected[mode]],
               "observe_lag_samples_ms": [round(v, 1) for v in lag[mode]]}
        for mode, values in samples.items()
    }
    report = {"benchmark": "leader_loss", "machine": machine_info(), "command": command_line(),
              "cluster": {"members": 3, "heartbeat_ms": 50, "election_ms": 500},
              "figures": figures}
    write_report(args.out, report)
    for mode, f in figures.items():
        print(f"{mode:8} observed p50 {f['p50_ms']:7.1f} ms  p99 {f['p99_ms']:7.1f} ms  "
              f"(etcd elected p50 {f['elected_p50_ms']} ms, observe lag p50 {f['observe_lag_p50_ms']} ms "
              f"p99 {f['observe_lag_p99_ms']} ms; n={f['trials']})")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
