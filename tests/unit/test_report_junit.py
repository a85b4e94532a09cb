"""junit.xml: counts CI reads, failures and errors with evidence, and the common JUnit schema shape."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

from report_samples import sample_findings, sample_result

from chaos.report import json_report, junit
from chaos.verdict import Finding, Status

# The element and attribute vocabulary of the common JUnit schema (Jenkins' junit-10.xsd shape).
ATTRIBUTES = {
    "testsuites": {"name", "time", "tests", "failures", "disabled", "errors"},
    "testsuite": {"name", "tests", "failures", "errors", "group", "time", "disabled", "skipped", "timestamp",
                  "hostname", "id", "package", "file", "log", "url", "version"},
    "properties": set(),
    "property": {"name", "value"},
    # file and line: the xunit1 extension pytest writes and CI annotators read
    "testcase": {"name", "assertions", "time", "classname", "status", "group", "file", "line"},
    "failure": {"message", "type"},
    "error": {"message", "type"},
    "skipped": {"message"},
    "system-out": set(),
    "system-err": set(),
}
REQUIRED = {"testsuite": {"name", "tests"}, "testcase": {"name"}, "property": {"name", "value"}}
SUITE_ORDER = ["properties", "testcase", "system-out", "system-err"]
CASE_ORDER = ["skipped", "error", "failure", "system-out", "system-err"]


def check_junit_shape(root: ET.Element) -> None:
    """Assert `root` fits the common JUnit schema and its counts add up."""
    assert root.tag == "testsuites"
    for element in root.iter():
        assert element.tag in ATTRIBUTES, f"unexpected element <{element.tag}>"
        assert set(element.attrib) <= ATTRIBUTES[element.tag], (element.tag, element.attrib)
        assert REQUIRED.get(element.tag, set()) <= set(element.attrib), (element.tag, element.attrib)
        if "time" in element.attrib:
            assert re.fullmatch(r"\d+(\.\d+)?", element.get("time", "")), element.get("time")
    for parent, order in (("testsuite", SUITE_ORDER), ("testcase", CASE_ORDER)):
        for element in root.iter(parent):
            positions = [order.index(child.tag) for child in element]
            assert positions == sorted(positions), f"children of <{parent}> out of order"
    assert all(child.tag == "testsuite" for child in root)
    totals = {"tests": 0, "failures": 0, "errors": 0}
    for suite in root:
        cases = suite.findall("testcase")
        counted = {"tests": len(cases), "failures": sum(c.find("failure") is not None for c in cases),
                   "errors": sum(c.find("error") is not None for c in cases),
                   "skipped": sum(c.find("skipped") is not None for c in cases)}
        for key, value in counted.items():
            assert int(suite.get(key, "0")) == value, (key, suite.attrib)
        for key in totals:
            totals[key] += counted[key]
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", suite.get("timestamp", ""))
    for key, value in totals.items():
        assert int(root.get(key, "0")) == value


def read(path: Path) -> ET.Element:
    return ET.parse(path).getroot()


def test_one_suite_per_run_one_case_per_finding(tmp_path: Path) -> None:
    path = junit.write(sample_result(), tmp_path)
    assert path == tmp_path / "junit.xml"
    root = read(path)
    check_junit_shape(root)
    (suite,) = root
    assert suite.get("name") == "sample-run"
    assert {p.get("name"): p.get("value") for p in suite.iter("property")} == {
        "seed": "7", "buggy": "true", "verdict": "fail", "exit_code": "1"}
    assert "replay: gochaos reproduce sample-run --seed 7" in suite.findtext("system-out", "")
    assert [(c.get("classname"), c.get("name")) for c in suite.iter("testcase")] == [
        ("sample-run", "fault:reload_storm#1"), ("sample-run", "panics"), ("sample-run", "recovery")]
    counts = [suite.get(key) for key in ("tests", "failures", "errors", "skipped")]
    assert counts == ["3", "1", "1", "0"]
    assert suite.get("time") == "6.000"
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    assert cases["fault:reload_storm#1"].get("time") == "2.000"


def test_failure_carries_the_summary_and_the_evidence_with_offsets(tmp_path: Path) -> None:
    root = read(junit.write(sample_result(), tmp_path))
    failure = next(c for c in root.iter("testcase") if c.get("name") == "panics").find("failure")
    assert failure is not None
    assert failure.get("type") == "fail"
    assert failure.get("message") == "configd: panic: assignment to entry in nil map & more"
    body = failure.text or ""
    assert body.startswith("[+2.190 s] configd panic: assignment to entry in nil map <map[string]*Route>\n")
    assert "main.apply(0xc000)" in body and "\x1b" not in body  # colour codes stripped
    assert body.endswith("\n\n1 restart")


def test_inconclusive_is_an_error_never_a_skip_or_a_pass(tmp_path: Path) -> None:
    root = read(junit.write(sample_result(), tmp_path))
    case = next(c for c in root.iter("testcase") if c.get("name") == "recovery")
    error = case.find("error")
    assert error is not None and case.find("skipped") is None and case.find("failure") is None
    assert error.get("type") == "inconclusive"
    assert error.get("message") == "too few requests after the fault to judge"
    assert error.text == "[+4.000 s] 12 requests in 1 s"


def test_a_run_with_no_findings_still_fails_ci(tmp_path: Path) -> None:
    root = read(junit.write(sample_result(findings=[]), tmp_path))
    check_junit_shape(root)
    (case,) = root.iter("testcase")
    assert case.get("name") == "verdict"
    error = case.find("error")
    assert error is not None and error.get("type") == "inconclusive"
    assert root.get("errors") == "1"


def test_passing_run_has_no_failures_or_errors(tmp_path: Path) -> None:
    passed = [f for f in sample_findings() if f.status is Status.PASS]
    root = read(junit.write(sample_result(findings=passed, buggy=False), tmp_path))
    check_junit_shape(root)
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("1", "0", "0")
    case = next(root.iter("testcase"))
    assert case.findtext("system-out", "").strip() == "reload_storm landed: 2 writes"


def test_several_runs_are_several_suites_with_summed_totals(tmp_path: Path) -> None:
    runs = [sample_result(name="first"), sample_result(name="second", buggy=False, seed=8,
                                                       findings=[sample_findings()[0]])]
    root = read(junit.write_many(runs, tmp_path))
    check_junit_shape(root)
    assert [s.get("name") for s in root] == ["first", "second"]
    assert (root.get("tests"), root.get("failures"), root.get("errors"), root.get("time")) == ("4", "1", "1", "12.000")


def test_characters_xml_forbids_do_not_break_the_file(tmp_path: Path) -> None:
    nasty = Finding("panics", Status.FAIL, "bell \x07 and nul \x00 in a log line", ())
    root = read(junit.write(sample_result(findings=[nasty]), tmp_path))
    failure = next(root.iter("failure"))
    assert failure.get("message") == "bell \\x07 and nul \\x00 in a log line"


def test_json_holds_several_runs_under_the_worst_verdict(tmp_path: Path) -> None:
    passed = [f for f in sample_findings() if f.status is Status.PASS]
    runs = [sample_result(findings=passed, name="ok"), sample_result(name="broken")]
    document = json.loads(json_report.write_many(runs, tmp_path).read_text())
    assert (document["verdict"], document["exit_code"]) == ("fail", 1)
    assert [r["scenario"] for r in document["runs"]] == ["ok", "broken"]
    single = json.loads(json_report.write(runs[0], tmp_path).read_text())
    assert single["scenario"] == "ok" and single["verdict"] == "pass"  # one run keeps the v1 shape
