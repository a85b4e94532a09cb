"""--pushgateway / --webhook: a bad URL is exit 2 before anything runs; the environment sets them too."""

from __future__ import annotations

from pathlib import Path

import pytest

from chaos.cli import _parser, main


@pytest.mark.parametrize(("argv", "env", "message"), [
    (["--pushgateway", "ftp://gw"], {}, "'ftp://gw' is not an http(s) URL with a host"),
    (["--webhook", "http://hooks:port/x"], {}, "'http://hooks:port/x' is not a URL"),
    ([], {"GOCHAOS_WEBHOOK": "http://"}, "'http://' is not an http(s) URL with a host; pass e.g. "
                                        "http://127.0.0.1:9091 (from --webhook or GOCHAOS_WEBHOOK)"),
    (["--webhook-format", "teams"], {}, "argument --webhook-format: invalid choice: 'teams'"),
])
def test_a_bad_destination_is_a_usage_error_before_the_run(
    argv: list[str], env: dict[str, str], message: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    report_dir = tmp_path / "reports"
    with pytest.raises(SystemExit) as raised:
        main(["run", "reload-panic", "--report-dir", str(report_dir), *argv])
    assert raised.value.code == 2
    assert message in capsys.readouterr().err
    assert not report_dir.exists(), "nothing ran, nothing was written"


def test_the_environment_gives_the_destinations_and_an_empty_variable_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOCHAOS_PUSHGATEWAY", "127.0.0.1:9091")
    monkeypatch.setenv("GOCHAOS_WEBHOOK", "")  # what CI passes for an unset secret
    args = _parser().parse_args(["reproduce", "reload-panic"])
    assert (args.pushgateway, args.webhook, args.webhook_format) == ("http://127.0.0.1:9091", None, "generic")
    args = _parser().parse_args(["run", "x.chaos.yaml", "--pushgateway", "https://gw", "--webhook-format", "slack"])
    assert (args.pushgateway, args.webhook_format) == ("https://gw", "slack")
