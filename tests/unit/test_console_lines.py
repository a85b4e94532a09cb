"""Console output in a CI log keeps every stack and log line whole; a real terminal keeps its width.

The log here is what CI captures: a stream that is not a terminal (a StringIO, and a pipe through the real
`gochaos` command); the terminal is a real pseudo-terminal.
"""

from __future__ import annotations

import dataclasses
import io
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from report_samples import sample_result

from chaos.report.console import print_verdict
from chaos.report.terminal import LOG_WIDTH, make_console
from chaos.verdict import Evidence, Finding, Status

REPO = Path(__file__).resolve().parents[2]
#: A 300-character Go log line (a JSON log with a long request path).
LOG_LINE = ('{"level":"error","msg":"reload rejected","path":"/etc/configd/' + "x" * 176 + '.yaml",'
            '"error":"yaml: line 3: mapping values are not allowed"}')


@pytest.fixture(autouse=True)
def plain_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No width or colour forced from the environment the tests run in."""
    for name in ("COLUMNS", "FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "NO_COLOR"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def terminal() -> Iterator[io.TextIOWrapper]:
    """The writing end of a real pseudo-terminal."""
    leader, follower = os.openpty()
    with os.fdopen(follower, "w") as stream:
        yield stream
    os.close(leader)


def test_a_300_character_log_line_reaches_a_log_on_one_line() -> None:
    assert len(LOG_LINE) == 300
    failing = Finding("panics", Status.FAIL, "configd: " + LOG_LINE, (Evidence(None, f"goroutine 1\n{LOG_LINE}"),))
    out = io.StringIO()
    print_verdict(make_console(file=out), dataclasses.replace(sample_result([failing]), seed=7))
    lines = out.getvalue().splitlines()
    assert LOG_LINE in lines, "the evidence line, whole and alone on its line"
    assert "goroutine 1" in lines


def test_a_long_line_from_the_real_command_stays_one_line_in_a_pipe(tmp_path: Path) -> None:
    """An error about a scenario with a long path: the `gochaos` process writes to pipes, as in CI."""
    folder = tmp_path / ("d" * 120) / ("e" * 120)
    folder.mkdir(parents=True)
    (folder / "bad.chaos.yaml").write_text("name: Bad Name\ntargets: [{bundled: configd}]\n")
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "FORCE_COLOR", "TTY_COMPATIBLE")}
    done = subprocess.run([sys.executable, "-m", "chaos.cli", "run", str(folder / "bad.chaos.yaml"), "--no-report"],
                          cwd=tmp_path, env={**env, "PYTHONPATH": str(REPO)}, capture_output=True, text=True,
                          timeout=120)
    (line,) = done.stderr.splitlines()
    assert len(line) > 300 and str(folder / "bad.chaos.yaml") in line, line


def test_a_log_gets_unwrapped_lines_and_room_for_tables() -> None:
    console = make_console(file=io.StringIO())
    assert console.soft_wrap and console.width >= LOG_WIDTH


def test_forced_colours_in_ci_do_not_make_a_log_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORCE_COLOR", "1")
    out = io.StringIO()
    console = make_console(file=out)
    console.print(LOG_LINE, highlight=False)
    assert console.soft_wrap and LOG_LINE in out.getvalue()


def test_a_real_terminal_keeps_its_width(terminal: io.TextIOWrapper, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "97")  # the terminal's width as the shell tells it
    console = make_console(file=terminal)
    assert console.is_terminal and not console.soft_wrap and console.width == 97
