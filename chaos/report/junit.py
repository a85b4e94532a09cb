"""junit.xml: the verdict in the shape every CI system reads (testsuites > testsuite > testcase).

One ``<testsuite>`` per run, named after the scenario, with the seed, build and verdict as
``<properties>`` (the common JUnit schema has no attribute for them) and repeated in its
``<system-out>``. One ``<testcase>`` per finding: ``classname`` is the scenario, ``name`` the
check; ``file`` and ``line`` name the scenario file and the line of its ``name:`` (of the fault's entry
for a fault's case), so CI annotates the scenario.
The replay command (`chaos.report.replay`) closes the ``<system-out>``. FAIL becomes
``<failure>``; INCONCLUSIVE becomes ``<error type="inconclusive">``, never ``<skipped>``, because
CI treats skips as green and a gate that passes when nothing happened is the worst failure a chaos
tool can have. A run without findings gets one erroring ``verdict`` case for the same reason.
Message attributes carry the summary; the body carries the evidence, each piece stamped with its
offset from the baseline start.
"""

from __future__ import annotations

import socket
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from chaos.report.replay import finding_location, replay_command
from chaos.report.sanitize import printable
from chaos.verdict import Finding, Status

if TYPE_CHECKING:
    from chaos.run_result import RunResult

FILENAME = "junit.xml"


def write(result: RunResult, directory: Path) -> Path:
    """Write junit.xml for one run; returns its path."""
    return write_many([result], directory)


def write_many(results: Sequence[RunResult], directory: Path) -> Path:
    """Write one junit.xml with a testsuite per run in `results`; returns its path."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / FILENAME
    root = to_element(results)
    ET.indent(root)
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)
    return path


def to_element(results: Sequence[RunResult]) -> ET.Element:
    """The ``<testsuites>`` element for `results`, totals summed over the suites."""
    root = ET.Element("testsuites", name="gochaos")
    totals = {"tests": 0, "failures": 0, "errors": 0}
    seconds = 0.0
    hostname = socket.gethostname()
    for index, result in enumerate(results):
        suite = _suite(result, index, hostname)
        root.append(suite)
        for key in totals:
            totals[key] += int(suite.get(key, "0"))
        seconds += float(suite.get("time", "0"))
    for key, value in totals.items():
        root.set(key, str(value))
    root.set("time", f"{seconds:.3f}")
    return root


def _suite(result: RunResult, index: int, hostname: str) -> ET.Element:
    phases = result.phases
    name = result.scenario.name
    findings = list(result.verdict.findings)
    if not findings:
        findings = [Finding("verdict", Status.INCONCLUSIVE,
                            "no oracle produced a finding, so nothing was judged")]
    suite = ET.Element("testsuite", {
        "name": name,
        "tests": str(len(findings)),
        "failures": str(sum(f.status is Status.FAIL for f in findings)),
        "errors": str(sum(f.status not in (Status.PASS, Status.FAIL) for f in findings)),
        "skipped": "0",
        "time": f"{(phases.observe_end - phases.baseline_start) / 1e9:.3f}",
        "timestamp": datetime.fromtimestamp(phases.baseline_start / 1e9, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S"),
        "hostname": hostname,
        "id": str(index),
    })
    properties = ET.SubElement(suite, "properties")
    for key, value in (("seed", str(result.seed)), ("buggy", str(result.buggy).lower()),
                       ("verdict", result.verdict.status.value),
                       ("exit_code", str(int(result.verdict.exit_code)))):
        ET.SubElement(properties, "property", name=key, value=value)
    durations = {f"fault:{r.name}#{r.fault_id}": (r.end_ns - r.start_ns) / 1e9 for r in result.faults}
    for finding in findings:
        case = _case(finding, name, durations.get(finding.check, 0.0), phases.baseline_start)
        location = finding_location(result, finding)
        if location is not None:  # CI annotations point at the scenario's `name:` (or the fault's) line
            case.set("file", location[0])
            if location[1] is not None:
                case.set("line", str(location[1]))
        suite.append(case)
    out = ET.SubElement(suite, "system-out")
    out.text = (f"{name}{' (buggy build)' if result.buggy else ''}: verdict "
                f"{result.verdict.status.value.upper()}, seed {result.seed}\n"
                f"replay: {replay_command(result)}\n")
    return suite


def _case(finding: Finding, classname: str, seconds: float, t0: int) -> ET.Element:
    case = ET.Element("testcase", classname=classname, name=finding.check, time=f"{seconds:.3f}")
    summary = printable(finding.summary)
    if finding.status is Status.PASS:
        ET.SubElement(case, "system-out").text = summary + "\n"
        return case
    tag, kind = ("failure", "fail") if finding.status is Status.FAIL else ("error", finding.status.value)
    element = ET.SubElement(case, tag, message=summary, type=kind)
    element.text = evidence_text(finding, t0) or summary
    return case


def evidence_text(finding: Finding, t0: int) -> str:
    """Every piece of evidence, each headed by its offset from the baseline start when known."""
    pieces = []
    for item in finding.evidence:
        stamp = f"[{(item.t_ns - t0) / 1e9:+.3f} s] " if item.t_ns is not None else ""
        pieces.append(stamp + printable(item.text))
    return "\n\n".join(pieces)
