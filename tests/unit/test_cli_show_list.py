"""`gochaos show NAME` and `gochaos list` through the installed command: a bundled scenario printed byte for
byte (to copy and edit), an unknown name answered with the names there are, and where the files live."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from chaos.errors import ExitCode
from chaos.scenario import bundled_scenarios

#: The console script of the venv running the tests (`.venv/bin/gochaos`).
GOCHAOS = Path(sys.executable).with_name("gochaos")


def gochaos(*args: str, cwd: Path) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([str(GOCHAOS), *args], cwd=cwd, capture_output=True, timeout=60, check=False)


@pytest.mark.parametrize("name", ["reload-panic", "gate"])
def test_show_prints_the_bundled_file_byte_for_byte(name: str, tmp_path: Path) -> None:
    shown = gochaos("show", name, cwd=tmp_path)
    assert shown.returncode == ExitCode.PASS, shown.stderr
    assert shown.stdout == bundled_scenarios()[name].read_bytes()
    assert shown.stderr == b""


def test_a_shown_scenario_copied_away_is_a_valid_scenario_file(tmp_path: Path) -> None:
    copy = tmp_path / "mine.chaos.yaml"
    copy.write_bytes(gochaos("show", "reload-panic", cwd=tmp_path).stdout)
    planned = gochaos("run", str(copy), "--dry-run", cwd=tmp_path)
    assert planned.returncode == ExitCode.PASS, planned.stderr
    assert b"reload_storm" in planned.stdout


def test_show_of_an_unknown_name_lists_the_bundled_ones(tmp_path: Path) -> None:
    shown = gochaos("show", "reload-panik", cwd=tmp_path)
    assert shown.returncode == ExitCode.USAGE and shown.stdout == b""
    err = shown.stderr.decode()
    assert "no bundled scenario 'reload-panik'; did you mean 'reload-panic'?" in err
    assert f"(valid: {', '.join(sorted(bundled_scenarios()))})" in err


def test_list_names_every_bundled_scenario_and_ends_with_their_directory(tmp_path: Path) -> None:
    listed = gochaos("list", cwd=tmp_path)
    assert listed.returncode == ExitCode.PASS, listed.stderr
    *rows, last = listed.stdout.decode().splitlines()
    assert [line.split()[0] for line in rows] == list(bundled_scenarios())
    assert last.startswith("bundled scenario files: ")
    folder = Path(last.removeprefix("bundled scenario files: ").split(" (")[0])
    assert sorted(p.name for p in folder.glob("*.chaos.yaml")) == sorted(f"{n}.chaos.yaml" for n in bundled_scenarios())
