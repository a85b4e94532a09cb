"""The CI recipes in examples/ci run the gochaos commands they show, as the CLI accepts them today.

Each recipe is parsed as YAML; every script line that runs `gochaos` is run by bash in the repo
root, with the job's variables (secrets and repository variables both given and unset), through a
`gochaos` on PATH that plans a `run`/`reproduce` with `--dry-run` (scenario resolved and validated,
flags and URLs checked, nothing started) and parses any other command's arguments. A recipe that
drifts from the CLI (a renamed flag, a missing scenario, a bad URL) fails here.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
RECIPES = ROOT / "examples" / "ci"
GITHUB, GITLAB = RECIPES / "github-actions.yml", RECIPES / ".gitlab-ci.yml"
#: What a `${{ ... }}` expression or an unset CI variable stands for in the test: given, or empty.
GIVEN = {"GOCHAOS_PUSHGATEWAY": "http://127.0.0.1:9091", "GOCHAOS_WEBHOOK": "http://127.0.0.1:8080/hook",
         "PUSHGATEWAY_URL": "http://127.0.0.1:9091", "CHAOS_SEED": "5"}
SHIM = f"""#!/bin/sh
case "$1" in
  run|reproduce) exec "{sys.executable}" -m chaos.cli "$@" --dry-run ;;
  *) exec "{sys.executable}" -c 'import sys; from chaos.cli import _parser; _parser().parse_args(sys.argv[1:])' "$@" ;;
esac
"""


def github_commands() -> Iterator[tuple[str, dict[str, Any]]]:
    workflow = yaml.safe_load(GITHUB.read_text(encoding="utf-8"))
    for job in workflow["jobs"].values():
        env = {**workflow.get("env", {}), **job.get("env", {})}
        for step in job["steps"]:
            for line in _lines(step.get("run", "")):
                yield line, {**env, **step.get("env", {})}


def gitlab_commands() -> Iterator[tuple[str, dict[str, Any]]]:
    pipeline = yaml.safe_load(GITLAB.read_text(encoding="utf-8"))
    for job in pipeline.values():
        if not isinstance(job, dict) or "script" not in job:
            continue
        env = {**pipeline.get("variables", {}), **job.get("variables", {})}
        for key in ("before_script", "script", "after_script"):
            for item in job.get(key, []):
                yield from ((line, env) for line in _lines(item))


def _lines(script: str) -> Iterator[str]:
    """The gochaos command lines of a shell script (continuations joined, comments dropped)."""
    for line in script.replace("\\\n", " ").splitlines():
        command = line.split(" #", 1)[0].strip()
        if command.startswith("gochaos "):
            yield command


def run_like_ci(line: str, env: dict[str, Any], given: bool, shim: Path) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("GOCHAOS_", "GITHUB_"))}
    for key, value in env.items():
        environment[key] = GIVEN.get(key, "") if given and "${{" in str(value) else (
            "" if "${{" in str(value) else str(value))
    if given:
        environment.update({k: v for k, v in GIVEN.items() if k not in env})
    environment["PATH"] = f"{shim.parent}{os.pathsep}{environment['PATH']}"
    return subprocess.run(["bash", "-c", line], cwd=ROOT, env=environment, capture_output=True, text=True,
                          timeout=60)


@pytest.fixture(scope="module")
def shim(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("bin") / "gochaos"
    path.write_text(SHIM, encoding="utf-8")
    path.chmod(0o755)
    return path


def test_the_recipes_hold_the_commands_they_are_for() -> None:
    github = [line for line, _ in github_commands()]
    gitlab = [line for line, _ in gitlab_commands()]
    assert any(re.match(r"gochaos run gate --report-dir reports\b", c) for c in github), github
    assert any(c.startswith("gochaos history reports") for c in github)
    assert any("--pushgateway" in c for c in gitlab), "the flag is shown once, optional"
    assert any(c.startswith("gochaos reproduce reload-panic") for c in gitlab)
    assert len(github) >= 3 and len(gitlab) >= 3


@pytest.mark.parametrize("given", [True, False], ids=["variables set", "variables unset"])
@pytest.mark.parametrize(("line", "env"), [*github_commands(), *gitlab_commands()],
                         ids=lambda value: value if isinstance(value, str) else "")
def test_each_gochaos_command_of_the_recipes_is_accepted(line: str, env: dict[str, Any], given: bool,
                                                          shim: Path) -> None:
    done = run_like_ci(line, env, given, shim)
    assert done.returncode == 0, f"{line!r} (variables {'set' if given else 'unset'}):\n{done.stdout}{done.stderr}"
    if line.startswith(("gochaos run", "gochaos reproduce")):
        assert "plan for " in done.stdout, done.stdout


def test_a_drifted_recipe_line_fails(shim: Path) -> None:
    done = run_like_ci("gochaos run gate --report-dir reports --push-gateway http://127.0.0.1:9091", {}, True, shim)
    assert done.returncode == 2 and "unrecognized arguments: --push-gateway" in done.stderr
    done = run_like_ci("gochaos run gat --report-dir reports", {}, True, shim)
    assert done.returncode == 2 and "no bundled scenario 'gat'" in done.stderr
