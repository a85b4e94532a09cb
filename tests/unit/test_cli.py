"""The gochaos command's usage errors and exit codes (no target is started here)."""

from __future__ import annotations

from pathlib import Path

import pytest

from chaos import __version__
from chaos.cli import main
from chaos.errors import ExitCode


def test_version_and_list(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["version"]) == ExitCode.PASS
    assert capsys.readouterr().out.strip() == f"gochaos {__version__}"
    assert main(["list"]) == ExitCode.PASS
    assert "reload-panic" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (["run", "reload-panik"], ExitCode.USAGE, "no bundled scenario 'reload-panik'; did you mean 'reload-panic'?"),
        (["run", "missing.chaos.yaml"], ExitCode.USAGE, "scenario file missing.chaos.yaml does not exist"),
        (["run", "reload-panic", "--platform", "kubernetes", "--kubeconfig", "missing-kubeconfig"], ExitCode.USAGE,
         "kubeconfig missing-kubeconfig is unreadable"),
    ],
)
def test_errors_exit_with_their_code_and_one_clear_line(
    argv: list[str], code: ExitCode, message: str, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(argv) == code
    assert message in capsys.readouterr().err.replace("\n", " ")


def test_invalid_scenario_file_is_a_usage_error_naming_the_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.chaos.yaml"
    bad.write_text("name: bad\ntargets:\n  - bundled: configd\noracles: [panicz]\n")
    assert main(["run", str(bad)]) == ExitCode.USAGE
    err = capsys.readouterr().err.replace("\n", "")
    assert "bad.chaos.yaml:4: oracles.0: unknown oracle 'panicz'; did you mean 'panics'?" in err


def test_unknown_command_and_bad_platform_exit_2() -> None:
    with pytest.raises(SystemExit) as raised:
        main(["frobnicate"])
    assert raised.value.code == 2
    with pytest.raises(SystemExit) as raised:
        main(["run", "reload-panic", "--platform", "mars"])
    assert raised.value.code == 2


def test_version_flag(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0 and capsys.readouterr().out.strip() == f"gochaos {__version__}"

