"""A real failing run published everywhere at once: Pushgateway, webhook, step summary, metrics.prom.

The Pushgateway and the webhook are local HTTP servers that parse what they receive (the pushed
body with prometheus_client's own parser, the webhook as JSON); the figures they got are checked
against the run's report.json. A second run points both at a closed port: one warning line each,
and the verdict is the same.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import parser as text_parser
from prometheus_client.metrics_core import Metric
from prometheus_client.openmetrics import parser as openmetrics_parser

pytestmark = pytest.mark.integration

SCENARIO = Path(__file__).parent / "storm-for-duration.chaos.yaml"  # 0.8 s of storm; the buggy build panics


class Received(BaseHTTPRequestHandler):
    """Keeps (method, path, parsed body) of every request on its server, answers 200."""

    def _take(self) -> None:
        server = self.server
        assert isinstance(server, Receiver)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode("utf-8")
        server.got.append((self.command, self.path, server.parse(body)))
        self.send_response(200)
        self.end_headers()

    do_PUT = do_POST = _take

    def log_message(self, format: str, *args: object) -> None:
        pass


class Receiver(ThreadingHTTPServer):
    def __init__(self, parse: Any) -> None:
        super().__init__(("127.0.0.1", 0), Received)
        self.parse = parse
        self.got: list[tuple[str, str, Any]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


def pushed_families(body: str) -> list[Metric]:
    return list(text_parser.text_string_to_metric_families(body))


@pytest.fixture
def receivers() -> Iterator[tuple[Receiver, Receiver]]:
    servers = (Receiver(pushed_families), Receiver(json.loads))
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    yield servers
    for server in servers:
        server.shutdown()
        server.server_close()


def gochaos(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "NO_PROXY": "127.0.0.1", "no_proxy": "127.0.0.1", **env}
    return subprocess.run([sys.executable, "-m", "chaos.cli", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300, env=environment)


def value(families: list[Metric], name: str, **labels: str) -> float:
    found = [s.value for f in families for s in f.samples
             if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())]
    assert len(found) == 1, (name, labels, found)
    return found[0]


def test_a_failing_run_reaches_the_pushgateway_the_webhook_and_the_step_summary(
        tmp_path: Path, receivers: tuple[Receiver, Receiver]) -> None:
    gateway, hook = receivers
    scenario = tmp_path / "team" / SCENARIO.name  # a user's file, outside the bundled ones
    scenario.parent.mkdir()
    scenario.write_text(SCENARIO.read_text(encoding="utf-8"), encoding="utf-8")
    step_summary = tmp_path / "step-summary.md"
    step_summary.write_text("## build\nok\n", encoding="utf-8")
    result = gochaos("reproduce", "team/storm-for-duration.chaos.yaml", "--seed", "3", "--report-dir", "reports",
                     "--pushgateway", gateway.url, "--webhook", f"{hook.url}/chaos", cwd=tmp_path,
                     env={"GITHUB_STEP_SUMMARY": str(step_summary), "GOCHAOS_WEBHOOK_FORMAT": "generic"})
    assert result.returncode == 1, result.stdout + result.stderr
    assert "warning" not in result.stdout + result.stderr
    replay = "gochaos reproduce team/storm-for-duration.chaos.yaml --seed 3"
    assert f"replay: {replay}" in result.stdout
    report = json.loads((tmp_path / "reports" / "report.json").read_text(encoding="utf-8"))
    assert report["verdict"] == "fail" and report["seed"] == 3
    during = report["load"]["faults"]
    run = {"scenario": "storm-for-duration", "build": "buggy", "run": "1"}

    # the Pushgateway: one PUT for the scenario's group, parsed by prometheus_client
    ((method, path, pushed),) = gateway.got
    assert (method, path) == ("PUT", "/metrics/job/gochaos/scenario/storm-for-duration")
    assert value(pushed, "gochaos_verdict", verdict="fail", **run) == 1
    assert value(pushed, "gochaos_verdict", verdict="pass", **run) == 0
    assert value(pushed, "gochaos_exit_code", **run) == report["exit_code"] == 1
    assert value(pushed, "gochaos_seed", **run) == 3
    assert value(pushed, "gochaos_requests", phase="faults", **run) == during["requests"]
    if during["availability"] is not None:
        assert value(pushed, "gochaos_availability_ratio", phase="faults", **run) == during["availability"]
    if during["p99_ms"] is not None:
        assert value(pushed, "gochaos_latency_p99_seconds", phase="faults", **run) == pytest.approx(
            during["p99_ms"] / 1000)
    (fault,) = report["faults"]
    which = {"fault": fault["name"], "fault_id": str(fault["fault_id"]), "target": fault["target"], **run}
    assert value(pushed, "gochaos_fault_duration_seconds", **which) == pytest.approx(
        (fault["end_ns"] - fault["start_ns"]) / 1e9)
    assert value(pushed, "gochaos_fault_landed", **which) == int(fault["landed"])
    for status in ("pass", "fail", "inconclusive"):
        checks = [f for f in report["findings"] if f["status"] == status and f["check"] == "panics"]
        if checks:
            assert value(pushed, "gochaos_findings", oracle="panics", status=status, **run) == len(checks)

    # metrics.prom: the same series, read with the OpenMetrics parser
    text = (tmp_path / "reports" / "metrics.prom").read_text(encoding="utf-8")
    from_file = list(openmetrics_parser.text_string_to_metric_families(text))  # type: ignore[no-untyped-call]
    assert value(from_file, "gochaos_verdict", verdict="fail", **run) == 1
    assert value(from_file, "gochaos_requests", phase="faults", **run) == during["requests"]

    # the webhook: one POST of the generic document
    ((method, path, document),) = hook.got
    assert (method, path) == ("POST", "/chaos")
    assert document["verdict"] == "fail" and document["exit_code"] == 1 and document["seed"] == 3
    assert document["replay"] == replay
    assert Path(document["report"]) == (tmp_path / "reports" / "latest").resolve()
    assert [s["scenario"] for s in document["scenarios"]] == ["storm-for-duration"]
    assert document["top_finding"]["check"] == "panics"
    assert any(f["check"] == "panics" and f["status"] == "fail" for f in document["findings"])

    # the step summary: appended to, and the same text as summary.md
    summary = (tmp_path / "reports" / "summary.md").read_text(encoding="utf-8")
    assert step_summary.read_text(encoding="utf-8") == "## build\nok\n\n" + summary
    assert "| storm-for-duration | buggy | ❌ FAIL | 3 |" in summary
    assert f"**Replay:** `{replay}`" in summary

    # junit: the scenario file and line for CI annotations, the replay by the file's path
    junit = (tmp_path / "reports" / "junit.xml").read_text(encoding="utf-8")
    assert 'file="team/storm-for-duration.chaos.yaml" line="4"' in junit
    assert f"replay: {replay}" in junit


def test_unreachable_destinations_warn_in_one_line_and_leave_the_verdict(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}"
    result = gochaos("reproduce", str(SCENARIO), "--seed", "3", "--pushgateway", closed, "--webhook", closed,
                     cwd=tmp_path, env={"GOCHAOS_WEBHOOK_FORMAT": "slack"})
    assert result.returncode == 1, result.stdout + result.stderr
    warnings = [line for line in result.stdout.splitlines() if line.startswith("gochaos: warning:")]
    assert len(warnings) == 2, result.stdout
    assert warnings[0].startswith(f"gochaos: warning: could not push metrics to the Pushgateway at {closed}")
    assert warnings[1].startswith(f"gochaos: warning: could not deliver the webhook to {closed}")
    assert all(w.endswith("the verdict is unchanged") for w in warnings)
