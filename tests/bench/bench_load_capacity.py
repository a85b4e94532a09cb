"""How many requests per second one Locust process sustains here, next to wrk on the same endpoint.

    python tests/bench/bench_load_capacity.py [--out FILE] [--step-s 5] [--users 1,8,32,64] [--workers 2]

Builds configd from go_targets (or takes --configd BIN), serves one static route on loopback,
then:

1. Locust: one load process (the unit a distributed worker is) through `chaos.load.LoadRun`
   with the built-in configd user on that route only, unpaced, at each user count in turn. The
   figure is the request rate between 1 s after the first request and the last 0.5 s (ramp-up
   and drain excluded), counted from the Timeline. The best step is the capacity.
2. Locust distributed: a master and N workers (`--workers`) at the best user count of step 1;
   on a machine with few cores the workers compete with configd and each other for them.
3. wrk: ``wrk -t1 -c<conns> -d<step>s`` on the same URL (one thread: one core, like Locust).

Writes JSON (machine, command, per-step figures, ratio) to tests/bench/results/load_capacity.json
by default. configd runs on the suite's local platform, which stops it at the end.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from machine import machine_info, write_report  # noqa: E402

from chaos.build import Binaries  # noqa: E402
from chaos.load import LoadRun, LoadSpec  # noqa: E402
from chaos.platform.local.platform import LocalPlatform  # noqa: E402
from chaos.targets import ConfigSpec, TargetSpec, bundled  # noqa: E402
from chaos.timeline import Timeline  # noqa: E402

ROUTE = "/api/hello"
CONFIG = f"""\
version: "bench"
log_level: error
http:
  routes:
    {ROUTE}: {{status: 200, body: "hi"}}
  middleware: []
rate_limits: {{}}
"""
CLK_TCK = os.sysconf("SC_CLK_TCK")


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def _machine() -> dict[str, Any]:
    wrk = subprocess.run(["wrk", "-v"], capture_output=True, text=True)
    return {
        **machine_info(),
        "locust": importlib.metadata.version("locust"),
        "wrk": (wrk.stdout or wrk.stderr).split("\n", 1)[0].strip(),
        "go": subprocess.run(["go", "version"], capture_output=True, text=True).stdout.strip(),
    }


def _configd_spec() -> TargetSpec:
    """configd serving one route, with a config of the benchmark's own."""
    return bundled("configd").model_copy(update={"config": ConfigSpec(initial=CONFIG)})


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def _locust_step(url: str, users: int, step_s: float, configd_pid: int, workers: int = 0) -> dict[str, Any]:
    timeline = Timeline()
    spec = LoadSpec.model_validate({
        "host": url, "user": "configd", "users": users, "spawn_rate": 1000, "duration_s": step_s,
        "request_timeout_s": 10, "workers": workers,
        "configd": {"routes": [ROUTE], "cache_get_weight": 0, "cache_put_weight": 0},
    })
    with LoadRun(spec, timeline) as run:
        time.sleep(1.0)
        pids = run.pids
        t0, c0, g0 = time.monotonic(), sum(map(_cpu_s, pids)), _cpu_s(configd_pid)
        time.sleep(max(0.5, step_s - 1.6))
        t1, c1, g1 = time.monotonic(), sum(map(_cpu_s, pids)), _cpu_s(configd_pid)
        totals = run.wait()
    records = timeline.requests()
    start = records[0].t_ns + 1_000_000_000
    end = records[-1].t_ns - 500_000_000
    window = timeline.window(start, end)
    return {
        "users": users,
        "workers": workers,
        "rps": round(window.rps, 1),
        "requests": totals.num_requests if totals else None,
        "failures": totals.num_failures if totals else None,
        "p50_ms": _ms(window.p50_ms), "p99_ms": _ms(window.p99_ms),
        "locust_cpu_pct": round(100 * (c1 - c0) / (t1 - t0), 1),
        "configd_cpu_pct": round(100 * (g1 - g0) / (t1 - t0), 1),
    }


def _wrk(url: str, step_s: float, connections: int, configd_pid: int) -> dict[str, Any]:
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{step_s:g}s", "--latency", url + ROUTE]
    g0, t0 = _cpu_s(configd_pid), time.monotonic()
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=step_s + 30, check=True)
    g1, t1 = _cpu_s(configd_pid), time.monotonic()
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out.stdout)
    p99 = re.search(r"^\s+99%\s+(\S+)", out.stdout, re.M)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out.stdout)
    if rps is None:
        raise SystemExit(f"cannot read wrk output:\n{out.stdout}\n{out.stderr}")
    return {
        "command": " ".join(cmd),
        "connections": connections,
        "rps": float(rps.group(1)),
        "p99": p99.group(1) if p99 else None,
        "non_2xx": int(errors.group(1)) if errors else 0,
        "configd_cpu_pct": round(100 * (g1 - g0) / (t1 - t0), 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=REPO / "tests/bench/results/load_capacity.json")
    parser.add_argument("--step-s", type=float, default=5.0, help="seconds per measurement")
    parser.add_argument("--users", default="1,8,32,64", help="Locust user counts to try")
    parser.add_argument("--workers", default="2", help="Locust worker counts (a master + N) to try at the best "
                                                       "user count of the single process")
    parser.add_argument("--wrk-connections", type=int, default=32)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk not found: apt-get install -y wrk")

    with LocalPlatform(timeline=Timeline(), binaries=Binaries()) as platform:
        configd = platform.start_target(_configd_spec())
        url = configd.endpoint.url
        assert configd.pid is not None
        steps = []
        for users in (int(u) for u in args.users.split(",")):
            step = _locust_step(url, users, args.step_s, configd.pid)
            print(f"locust users={users:<4} rps={step['rps']:>8}  p99={step['p99_ms']} ms  "
                  f"cpu locust={step['locust_cpu_pct']}% configd={step['configd_cpu_pct']}%",
                  flush=True)
            steps.append(step)
        best = max(steps, key=lambda s: s["rps"])
        distributed = []
        for workers in (int(w) for w in args.workers.split(",") if w):
            step = _locust_step(url, best["users"], args.step_s, configd.pid, workers=workers)
            print(f"locust users={best['users']:<4} workers={workers} rps={step['rps']:>8}  p99={step['p99_ms']} ms  "
                  f"cpu locust={step['locust_cpu_pct']}% configd={step['configd_cpu_pct']}%", flush=True)
            distributed.append(step)
        wrk = _wrk(url, args.step_s, args.wrk_connections, configd.pid)
        print(f"wrk    c={args.wrk_connections:<6} rps={wrk['rps']:>8}  p99={wrk['p99']}  "
              f"cpu configd={wrk['configd_cpu_pct']}%", flush=True)

    result = {
        "benchmark": "load_capacity",
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "machine": _machine(),
        "endpoint": f"GET {ROUTE} on configd (loopback)",
        "step_s": args.step_s,
        "locust": {"process": "one local Locust process (FastHttpUser, unpaced)",
                   "steps": steps, "best_rps": best["rps"], "best_users": best["users"]},
        "locust_workers": {"process": "a Locust master and N worker processes", "steps": distributed,
                           "ratio_to_one_process": {str(d["workers"]): round(d["rps"] / best["rps"], 3)
                                                    for d in distributed}},
        "wrk": wrk,
        "ratio_locust_to_wrk": round(best["rps"] / wrk["rps"], 4),
        "notes": "Locust, wrk and configd share this machine's cores; configd's CPU share "
                 "shows whether the target rather than the generator was the limit.",
    }
    write_report(args.out, result)
    print(f"locust best {best['rps']} rps ({best['users']} users), wrk {wrk['rps']} rps, "
          f"ratio {result['ratio_locust_to_wrk']}; written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
