"""Reload storm precision: how close the achieved write intervals come to the requested ones.

    .venv/bin/python tests/bench/bench_reload_precision.py [--rounds 200] [--out FILE]

Runs the `reload_storm` injector (value changes, written by rename as `sed -i` does) against a
real configd (YAML, its own edits) on the local platform at 100 ms and at 10 ms requested
intervals, and against cfgsvc with a JSON and a TOML config (mutations of its own tree, written
back in its format; its live config read from its Prometheus metrics), and writes JSON
(machine, command, per-interval p50 / p99 / max absolute error in ms, how many versions the
target was seen serving during the storm, and whether it serves the last write after it) to
tests/bench/results/reload_precision.json. The error is what a scenario author must allow for
when a bug needs two writes a given time apart.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from machine import command_line, machine_info, quantile, write_report

from chaos.build import Binaries, build
from chaos.injectors import create
from chaos.injectors.base import InjectionContext, run_fault
from chaos.observe.live_probes import MetricsProbe
from chaos.platform.local.platform import LocalPlatform
from chaos.targets import ConfigSpec, Readiness, TargetSpec, bundled
from chaos.timeline import EventKind, Timeline

RESULTS = Path(__file__).resolve().parent / "results"
INTERVALS_MS = (100, 10)
CONFIGS = Path(__file__).resolve().parents[2] / "go_targets" / "configs"


def cfgsvc(config: str) -> TargetSpec:
    """cfgsvc with `config` (json or toml): no version key, its live config only in its metrics."""
    return TargetSpec(name="cfgsvc", binary="cfgsvc", command=("{binary}", "--config={config}"),
                      config=ConfigSpec(initial=(CONFIGS / config).read_text(), file_name=config),
                      ports=("admin",), readiness=Readiness(http_path=None),
                      live=(MetricsProbe(port="admin", metric="cfgsvc_config_info", label="hash"),))


def watcher_lag_ms(timeline: Timeline, platform: LocalPlatform) -> list[float]:
    """From the service logging a reload (its line, stamped as read) to the watcher seeing it live.

    A config may go live twice (a value changed and changed back): each sighting is measured from
    the nearest reload line of that config.
    """
    applied: dict[str, list[int]] = {}
    for line in platform.target("cfgsvc").logs():
        if '"reload ok"' in line.text and line.text.startswith("{"):
            found = json.loads(line.text)
            if found.get("hash"):
                applied.setdefault(str(found["hash"]), []).append(line.t_ns)
    lags = []
    for event in timeline.events(kind=EventKind.RELOAD_LIVE):
        times = applied.get(str(event.details["version"]))
        if times:
            nearest = min(times, key=lambda t_ns: abs(event.t_ns - t_ns))
            lags.append(round((event.t_ns - nearest) / 1e6, 2))
    return lags


def measure(interval_ms: int, rounds: int, binaries: Binaries, spec: TargetSpec | None = None) -> dict[str, object]:
    timeline = Timeline()
    spec = spec or bundled("configd")
    lag: list[float] = []
    with LocalPlatform(timeline=timeline, binaries=binaries) as platform:
        platform.start_target(spec)
        ctx = InjectionContext(platform=platform, timeline=timeline, rng=random.Random(interval_ms))
        injector = create("reload_storm", {"pattern": "value", "rounds": rounds, "interval_ms": interval_ms},
                          spec.name)
        report = run_fault(injector, ctx, fault_id=1)
        if spec.name == "cfgsvc":
            lag = watcher_lag_ms(timeline, platform)
    achieved = [float(a) for a in report.outcome.details["achieved_intervals_ms"]]
    errors = [abs(a - interval_ms) for a in achieved]
    return {"requested_ms": interval_ms, "writes": report.outcome.details["writes"],
            "error_p50_ms": round(statistics.median(errors), 2), "error_p99_ms": round(quantile(errors, 0.99), 2),
            "error_max_ms": round(max(errors), 2), "achieved_mean_ms": round(statistics.fmean(achieved), 3),
            "valid_versions_seen_live": report.outcome.details["valid_versions_seen_live"],
            "serves_last_write": report.outcome.details["live_write"] == report.outcome.details["expected_write"],
            "landed": report.outcome.landed,
            **({"watcher_lag_p50_ms": round(statistics.median(lag), 2),
                "watcher_lag_p99_ms": round(quantile(lag, 0.99), 2), "watcher_lag_max_ms": max(lag),
                "watcher_lag_samples": len(lag)} if lag else {})}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200, help="writes per requested interval")
    parser.add_argument("--out", type=Path, default=RESULTS / "reload_precision.json")
    args = parser.parse_args()
    binaries = build(["configd", "cfgsvc"])
    figures = {f"{ms}ms": measure(ms, args.rounds, binaries) for ms in INTERVALS_MS}
    for config in ("cfgsvc.json", "cfgsvc.toml"):  # the service polls its file every 50 ms: 100 ms writes
        figures[f"{config} 100ms"] = measure(100, args.rounds, binaries, cfgsvc(config))
    report = {"benchmark": "reload_precision", "machine": machine_info(), "command": command_line(),
              "figures": figures}
    write_report(args.out, report)
    for name, f in figures.items():
        lag = (f"; watcher lag behind the service's reload p50 {f['watcher_lag_p50_ms']} ms, p99 "
               f"{f['watcher_lag_p99_ms']} ms, max {f['watcher_lag_max_ms']} ms" if "watcher_lag_p50_ms" in f else "")
        print(f"{name}: requested {f['requested_ms']:>3} ms: error p50 {f['error_p50_ms']} ms, "
              f"p99 {f['error_p99_ms']} ms, "
              f"max {f['error_max_ms']} ms over {f['writes']} writes; seen live during the storm: "
              f"{f['valid_versions_seen_live']}; serves the last write: {f['serves_last_write']}{lag}")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
