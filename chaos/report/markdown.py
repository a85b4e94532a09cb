"""summary.md: the verdict table, the top finding with its evidence, the seed and the replay command(s).

Short enough for a CI job's summary page (GitHub's `$GITHUB_STEP_SUMMARY`, which `chaos.report.publish`
appends it to) or a merge-request comment; the HTML report holds the rest.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from chaos.report.digest import Digest, RunDigest, digest
from chaos.report.sanitize import printable

if TYPE_CHECKING:
    from chaos.run_result import RunResult

FILENAME = "summary.md"
#: Evidence shown under the top finding: pieces, and lines of each (a stack is long).
MAX_PIECES, MAX_LINES = 3, 30
_ICON = {"pass": "✅", "fail": "❌", "inconclusive": "⚠️", "error": "⛔", "aborted": "⏹️"}


def write_many(results: Sequence[RunResult], directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / FILENAME
    path.write_text(render(digest(results, report=directory)), encoding="utf-8")
    return path


def render(found: Digest) -> str:
    names = ", ".join(dict.fromkeys(r.scenario for r in found.runs)) or "no runs"
    verdict = found.verdict.value
    lines = [f"## {_ICON[verdict]} gochaos: {verdict.upper()} — {_inline(names)}", ""]
    lines += ["| scenario | build | verdict | seed | recovery | availability (faults) | p99 (faults) "
              "| checks not passed |", "|---|---|---|---|---|---|---|---|"]
    lines += [_row(run) for run in found.runs]
    lines.append("")
    lines += [f"- {_inline(text)}" for text in found.detection]
    if found.detection:
        lines.append("")
    if found.top is not None:
        top = found.top
        finding = top.finding
        lines += [f"### Top finding: `{finding.check}` {finding.status.value.upper()} "
                  f"({_inline(top.run.scenario)}, seed {top.run.seed})", "", f"> {_inline(finding.summary)}", ""]
        for item in finding.evidence[:MAX_PIECES]:
            text = printable(item.text).splitlines()
            shown = text[:MAX_LINES] + ([f"... {len(text) - MAX_LINES} more lines"] if len(text) > MAX_LINES else [])
            stamp = f"at {(item.t_ns - top.t0_ns) / 1e9:+.3f} s" if item.t_ns is not None else "evidence"
            lines += [f"{stamp}:", "", *_fenced("\n".join(shown)), ""]
        if len(finding.evidence) > MAX_PIECES:
            lines += [f"{len(finding.evidence) - MAX_PIECES} more piece(s) of evidence in report.json", ""]
    seeds = ", ".join(str(s) for s in found.seeds)
    lines.append(f"**Seed:** {seeds}  ")
    lines += _replays(found)
    if found.report is not None:
        lines.append(f"**Reports:** `{_shown(found.report)}` (report.html, report.json, junit.xml)")
    return "\n".join(lines).rstrip() + "\n"


def _replays(found: Digest) -> list[str]:
    """The replay: one command for one scenario; for a suite, each member alone with its own seed."""
    if len(found.replays) > 1:
        return ["**Replay** (each scenario alone):", "",
                *(f"- {_inline(r.scenario)} {_ICON[r.status.value]} {r.status.value.upper()}: `{r.command}`"
                  for r in found.replays), ""]
    return [f"**Replay:** `{found.replay}`  "] if found.replay else []


def _row(run: RunDigest) -> str:
    recovery = ("never" if run.recovered is False else
                "—" if run.recovery_s is None else f"{run.recovery_s:.2f} s")
    availability = "—" if run.availability is None else f"{run.availability:.2%}"
    p99 = "—" if run.p99_ms is None else f"{run.p99_ms:.1f} ms"
    checks = "; ".join(f"{f.check}: {f.summary}" for f in run.problems) or "—"
    cells = [run.scenario, run.build, f"{_ICON[run.verdict.value]} {run.verdict.value.upper()}", str(run.seed),
             recovery, availability, p99, _shorten(checks, 200)]
    return "| " + " | ".join(_cell(c) for c in cells) + " |"


def _shown(path: Path) -> str:
    """`path` relative to the working directory when inside it (CI's checkout), else as it is."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except (ValueError, OSError):
        return str(path)


def _cell(text: str) -> str:
    """A table cell: one line, pipes escaped."""
    return _inline(text).replace("|", "\\|")


def _inline(text: str) -> str:
    return " ".join(printable(text).split())


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _fenced(text: str) -> list[str]:
    """A code block whose fence is longer than any backtick run in `text`."""
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return [fence, text, fence]


def append_step_summary(summary: Path, text: str) -> None:
    """Append to a CI step summary file (GitHub's `$GITHUB_STEP_SUMMARY`), separated from what is there."""
    with summary.open("a", encoding="utf-8") as out:
        if summary.stat().st_size:
            out.write("\n")
        out.write(text)
