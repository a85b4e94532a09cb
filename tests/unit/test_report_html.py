"""report.html: self-contained, escaped, verdict first, every run with its plot and evidence."""

from __future__ import annotations

import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

from report_samples import T0, sample_findings, sample_result

from chaos.report import html
from chaos.verdict import Evidence, Finding, Status

#: Elements that make a browser fetch something (or run code).
FETCHING_TAGS = {"script", "link", "img", "iframe", "object", "embed", "base", "audio", "video", "source",
                 "image", "use", "frame", "track", "input"}
FETCHING_ATTRS = {"src", "srcset", "poster", "action", "data", "background", "href", "xlink:href", "formaction"}


class Page(HTMLParser):
    """Collects the tags, attributes and style text of a page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.styles: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_style = tag == "style"

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.styles.append(data)


def parse(text: str) -> Page:
    page = Page()
    page.feed(text)
    page.close()
    return page


def assert_self_contained(text: str) -> None:
    page = parse(text)
    for tag, attrs in page.tags:
        assert tag not in FETCHING_TAGS, f"<{tag}> would fetch or run something"
        for name, value in attrs.items():
            if name in FETCHING_ATTRS:
                assert name == "href" and (value or "").startswith("#"), f"<{tag} {name}={value!r}>"
            assert not name.startswith("on"), f"<{tag} {name}> is an inline script"
            assert "://" not in (value or ""), f"<{tag} {name}={value!r}> points elsewhere"
    style = "".join(page.styles)
    assert "url(" not in style and "@import" not in style and "@font-face" not in style


def test_one_run_page_is_self_contained_and_puts_the_verdict_first(tmp_path: Path) -> None:
    path = html.write(sample_result(), tmp_path)
    assert path == tmp_path / "report.html"
    text = path.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>")
    assert_self_contained(text)
    assert "<title>gochaos FAIL: sample-run</title>" in text
    badges = [a.get("class") for tag, a in parse(text).tags if "badge" in (a.get("class") or "")]
    assert badges[:2] == ["badge fail big", "badge fail big"]  # page header, then the run's header
    assert text.count('<svg class="timeline"') == 1
    for fact in ("<dt>seed</dt><dd>7</dd>", "gochaos reproduce sample-run <span class=\"nowrap\">--seed 7</span>",
                 "baseline 2.00 s · faults 2.00 s · observe 2.00 s", "buggy build", "FAIL (exit code 1)"):
        assert fact in text, fact


def test_findings_worst_first_with_evidence_in_pre_blocks_and_everything_escaped(tmp_path: Path) -> None:
    text = html.write(sample_result(), tmp_path).read_text(encoding="utf-8")
    order = [text.index(f'<span class="check">{check}</span>') for check in
             ("panics", "recovery", "fault:reload_storm#1")]
    assert order == sorted(order)
    assert ('<span class="at">at +2.190 s</span><pre>configd panic: assignment to entry in nil map '
            "&lt;map[string]*Route&gt;\ngoroutine 7 [running]:\nmain.apply(0xc000)") in text
    assert "A &lt;sample&gt; run &amp; its faults." in text
    assert "nil map &amp; more" in text
    assert "<sample>" not in text and "\x1b" not in text
    assert "<code>crashes</code>=1" in text
    # Evidence of what went wrong is open; of what went right, folded.
    assert text.count("<details><summary>evidence (") == 1
    assert '<details><summary>evidence (1)</summary><div class="evidence"><span class="at">at +2.000 s' in text


def test_long_evidence_is_capped_with_a_pointer_to_the_json(tmp_path: Path) -> None:
    many = Finding("panics", Status.FAIL, "many crashes",
                   tuple(Evidence(T0 + i, f"crash {i}") for i in range(html.MAX_EVIDENCE + 3)))
    text = html.write(sample_result(findings=[many]), tmp_path).read_text(encoding="utf-8")
    assert text.count('<div class="evidence">') == html.MAX_EVIDENCE
    assert "3 more piece(s) of evidence in report.json" in text


def test_several_runs_share_one_page_with_a_summary_and_the_worst_verdict(tmp_path: Path) -> None:
    passed = [f for f in sample_findings() if f.status is Status.PASS]
    runs = [sample_result(findings=passed, buggy=False, name="calm"), sample_result(name="stormy", seed=9)]
    text = html.write_many(runs, tmp_path).read_text(encoding="utf-8")
    assert_self_contained(text)
    assert "<title>gochaos FAIL: calm, stormy</title>" in text
    assert text.count('<svg class="timeline"') == 2
    assert '<section class="card run" id="run-1">' in text and '<section class="card run" id="run-2">' in text
    assert '<a href="#run-1">calm</a>' in text and '<a href="#run-2">stormy</a> (buggy build)' in text
    assert "panics: configd: panic: assignment to entry in nil map &amp; more" in text  # first failing check


def test_a_repeated_scenario_shows_its_detection_rate_and_links_the_first_failing_run(tmp_path: Path) -> None:
    passed = [f for f in sample_findings() if f.status is Status.PASS]
    runs = [sample_result(findings=passed, name="racy", seed=s) for s in (20, 21)]
    runs += [sample_result(name="racy", seed=22), sample_result(findings=passed, name="racy", seed=23)]
    text = html.write_many(runs, tmp_path).read_text(encoding="utf-8")
    assert "racy: failed 1 of 4 runs: detection rate 25% (95% CI 5%-70%)" in text
    assert '<a href="#run-3">first failing run: seed 22</a>' in text
    single = html.write_many([sample_result(name="a"), sample_result(name="b")], tmp_path).read_text(encoding="utf-8")
    assert "detection rate" not in single, "scenarios run once each have no rate"


def test_importing_the_html_report_stays_cheap() -> None:
    code = ("import sys, chaos.report.html, chaos.report.junit; "
            "heavy = [m for m in ('chaos.runner', 'chaos.report.plots', 'locust', 'kubernetes') if m in sys.modules]; "
            "print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "[]"
