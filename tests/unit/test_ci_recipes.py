"""The CI recipes in examples/ci/ stay runnable: every `gochaos ...` line in them parses, and runs dry.

A recipe that drifts from the command line (a renamed flag, a scenario that moved) fails here, not
in a team's pipeline. Each command found in a YAML file is run in-process with `--dry-run` added
(`run` and `reproduce`: the whole plan is built, nothing started); `history` has no dry run, so its
arguments are parsed. The recipes' GOCHAOS_* variables are set to loopback URLs while they run.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from chaos import cli

ROOT = Path(__file__).resolve().parents[2]
RECIPES = sorted((ROOT / "examples" / "ci").glob("*.yml")) + sorted((ROOT / "examples" / "ci").glob(".*.yml"))
#: Values a CI system would supply for the recipes' variables (secrets, project variables).
PLACEHOLDERS = {"GOCHAOS_PUSHGATEWAY": "http://127.0.0.1:9091", "GOCHAOS_WEBHOOK": "http://127.0.0.1:9/hook"}


def strings(node: Any) -> Iterator[str]:
    """Every string value in a parsed YAML document (scripts, `run:` blocks, env values)."""
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from strings(item)


def commands(document: Any) -> list[str]:
    """Each `gochaos ...` command line, with shell line continuations joined."""
    found = []
    for text in strings(document):
        for line in text.replace("\\\n", " ").splitlines():
            if line.strip().startswith("gochaos "):
                found.append(" ".join(line.split()))
    return found


def env_names(document: Any) -> set[str]:
    """The GOCHAOS_* variables a recipe sets (GitHub `env:` blocks, GitLab `variables:`)."""
    names: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("env", "variables") and isinstance(value, dict):
                    names.update(k for k in value if str(k).startswith("GOCHAOS_"))
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(document)
    for text in strings(document):
        names.update(re.findall(r"\bGOCHAOS_[A-Z_]+\b", text))
    return names


def recipe_commands() -> list[tuple[str, str]]:
    return [(path.name, command) for path in RECIPES
            for command in commands(yaml.safe_load(path.read_text(encoding="utf-8")))]


def test_both_recipes_are_there_and_use_the_publishing_flags() -> None:
    assert {p.name for p in RECIPES} == {"github-actions.yml", ".gitlab-ci.yml"}
    for path in RECIPES:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        found = commands(document)
        assert any(c.startswith("gochaos run gate ") for c in found), path.name
        assert any("--webhook-format" in c for c in found), path.name
        assert {"GOCHAOS_PUSHGATEWAY", "GOCHAOS_WEBHOOK"} <= env_names(document), path.name


@pytest.mark.parametrize(("recipe", "command"), recipe_commands())
def test_every_gochaos_line_of_a_recipe_runs_dry(recipe: str, command: str, monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(ROOT)  # recipes name scenario files from the repository's root
    for name, value in PLACEHOLDERS.items():
        monkeypatch.setenv(name, value)
    argv = shlex.split(command)[1:]
    parsed = cli._parser().parse_args(argv)  # exits 2 on an unknown flag or a bad value
    if parsed.command in ("run", "reproduce"):
        assert cli.main([*argv, "--dry-run"]) == 0, f"{recipe}: `{command}` --dry-run failed"
        assert "dry run: nothing was built, started or written" in capsys.readouterr().out
    else:
        assert parsed.command == "history", f"{recipe}: `{command}`: no check for this sub-command yet"


def test_a_drifted_flag_is_caught(capsys: pytest.CaptureFixture[str]) -> None:
    """The check above has teeth: a flag the CLI does not know ends argument parsing with exit 2."""
    with pytest.raises(SystemExit) as exited:
        cli._parser().parse_args(["run", "gate", "--report-directory", "reports"])
    assert exited.value.code == 2
    assert "unrecognized arguments: --report-directory" in capsys.readouterr().err
