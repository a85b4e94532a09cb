"""metrics.prom: a run's verdict and figures as OpenMetrics text, for Prometheus and its Pushgateway.

Built from the report.json documents (`chaos.report.json_report.to_dict`) with prometheus_client,
so every value here is the one report.json holds, and recovery and fault landing are reduced the way
`gochaos history` reduces them (`chaos.report.history.point`). One series per run of a scenario: every
sample carries the labels `scenario`, `build` (fixed|buggy) and `run` (its 1-based place in the
report: a gate or `--repeat` holds several runs of one scenario). The seed is a value
(`gochaos_seed`), not a label: scheduled runs draw a fresh one each time, and a label would start a
new series per run, so recovery could not be followed over time.

Only gauges, so the same text also reads as the classic text format (node_exporter's textfile
collector). The verdict is `gochaos_verdict{verdict="pass|fail|inconclusive|error|aborted"}`, 1 for the run's.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Gauge
from prometheus_client.openmetrics.exposition import generate_latest

from chaos.report.documents import BASELINE, FAULTS, OBSERVE, RunDocument
from chaos.report.history import LANDING_FIGURES, point
from chaos.verdict import Status

FILENAME = "metrics.prom"
RUN_LABELS = ("scenario", "build", "run")


def registry(runs: Sequence[RunDocument], *, numbers: Sequence[int] | None = None) -> CollectorRegistry:
    """A fresh registry holding the series of `runs`; `numbers` are their `run` labels (default 1..N)."""
    reg = CollectorRegistry(auto_describe=True)
    gauges = _Gauges(reg)
    for number, run in zip(numbers or range(1, len(runs) + 1), runs, strict=True):
        gauges.add(run, number)
    return reg


def by_scenario(runs: Sequence[RunDocument]) -> dict[str, CollectorRegistry]:
    """One registry per scenario (the Pushgateway's grouping key), runs keeping their `run` labels."""
    numbered: dict[str, list[tuple[int, RunDocument]]] = {}
    for number, run in enumerate(runs, start=1):
        numbered.setdefault(run["scenario"], []).append((number, run))
    return {name: registry([run for _, run in pairs], numbers=[n for n, _ in pairs])
            for name, pairs in numbered.items()}


def text(runs: Sequence[RunDocument]) -> str:
    """The OpenMetrics exposition of `runs` (ends with `# EOF`)."""
    return exposition(registry(runs))


def exposition(reg: CollectorRegistry) -> str:
    """The OpenMetrics text of `reg`."""
    body: bytes = generate_latest(reg)  # type: ignore[no-untyped-call]
    return body.decode("utf-8")


def write_many(runs: Sequence[RunDocument], directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / FILENAME
    path.write_text(text(runs), encoding="utf-8")
    return path


class _Gauges:
    """The metric families, declared once; `add` puts one run's samples in them."""

    def __init__(self, reg: CollectorRegistry) -> None:
        def gauge(name: str, doc: str, extra: tuple[str, ...] = (), unit: str = "") -> Gauge:
            return Gauge(name, doc, (*RUN_LABELS, *extra), unit=unit, registry=reg)

        self.verdict = gauge("gochaos_verdict", "1 for the run's verdict, 0 for the others", ("verdict",))
        self.exit_code = gauge("gochaos_exit_code", "What gochaos exits with for this run's verdict")
        self.seed = gauge("gochaos_seed", "The seed that replays the run's schedule and load")
        self.started = gauge("gochaos_run_start_timestamp", "When the run began (Unix time)", unit="seconds")
        self.recovery = gauge("gochaos_recovery", "From the faults' end to steady state again", unit="seconds")
        self.recovered = gauge("gochaos_recovered", "1: back to steady state after the faults, 0: never")
        self.availability = gauge("gochaos_availability", "Share of requests that succeeded in the phase",
                                  ("phase",), unit="ratio")
        self.p99 = gauge("gochaos_latency_p99", "p99 latency of the phase's requests", ("phase",), unit="seconds")
        self.requests = gauge("gochaos_requests", "Requests started in the phase", ("phase",))
        self.errors = gauge("gochaos_request_errors", "Requests of the phase that failed", ("phase",))
        fault = ("fault", "fault_id", "target")
        self.fault_duration = gauge("gochaos_fault_duration", "How long the fault ran", fault, unit="seconds")
        self.fault_landed = gauge("gochaos_fault_landed", "1: the fault took effect, 0: it did not land", fault)
        self.fault_landing = gauge("gochaos_fault_landing", "Median time from asking for the fault to it "
                                   "taking effect (config served, new etcd leader)", fault, unit="seconds")
        self.findings = gauge("gochaos_findings", "Findings by oracle (fault checks by injector) and status",
                              ("oracle", "status"))

    def add(self, run: RunDocument, number: int) -> None:
        labels = (run["scenario"], "buggy" if run["buggy"] else "fixed", str(number))
        for status in Status:
            self.verdict.labels(*labels, status.value).set(1 if run["verdict"] == status.value else 0)
        self.exit_code.labels(*labels).set(run["exit_code"])
        self.seed.labels(*labels).set(run["seed"])
        started = run["started_ns"] or run["phases"].get("baseline_start", 0)
        if started:
            self.started.labels(*labels).set(started / 1e9)
        figures = point(run, "")
        if figures.recovery_s is not None:
            self.recovery.labels(*labels).set(figures.recovery_s)
        if figures.recovered is not None:
            self.recovered.labels(*labels).set(1 if figures.recovered else 0)
        for phase in (BASELINE, FAULTS, OBSERVE):
            window = run.get("load", {}).get(phase)
            if window is None:
                continue
            self.requests.labels(*labels, phase).set(window["requests"])
            self.errors.labels(*labels, phase).set(window["errors"])
            if window["availability"] is not None:
                self.availability.labels(*labels, phase).set(window["availability"])
            if window["p99_ms"] is not None:
                self.p99.labels(*labels, phase).set(window["p99_ms"] / 1000)
        for fault in run["faults"]:
            which = (*labels, fault["name"], str(fault["fault_id"]), fault["target"] or "cluster")
            self.fault_duration.labels(*which).set((fault["end_ns"] - fault["start_ns"]) / 1e9)
            self.fault_landed.labels(*which).set(1 if fault["landed"] else 0)
            landing = _landing_ms(fault["details"])
            if landing is not None:
                self.fault_landing.labels(*which).set(landing / 1000)
        counts: dict[tuple[str, str], int] = {}
        for finding in run["findings"]:
            key = (oracle_of(finding["check"]), finding["status"])
            counts[key] = counts.get(key, 0) + 1
        for (oracle, state), count in counts.items():
            self.findings.labels(*labels, oracle, state).set(count)


def oracle_of(check: str) -> str:
    """A finding's check without the fault's number: `fault:reload_storm#2` -> `fault:reload_storm`."""
    return check.split("#", 1)[0]


def _landing_ms(details: dict[str, Any]) -> float | None:
    values: list[float] = []
    for key in LANDING_FIGURES:
        value = details.get(key)
        items = value if isinstance(value, list | tuple) else [value]
        values.extend(float(v) for v in items if isinstance(v, int | float) and not isinstance(v, bool))
    return statistics.median(values) if values else None
