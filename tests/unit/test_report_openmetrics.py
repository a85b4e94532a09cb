"""metrics.prom: OpenMetrics that the real parsers read back, with the figures of report.json."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from prometheus_client import parser as text_parser
from prometheus_client.metrics_core import Metric
from prometheus_client.openmetrics import parser as openmetrics_parser
from report_samples import sample_findings, sample_result

from chaos.injectors.base import FaultOutcome
from chaos.report import openmetrics
from chaos.report.json_report import to_dict
from chaos.run_result import RunResult
from chaos.verdict import Finding, Status, decide


def recovered_result(seed: int = 7, recovery_s: float = 1.25) -> RunResult:
    """The sample run, with a measured recovery and a fault that says when it landed."""
    base = sample_result(seed=seed)
    findings = [*sample_findings()[:2], Finding("recovery", Status.PASS, "back in 1.25 s", (),
                                                {"recovery_s": recovery_s})]
    fault = dataclasses.replace(base.faults[0], outcome=FaultOutcome(True, "2 writes", {
        "writes": 2, "live_after_ms": [10.0, 30.0, 50.0]}))
    return dataclasses.replace(base, verdict=decide(findings), faults=[fault])


def parse_openmetrics(text: str) -> list[Metric]:
    return list(openmetrics_parser.text_string_to_metric_families(text))  # type: ignore[no-untyped-call]


def parse_text(text: str) -> list[Metric]:
    return list(text_parser.text_string_to_metric_families(text))


def samples(families: list[Metric]) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {(s.name, frozenset(s.labels.items())): s.value for f in families for s in f.samples}


def test_the_openmetrics_text_parses_and_holds_the_report_figures() -> None:
    document = to_dict(recovered_result())
    text = openmetrics.text([document])
    assert text.endswith("# EOF\n")
    found = samples(list(parse_openmetrics(text)))
    run = {"scenario": "sample-run", "build": "buggy", "run": "1"}

    def value(name: str, **extra: str) -> float:
        return found[(name, frozenset({**run, **extra}.items()))]

    assert value("gochaos_verdict", verdict="fail") == 1
    assert value("gochaos_verdict", verdict="pass") == 0 and value("gochaos_verdict", verdict="inconclusive") == 0
    assert value("gochaos_exit_code") == document["exit_code"] == 1
    assert value("gochaos_seed") == 7
    assert value("gochaos_recovery_seconds") == 1.25
    assert value("gochaos_recovered") == 1
    faults = document["load"]["faults"]
    assert value("gochaos_availability_ratio", phase="faults") == faults["availability"] == 0.9
    assert faults["p99_ms"] is not None
    assert value("gochaos_latency_p99_seconds", phase="faults") == faults["p99_ms"] / 1000
    assert value("gochaos_requests", phase="faults") == faults["requests"]
    assert value("gochaos_request_errors", phase="faults") == faults["errors"]
    fault = {"fault": "reload_storm", "fault_id": "1", "target": "configd"}
    assert value("gochaos_fault_duration_seconds", **fault) == 2.0
    assert value("gochaos_fault_landed", **fault) == 1
    assert value("gochaos_fault_landing_seconds", **fault) == 0.03  # the median of 10, 30 and 50 ms
    assert value("gochaos_findings", oracle="panics", status="fail") == 1
    assert value("gochaos_findings", oracle="fault:reload_storm", status="pass") == 1


def test_the_same_text_reads_as_the_classic_prometheus_format(tmp_path: Path) -> None:
    path = openmetrics.write_many([to_dict(recovered_result())], tmp_path)
    assert path.name == "metrics.prom"
    families = {f.name: f for f in parse_text(path.read_text(encoding="utf-8"))}
    assert all(f.type == "gauge" for f in families.values()), "a textfile collector reads gauges"
    assert families["gochaos_recovery_seconds"].samples[0].value == 1.25


def test_a_suite_or_repeat_gives_one_series_per_run_and_one_push_group_per_scenario() -> None:
    runs = [to_dict(recovered_result(seed=1, recovery_s=0.5)), to_dict(recovered_result(seed=1, recovery_s=2.0)),
            to_dict(dataclasses.replace(sample_result(seed=3, name="other"), buggy=False))]
    found = samples(list(parse_openmetrics(openmetrics.text(runs))))
    recoveries = {dict(labels)["run"]: v for (name, labels), v in found.items() if name == "gochaos_recovery_seconds"}
    assert recoveries == {"1": 0.5, "2": 2.0}, "same scenario and seed: told apart by `run`"
    groups = openmetrics.by_scenario(runs)
    assert sorted(groups) == ["other", "sample-run"]
    other = samples(list(parse_openmetrics(openmetrics.exposition(groups["other"]))))
    verdicts = {dict(labels)["verdict"]: v for (name, labels), v in other.items() if name == "gochaos_verdict"}
    assert verdicts == {"pass": 0, "fail": 1, "inconclusive": 0, "error": 0, "aborted": 0}
    assert {dict(labels)["run"] for (_, labels) in other} == {"3"}, "the run keeps its place in the report"
    assert {dict(labels)["build"] for (_, labels) in other} == {"fixed"}


def test_an_unjudged_recovery_has_no_sample_rather_than_a_made_up_one() -> None:
    found = samples(list(parse_openmetrics(openmetrics.text([to_dict(sample_result())]))))
    names = {name for name, _ in found}
    assert "gochaos_recovery_seconds" not in names and "gochaos_fault_landing_seconds" not in names
    assert "gochaos_verdict" in names


def test_oracle_of_strips_the_faults_number() -> None:
    assert openmetrics.oracle_of("fault:reload_storm#12") == "fault:reload_storm"
    assert openmetrics.oracle_of("panics") == "panics"
