"""report.html from real runs, opened in headless Chromium: the plots render, nothing is fetched.

The runs are real (configd built with `go build`, Locust load, reload faults); the buggy build
crashes, so the page has fault windows, reload and crash markers and stack traces. Chromium
(Debian's `chromium` package) renders the page twice: once with a probe script appended to a copy
(SVG sizes, shape boxes, and the browser's own list of fetched resources, via --dump-dom), once
untouched for a screenshot whose plot region must hold the plot's colours.
"""

from __future__ import annotations

import contextlib
import html as htmllib
import json
import os
import re
import signal
import subprocess
import tempfile
import xml.etree.ElementTree as ET
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from chaos.report import html, junit
from chaos.run_result import RunResult
from chaos.runner import run_scenario
from chaos.scenario import load_scenario, resolve
from chaos.timeline import EventKind

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CHROMIUM = Path("/usr/bin/chromium")
WINDOW = (1400, 2000)
PROBE = """<script>
(() => {
  const out = {resources: performance.getEntriesByType("resource").map(e => e.name), svgs: []};
  for (const svg of document.querySelectorAll("svg.timeline")) {
    const r = svg.getBoundingClientRect();
    const shapes = Array.from(svg.querySelectorAll("polyline.series, rect.fault-window, g.marker"))
      .map(e => { const b = e.getBBox(); return [e.getAttribute("class"), b.width, b.height]; });
    out.svgs.push({x: r.left + scrollX, y: r.top + scrollY, width: r.width, height: r.height, shapes});
  }
  const pre = document.createElement("pre");
  pre.id = "probe";
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
})();
</script>"""


@pytest.fixture(scope="module")
def runs() -> list[RunResult]:
    """One buggy run (crashes) and one fixed run of reload-panic, ~10 s each."""
    path = resolve("reload-panic")
    scenario = load_scenario(path)
    return [run_scenario(scenario, base_dir=path.parent, buggy=buggy, seed=11) for buggy in (True, False)]


@pytest.fixture(scope="module")
def chromium() -> Path:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium package (apt-get install chromium)")
    return CHROMIUM


def browse(browser: Path, page: Path, *args: str) -> str:
    """Run headless Chromium on `page` with a fresh profile; its stdout. Its process group is ended."""
    with tempfile.TemporaryDirectory(prefix="gochaos-chromium-") as profile:
        argv = [str(browser), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--hide-scrollbars", "--host-resolver-rules=MAP * ~NOTFOUND", f"--user-data-dir={profile}",
                f"--window-size={WINDOW[0]},{WINDOW[1]}", *args, page.as_uri()]
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                start_new_session=True)
        try:
            out, err = proc.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            out, err = "", "timed out after 120 s"
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)  # only the group this test started
            proc.wait()
        assert proc.returncode == 0 or out, f"chromium failed ({proc.returncode}): {err[-2000:]}"
        return out


def probe(browser: Path, report: Path) -> dict[str, Any]:
    probed = report.with_name("probe.html")
    probed.write_text(report.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>"), encoding="utf-8")
    dom = browse(browser, probed, "--dump-dom")
    found = re.search(r'<pre id="probe">(.*?)</pre>', dom, re.S)
    assert found, f"probe output missing from the rendered DOM: {dom[-1000:]}"
    result: dict[str, Any] = json.loads(htmllib.unescape(found.group(1)))
    return result


def decode_png(data: bytes) -> tuple[int, int, int, list[bytes]]:
    """Width, height, bytes per pixel and rows of an 8-bit RGB(A), non-interlaced PNG (stdlib only)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat = 8, bytearray()
    width = height = bpp = 0
    while pos < len(data):
        size = int.from_bytes(data[pos:pos + 4], "big")
        chunk, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + size]
        pos += 12 + size
        if chunk == b"IHDR":
            width, height = int.from_bytes(body[:4], "big"), int.from_bytes(body[4:8], "big")
            assert body[8] == 8 and body[9] in (2, 6) and body[12] == 0, f"unsupported PNG {body!r}"
            bpp = 3 if body[9] == 2 else 4
        elif chunk == b"IDAT":
            idat += body
    raw = zlib.decompress(bytes(idat))
    stride = width * bpp
    low7, high = int.from_bytes(b"\x7f" * stride, "big"), int.from_bytes(b"\x80" * stride, "big")
    rows: list[bytes] = []
    prev = bytes(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], raw[start + 1:start + 1 + stride]
        if kind == 0:
            row = bytes(line)
        elif kind == 2:  # Up: bytewise sum with the row above, no carries between bytes
            a, b = int.from_bytes(line, "big"), int.from_bytes(prev, "big")
            row = (((a & low7) + (b & low7)) ^ ((a ^ b) & high)).to_bytes(stride, "big")
        else:
            cur = bytearray(line)
            for i in range(stride):
                left = cur[i - bpp] if i >= bpp else 0
                if kind == 1:
                    cur[i] = (cur[i] + left) & 255
                elif kind == 3:
                    cur[i] = (cur[i] + ((left + prev[i]) >> 1)) & 255
                else:
                    up, corner = prev[i], prev[i - bpp] if i >= bpp else 0
                    p = left + up - corner
                    pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                    cur[i] = (cur[i] + (left if pa <= pb and pa <= pc else up if pb <= pc else corner)) & 255
            row = bytes(cur)
        rows.append(row)
        prev = row
    return width, height, bpp, rows


def colour_counts(rows: Sequence[bytes], left: int, right: int, bpp: int,
                  colours: dict[str, tuple[str, int]]) -> tuple[dict[str, int], int, int]:
    """Pixels within each colour's tolerance (sum of channel differences), pixels not near-white, all."""
    targets = [(name, int(c[1:3], 16), int(c[3:5], 16), int(c[5:7], 16), tol) for name, (c, tol) in colours.items()]
    counts = dict.fromkeys(colours, 0)
    inked = total = 0
    for row in rows:
        for x in range(left, right):
            r, g, b = row[x * bpp], row[x * bpp + 1], row[x * bpp + 2]
            total += 1
            if r + g + b >= 3 * 245:
                continue
            inked += 1
            for name, tr, tg, tb, tol in targets:
                if abs(r - tr) + abs(g - tg) + abs(b - tb) <= tol:
                    counts[name] += 1
    return counts, inked, total


def test_buggy_run_report_renders_its_plot_and_fetches_nothing(
        runs: list[RunResult], chromium: Path, tmp_path: Path) -> None:
    buggy = runs[0]
    report = html.write(buggy, tmp_path)
    text = report.read_text(encoding="utf-8")
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", text, re.I), "remote reference in the page"
    assert "<script" not in text and "<link" not in text and "url(" not in text
    assert "goroutine" in text and '<span class="check">panics</span>' in text

    seen = probe(chromium, report)
    assert seen["resources"] == [], f"the page fetched {seen['resources']}"
    (svg,) = seen["svgs"]
    assert svg["width"] > 1000 and svg["height"] > 500, svg
    shapes: dict[str, list[tuple[float, float]]] = {}
    for cls, width, height in svg["shapes"]:
        shapes.setdefault(cls, []).append((width, height))
    assert all(w > 0 for w, _ in shapes["series"]) and any(h > 50 for _, h in shapes["series"])
    assert [(w > 10 and h > 300) for w, h in shapes["fault-window"]] == [True]
    crashes = [e for e in buggy.timeline.events(kind=EventKind.TARGET_EXIT) if not e.details.get("requested")
               and buggy.phases.baseline_start <= e.t_ns <= buggy.phases.observe_end]
    assert crashes, "the buggy build should have crashed"
    assert len(shapes["marker marker-crash"]) == len(crashes)
    assert all(w > 5 and h > 5 for w, h in shapes["marker marker-crash"] + shapes["marker marker-reload"])

    png = tmp_path / "report.png"
    browse(chromium, report, f"--screenshot={png}")
    width, height, bpp, rows = decode_png(png.read_bytes())
    scale = width / WINDOW[0]
    top, bottom = int(svg["y"] * scale), int((svg["y"] + svg["height"]) * scale)
    left, right = int(svg["x"] * scale), int((svg["x"] + svg["width"]) * scale)
    assert bottom <= height, "the plot should fit in the screenshot"
    colours = {"throughput line": ("#0072B2", 45), "error line": ("#D55E00", 45), "crash marker": ("#B71C1C", 45),
               "fault shading": ("#FCF2DE", 8), "reload marker": ("#009E73", 45)}
    counts, inked, total = colour_counts(rows[top:bottom], left, right, bpp, colours)
    assert inked > 0.2 * total, f"plot region mostly blank: {inked}/{total} pixels drawn"
    minimum = {"throughput line": 300, "error line": 150, "crash marker": 20, "fault shading": 5000,
               "reload marker": 30}
    assert all(counts[k] >= v for k, v in minimum.items()), counts


def test_several_runs_render_on_one_page(runs: list[RunResult], chromium: Path, tmp_path: Path) -> None:
    report = html.write_many(runs, tmp_path)
    seen = probe(chromium, report)
    assert seen["resources"] == []
    assert len(seen["svgs"]) == 2
    for svg in seen["svgs"]:
        assert svg["width"] > 1000 and svg["height"] > 500
        assert any(cls == "series" and w > 0 for cls, w, _ in svg["shapes"])
        assert any(cls == "fault-window" and w > 0 for cls, w, _ in svg["shapes"])
    assert seen["svgs"][1]["y"] > seen["svgs"][0]["y"] + seen["svgs"][0]["height"]


def test_junit_of_real_runs(runs: list[RunResult], tmp_path: Path) -> None:
    root = ET.parse(junit.write_many(runs, tmp_path)).getroot()
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == ["reload-panic", "reload-panic"]
    assert int(root.get("tests", "0")) == sum(len(r.verdict.findings) for r in runs)
    failure = next(c for c in suites[0].iter("testcase") if c.get("name") == "panics").find("failure")
    assert failure is not None and "goroutine" in (failure.text or "")
    assert "during fault reload_storm#1" in failure.get("message", "")
    for suite, result in zip(suites, runs, strict=True):
        failed = [f for f in result.verdict.findings if f.status.value == "fail"]
        assert int(suite.get("failures", "0")) == len(failed)
        assert {p.get("name"): p.get("value") for p in suite.iter("property")}["seed"] == "11"
