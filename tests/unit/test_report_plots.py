"""The timeline SVG: axes, fault windows where the faults were, one marker per event, gaps kept."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from report_samples import MS, T0, sample_result

from chaos.report.plots import LEFT, RIGHT, WIDTH, bucket_ms, timeline_svg
from chaos.report.svg import nice_ticks
from chaos.timeline import EventKind


@pytest.mark.parametrize(
    ("high", "count", "ticks"),
    [
        (7.3, 4, [0, 2, 4, 6, 8]),
        (100, 4, [0, 25, 50, 75, 100]),
        (9320, 4, [0, 2500, 5000, 7500, 10000]),
        (0.006, 4, [0, 0.002, 0.004, 0.006]),
        (0, 4, [0, 0.25, 0.5, 0.75, 1]),
        (7.7, 10, [0, 1, 2, 3, 4, 5, 6, 7, 8]),
    ],
)
def test_nice_ticks_are_round_and_cover_the_data(high: float, count: int, ticks: list[float]) -> None:
    assert nice_ticks(high, count) == ticks


def test_bucket_width_keeps_plots_readable_for_long_runs() -> None:
    assert [bucket_ms(s) for s in (5, 60, 61, 300, 1800, 7200)] == [100, 100, 250, 250, 2000, 6000]


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def by_class(root: ET.Element, name: str) -> list[ET.Element]:
    return [e for e in root.iter() if name in (e.get("class") or "").split()]


def test_fault_window_is_shaded_exactly_over_the_fault() -> None:
    result = sample_result()
    root = parse(timeline_svg(result.timeline, result.phases))
    (window,) = by_class(root, "fault-window")
    plot_w = WIDTH - LEFT - RIGHT
    assert float(window.get("x", "")) == pytest.approx(LEFT + plot_w * 2 / 6, abs=0.1)
    assert float(window.get("width", "")) == pytest.approx(plot_w * 2 / 6, abs=0.1)


def test_one_marker_per_event_inside_the_run_with_its_time_in_the_tooltip() -> None:
    result = sample_result()
    root = parse(timeline_svg(result.timeline, result.phases))
    kinds = [e.get("class") for e in by_class(root, "marker")]
    assert kinds == ["marker marker-reload", "marker marker-reload-invalid", "marker marker-crash",
                     "marker marker-restart"]  # the setup start (before the baseline) is not drawn
    (crash,) = by_class(root, "marker-crash")
    assert crash.findtext("title", "").startswith("+2.200 s: configd crashed: exit status 2")
    legend = " ".join(t.text or "" for t in by_class(root, "legend")[0].iter("text"))
    for label in ("throughput", "error rate", "p99 latency", "fault window", "config reload",
                  "invalid config reload", "crash (unrequested exit)", "restart"):
        assert label in legend
    assert "etcd" not in legend


def test_series_break_where_no_request_was_made() -> None:
    result = sample_result()
    root = parse(timeline_svg(result.timeline, result.phases))
    lines = by_class(root, "series")
    strokes = [line.get("stroke") for line in lines]
    # Throughput is 0 in the empty buckets (one line); error rate, p99 and p50 have a 300 ms gap.
    assert strokes == ["#0072B2", "#D55E00", "#D55E00", "#6A3D9A", "#6A3D9A", "#6A3D9A", "#6A3D9A"]
    first_errors = lines[1].get("points", "").split()
    assert len(first_errors) == 50  # 0-5000 ms in 100 ms buckets


def test_the_error_curve_reaches_the_top_of_its_panel_when_every_request_failed() -> None:
    result = sample_result()
    root = parse(timeline_svg(result.timeline, result.phases))
    errors = by_class(root, "series")[1]
    ys = [float(p.split(",")[1]) for p in errors.get("points", "").split()]
    ticks = [t for t in root.iter("text") if (t.text or "") == "100%"]
    assert ticks, "the error axis should go to 100%"
    assert min(ys) == pytest.approx(float(ticks[0].get("y", "")) - 4, abs=0.2)


def test_a_run_without_requests_still_draws_axes_and_says_why_it_is_empty() -> None:
    result = sample_result(requests=False)
    root = parse(timeline_svg(result.timeline, result.phases))
    texts = [t.text for t in root.iter("text")]
    assert texts.count("no requests recorded") == 3
    assert by_class(root, "fault-window") and not by_class(root, "series")


def test_event_text_is_escaped() -> None:
    result = sample_result()
    result.timeline.record(EventKind.TARGET_EXIT, "<img src=x>", t_ns=T0 + 3000 * MS, returncode=1, requested=False)
    svg = timeline_svg(result.timeline, result.phases)
    assert "<img" not in svg and "&lt;img src=x&gt;" in svg
    parse(svg)
