"""report.html: one self-contained page per report dir, one section per run, for people.

Opens offline: styles are inline, plots are inline SVG (see `chaos.report.plots`), there is no
script, no font, no image and nothing else fetched. Each run shows the verdict first, then seed,
build and phases, the timeline plot, the findings with their evidence (stack traces in ``<pre>``),
the faults, the events and the tail of each target's log.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chaos.report import coverage, overall_status, repeat
from chaos.report.annotations import describe_details
from chaos.report.replay import replay_command
from chaos.report.sanitize import printable
from chaos.report.style import CSS
from chaos.verdict import Finding, Status

if TYPE_CHECKING:
    from chaos.run_result import RunResult

FILENAME = "report.html"
MAX_EVIDENCE = 12
MAX_EVENTS = 1000
LOG_TAIL_LINES = 200



def write(result: RunResult, directory: Path) -> Path:
    """Write report.html for one run; returns its path."""
    return write_many([result], directory)


def write_many(results: Sequence[RunResult], directory: Path) -> Path:
    """Write one report.html holding every run in `results`, in order; returns its path.

    When `directory` is a run directory and its report dir holds earlier runs of these scenarios,
    the page gets a History section with their trend plots.
    """
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / FILENAME
    path.write_text(render(results, history=_history(results, directory)), encoding="utf-8")
    return path


def _history(results: Sequence[RunResult], directory: Path) -> str:
    """The History section; trouble reading earlier runs costs that section, never the report."""
    # deferred: the trends draw with the plots, imported only when a report is written
    from chaos.report.trends import for_run

    try:
        return for_run(results, directory)
    except Exception as e:
        return (f'<section class="card history"><h3>History</h3><p class="muted">earlier runs could not be '
                f"compared: {escape(repr(e))}</p></section>")


def render(results: Sequence[RunResult], *, history: str = "") -> str:
    """The whole page as a string; `history` is the markup of the History section, if any."""
    status = overall_status(r.verdict.status for r in results)
    names = ", ".join(dict.fromkeys(r.scenario.name for r in results)) or "no runs"
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    head = (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>gochaos {status.value.upper()}: {escape(names)}</title><style>{CSS}</style></head>")
    parts = [head, "<body><main>",
             f'<header class="verdict"><h1>gochaos report</h1>{_badge(status, big=True)}'
             f'<span class="muted">{len(results)} run(s) · generated {generated}</span></header>']
    if len(results) > 1:
        parts.append(_summary(results))
    parts.append(history)
    # deferred: the plots are the report's heaviest part, drawn only when a report is written
    from chaos.report.plots import timeline_svg

    for index, result in enumerate(results, start=1):
        parts.append(_run_section(result, index, timeline_svg(result.timeline, result.phases)))
    parts.append("</main></body></html>\n")
    return "".join(parts)


def _badge(status: Status, *, big: bool = False) -> str:
    return f'<span class="badge {status.value}{" big" if big else ""}">{status.value.upper()}</span>'


def _summary(results: Sequence[RunResult]) -> str:
    rows = "".join(
        f'<tr><td><a href="#run-{i}">{escape(r.scenario.name)}</a>{" (buggy build)" if r.buggy else ""}</td>'
        f"<td>{_badge(r.verdict.status)}</td><td>{r.seed}</td>"
        f"<td>{escape(_headline(r))}</td><td><code>{escape(replay_command(r))}</code></td></tr>"
        for i, r in enumerate(results, start=1)
    )
    return (f'<section class="card"><h3>Runs</h3>{_detection_rates(results)}<table><tr><th>scenario</th>'
            f"<th>verdict</th><th>seed</th><th>first failing check</th><th>replay it alone</th></tr>{rows}"
            "</table></section>")


def _detection_rates(results: Sequence[RunResult]) -> str:
    """For a scenario run more than once (--repeat): how often it failed, linking the first failing run; the
    mutation sites its storms tried over the runs."""
    lines = []
    for name in dict.fromkeys(r.scenario.name for r in results):
        runs = [(i, r) for i, r in enumerate(results, start=1) if r.scenario.name == name]
        if len(runs) < 2:
            continue
        found = repeat.detection([(r.seed, r.verdict.status) for _, r in runs])
        text = escape(repeat.rate_text(name, found))
        first = next((i for i, r in runs if r.verdict.status is Status.FAIL), None)
        if first is not None:
            text += f'; <a href="#run-{first}">first failing run: seed {found.first_failing_seed}</a>'
        lines.append(f'<p class="detection">{text}</p>')
        lines += [f'<p class="detection">{escape(line)}</p>'
                  for line in repeat.coverage_lines(name, [coverage.of_result(r) for _, r in runs])]
    return "".join(lines)


def _headline(result: RunResult) -> str:
    worst = sorted(result.verdict.findings, key=lambda f: f.status.rank)
    if not worst or worst[0].status is Status.PASS:
        return "—"
    return f"{worst[0].check}: {worst[0].summary}"


def _run_section(result: RunResult, index: int, plot_svg: str) -> str:
    scenario, phases = result.scenario, result.phases
    t0 = phases.baseline_start
    build = '<span class="tag buggy">buggy build</span>' if result.buggy else '<span class="tag">fixed build</span>'
    command = replay_command(result).removesuffix(f" --seed {result.seed}")
    started = datetime.fromtimestamp(t0 / 1e9, tz=UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + " UTC"
    requests = len(result.timeline.requests(phases.baseline_start, phases.observe_end))
    # Values are HTML: everything from the run is escaped here.
    facts = {
        "verdict": f"{result.verdict.status.value.upper()} (exit code {int(result.verdict.exit_code)})",
        "seed": str(result.seed),
        "replay": (f"<code>{escape(command)} "
                   f'<span class="nowrap">--seed {result.seed}</span></code>'),
        "started": started,
        "phases": (f"baseline {_secs(phases.faults_start - t0)} · faults "
                   f"{_secs(phases.faults_end - phases.faults_start)} · observe "
                   f"{_secs(phases.observe_end - phases.faults_end)}"),
        "targets": escape(", ".join(t.name or t.bundled or "?" for t in scenario.targets)),
        "requests": f"{requests:,}",
    }
    facts_html = "".join(f"<div><dt>{k}</dt><dd>{v}</dd></div>" for k, v in facts.items())
    description = (f'<p class="muted">{escape(scenario.description.strip())}</p>'
                   if scenario.description.strip() else "")
    findings = sorted(result.verdict.findings, key=lambda f: f.status.rank)
    findings_html = "".join(_finding(f, t0) for f in findings) or '<p class="muted">no findings</p>'
    return (
        f'<section class="card run" id="run-{index}">'
        f'<div class="verdict"><h2>{escape(scenario.name)}</h2>{_badge(result.verdict.status, big=True)}{build}</div>'
        f"{description}<dl class=\"facts\">{facts_html}</dl>"
        f'<figure class="plot">{plot_svg}</figure>'
        f"<h3>Findings</h3>{findings_html}"
        f"{_faults(result)}{_events(result)}{_logs(result)}</section>"
    )


def _finding(finding: Finding, t0: int) -> str:
    figures = "".join(f"<span><code>{escape(k)}</code>={escape(_figure(v))}</span> "
                      for k, v in finding.figures.items())
    evidence = "".join(
        f'<div class="evidence">{_at(e.t_ns, t0)}<pre>{escape(printable(e.text))}</pre></div>'
        for e in finding.evidence[:MAX_EVIDENCE]
    )
    if len(finding.evidence) > MAX_EVIDENCE:
        evidence += (f'<p class="muted">{len(finding.evidence) - MAX_EVIDENCE} more piece(s) of evidence '
                     f"in report.json</p>")
    if evidence and finding.status is Status.PASS:  # open what went wrong, fold what went right
        evidence = f"<details><summary>evidence ({len(finding.evidence)})</summary>{evidence}</details>"
    return (f'<article class="finding status-{finding.status.value}"><header>{_badge(finding.status)}'
            f'<span class="check">{escape(finding.check)}</span><span>{escape(printable(finding.summary))}</span>'
            f"</header>{f'<div class=figures>{figures}</div>' if figures else ''}{evidence}</article>")


def _faults(result: RunResult) -> str:
    if not result.faults:
        return ""
    t0 = result.phases.baseline_start
    rows = "".join(
        f"<tr><td>{escape(r.name)} #{r.fault_id}</td><td>{escape(r.target or 'cluster')}</td>"
        f'<td class="num">{_rel(r.start_ns, t0)}</td><td class="num">{_secs(r.end_ns - r.start_ns)}</td>'
        f"<td>{'yes' if r.outcome.landed else '<strong>no</strong>'}</td>"
        f"<td>{escape(printable(r.outcome.summary))}</td></tr>"
        for r in result.faults
    )
    return (f"<h3>Faults</h3><table><tr><th>fault</th><th>target</th><th>start</th><th>duration</th>"
            f"<th>landed</th><th>outcome</th></tr>{rows}</table>")


def _events(result: RunResult) -> str:
    events = result.timeline.events()
    t0 = result.phases.baseline_start
    rows = "".join(
        f'<tr><td class="num">{_rel(e.t_ns, t0)}</td><td><code>{escape(e.kind)}</code></td>'
        f"<td>{escape(e.source)}</td><td>{escape(printable(describe_details(e.details)))}</td></tr>"
        for e in events[:MAX_EVENTS]
    )
    more = f" (first {MAX_EVENTS}; all in report.json)" if len(events) > MAX_EVENTS else ""
    return (f"<details><summary>Events ({len(events)}){more}</summary><table><tr><th>t</th><th>kind</th>"
            f"<th>source</th><th>details</th></tr>{rows}</table></details>")


def _logs(result: RunResult) -> str:
    parts = []
    for name, text in result.target_logs.items():
        lines = text.splitlines()
        tail = lines[-LOG_TAIL_LINES:]
        shown = f"last {len(tail)} of {len(lines)} lines" if len(lines) > len(tail) else f"{len(lines)} lines"
        parts.append(f"<details><summary>Log of {escape(name)} ({shown})</summary>"
                     f"<pre>{escape(printable(chr(10).join(tail)))}</pre></details>")
    return "".join(parts)


def _at(t_ns: int | None, t0: int) -> str:
    return f'<span class="at">at {_rel(t_ns, t0)}</span>' if t_ns is not None else ""


def _rel(t_ns: int | None, t0: int) -> str:
    return "—" if t_ns is None else f"{(t_ns - t0) / 1e9:+.3f} s"


def _secs(ns: int) -> str:
    return f"{ns / 1e9:.2f} s"


def _figure(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.4g}" if math.isfinite(value) else str(value)
    if isinstance(value, Mapping | list | tuple):
        return json.dumps(value, default=str, separators=(", ", ": "))
    return str(value)
