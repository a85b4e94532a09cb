"""The plugin's settings: ini key < environment < command-line option, bad values refused in one line."""

from __future__ import annotations

import pytest

from chaos.cli import main
from chaos.errors import ExitCode, UsageError
from chaos.os_support import require_linux
from chaos.pytest_plugin import session

pytest_plugins = ["pytester"]


def _config(pytester: pytest.Pytester, *args: str) -> pytest.Config:
    pytester.makeini("[pytest]\ngochaos_seed = 11\ngochaos_platform = kubernetes\ngochaos_report_dir = from-ini\n")
    return pytester.parseconfig(*args)


def test_ini_keys_are_read_when_nothing_else_says(pytester: pytest.Pytester,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("GOCHAOS_SEED", "GOCHAOS_PLATFORM", "GOCHAOS_REPORT_DIR"):
        monkeypatch.delenv(name, raising=False)
    config = _config(pytester)
    assert (session.seed(config), session.platform_name(config), str(session.report_dir(config))) == \
        (11, "kubernetes", "from-ini")
    assert session.int_setting(config, "etcd_members") == 3  # the default


def test_environment_beats_ini_and_the_option_beats_both(pytester: pytest.Pytester,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOCHAOS_SEED", "22")
    monkeypatch.setenv("GOCHAOS_PLATFORM", "local")
    config = _config(pytester)
    assert (session.seed(config), session.platform_name(config)) == (22, "local")
    config = _config(pytester, "--gochaos-seed", "33", "--gochaos-platform", "kubernetes")
    assert (session.seed(config), session.platform_name(config)) == (33, "kubernetes")


def test_a_bad_seed_or_platform_is_one_usage_line(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOCHAOS_SEED", "abc")
    config = pytester.parseconfigure()  # a session that never uses gochaos is not refused
    with pytest.raises(pytest.UsageError, match=r"^gochaos: seed 'abc' \(from --gochaos-seed, GOCHAOS_SEED or ini "
                                                r"gochaos_seed\) is not a whole number; give one$"):
        session.check_settings(config)
    monkeypatch.delenv("GOCHAOS_SEED")
    with pytest.raises(pytest.UsageError, match=r"unknown platform 'moon' .*; choose from local, kubernetes"):
        session.check_settings(pytester.parseconfigure("--gochaos-platform", "moon"))


def test_other_operating_systems_are_refused_in_one_line(monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(UsageError, match=r"^gochaos runs on Linux only \(this is darwin\); run it on a Linux"):
        require_linux("darwin")
    require_linux("linux")
    monkeypatch.setattr("sys.platform", "win32")
    assert main(["list"]) == ExitCode.USAGE
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "gochaos runs on Linux only (this is win32)" in err
