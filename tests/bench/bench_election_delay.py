"""An etcd leader election under a slow peer network: the leader killed while chaosproxy delays every raft
message between the members, against the same kill on a clean network, in one run.

    .venv/bin/python tests/bench/bench_election_delay.py [--trials 3] [--latency-ms 50 200] [--out FILE]

Each trial runs two scenarios (`gochaos run`, a process each) on the bundled kvd under read-after-write
load, with a 3-member etcd (heartbeat 50 ms, election timeout 500 ms): `clean` kills the leader;
`delayed` first puts a `latency-ms` delay on each member's etcd-peer link, both ways (every raft message
crosses exactly one link once: the streams a member reads from a peer flow back on the link into that
peer, the messages it posts flow out on it), then kills the leader a second later. From each run's
report: the time to a new leader (the leader_loss fault's `new_leader_after_ms`, also on the timeline as
an `etcd.leader` event), the delay each network fault measured on its link (GET /version probes through
it), and the verdict. Writes tests/bench/results/election_delay.json: per delay, the median time to a
new leader and its ratio to the clean one. A candidate's vote requests and their answers each cross a
delayed link, so one election round takes two delays longer; when that round trip nears the election
timeout, the two survivors' randomised timeouts overlap it and their votes split, round after round.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))

from machine import command_line, machine_info, write_report  # noqa: E402

RESULTS = HERE / "results"
#: How long the delays stay on, and the longest wait for a new leader: an election under a delay near the
#: election timeout may take many split votes (measured here: ~10 s at 200 ms against a 500 ms timeout).
DELAY_S = 40
ELECTION_WAIT_S = 35
MEMBERS = ("m0", "m1", "m2")


def scenario(name: str, latency_ms: float | None) -> str:
    """The scenario text: kvd on a 3-member etcd, the leader killed at 1 s (after the delays went on)."""
    delays = "".join(
        f"  - injector: network\n    params: {{link: etcd-peer, member: {member}, fault: delay, "
        f"latency_ms: {latency_ms}, direction: both, duration_s: {DELAY_S}}}\n" for member in MEMBERS) \
        if latency_ms else ""
    return (f"name: {name}\n"
            "targets:\n  - bundled: kvd\n    flags: {ctx_mode: isolated, request_timeout: 2s}\n"
            "etcd: {members: 3, heartbeat_ms: 50, election_ms: 500}\n"
            "load: {users: 4, spawn_rate: 50}\n"
            "windows: {baseline_s: 2, observe_s: 3}\n"
            "faults:\n" + delays +
            "  - injector: leader_loss\n    at_s: 1\n"
            f"    params: {{mode: kill, duration_s: 1, election_timeout_s: {ELECTION_WAIT_S}}}\n"
            "oracles: [panics]\n")


def run_one(folder: Path, name: str, latency_ms: float | None, seed: int) -> dict[str, Any]:
    path = folder / f"{name}.chaos.yaml"
    path.write_text(scenario(name, latency_ms), encoding="utf-8")
    reports = folder / f"reports-{name}-{seed}"
    done = subprocess.run([sys.executable, "-m", "chaos.cli", "run", str(path), "--seed", str(seed),
                           "--report-dir", str(reports)], cwd=ROOT, capture_output=True, text=True, timeout=600)
    report_file = reports / "report.json"
    if not report_file.exists():
        return {"error": (done.stdout + done.stderr)[-2000:]}
    report = json.loads(report_file.read_text(encoding="utf-8"))
    faults = report.get("faults", [])
    loss: dict[str, Any] = next((f for f in faults if f.get("name") == "leader_loss"), {})
    nets = [f for f in faults if f.get("name") == "network"]
    leaders = [e for e in report.get("events", []) if e.get("kind") == "etcd.leader"]
    return {
        "verdict": report["verdict"],
        "new_leader_after_ms": (loss.get("details") or {}).get("new_leader_after_ms"),
        "leader_events_on_timeline": len(leaders),
        "delay_measured": [{"link": (f.get("details") or {}).get("links"), "landed": f.get("landed"),
                            "observed_added_ms": (f.get("details") or {}).get("observed_added_ms"),
                            "expected_added_ms": (f.get("details") or {}).get("expected_added_ms")}
                           for f in nets],
    }


def median(values: list[float]) -> float | None:
    return round(statistics.median(values), 1) if values else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--latency-ms", type=float, nargs="+", default=[50.0, 200.0])
    parser.add_argument("--out", type=Path, default=RESULTS / "election_delay.json")
    args = parser.parse_args()
    cases: list[tuple[str, float | None]] = [("clean", None)] + [(f"delayed-{ms:g}ms", ms) for ms in args.latency_ms]
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name, _ in cases}
    with tempfile.TemporaryDirectory(prefix="gochaos-bench-") as tmp:
        for trial in range(args.trials):
            for name, latency in cases:
                result = run_one(Path(tmp), name, latency, seed=trial + 1)
                runs[name].append(result)
                print(name, trial + 1, json.dumps(result), flush=True)
    elected = {name: median([r["new_leader_after_ms"] for r in results if r.get("new_leader_after_ms") is not None])
               for name, results in runs.items()}
    clean = elected["clean"]
    figures = {
        "new_leader_after_ms_p50": elected,
        "ratio_to_clean": {name: round(ms / clean, 2) if clean and ms is not None else None
                           for name, ms in elected.items() if name != "clean"},
        "runs": runs,
    }
    write_report(args.out, {"benchmark": "election_delay", "machine": machine_info(), "command": command_line(),
                            "etcd": "3 members, heartbeat 50 ms, election timeout 500 ms", "figures": figures})
    print(json.dumps({k: v for k, v in figures.items() if k != "runs"}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
