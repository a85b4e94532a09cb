"""`pip install` of the built wheel gives a working tool, far from any checkout."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]
REPO = Path(__file__).resolve().parents[2]


def _run(argv: list[str], *, cwd: Path, env: dict[str, str] | None = None,
         timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def test_the_wheel_installed_in_a_fresh_venv_runs_a_bundled_scenario(tmp_path: Path) -> None:
    if shutil.which("go") is None:
        pytest.skip("no Go toolchain on PATH: the installed tool builds its targets with it")
    dist, venv, elsewhere = tmp_path / "dist", tmp_path / "venv", tmp_path / "elsewhere"
    built = _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(REPO)], cwd=tmp_path)
    assert built.returncode == 0, built.stderr
    wheel = next(dist.glob("gochaos-*.whl"))
    assert _run([sys.executable, "-m", "venv", str(venv)], cwd=tmp_path).returncode == 0  # no system site-packages
    installed = _run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", str(wheel)], cwd=tmp_path)
    if installed.returncode != 0 and "No matching distribution" in installed.stderr:
        pytest.skip(f"the wheel's dependencies cannot be installed here: {installed.stderr.strip()[-300:]}")
    assert installed.returncode == 0, installed.stderr

    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GOCHAOS_", "PYTHON", "VIRTUAL_ENV"))}
    env["GOCHAOS_STATE_DIR"] = str(tmp_path / "state")
    where = _run([str(venv / "bin" / "python"), "-c", "from chaos.build import go_targets_dir; "
                  "from chaos.platform.kubernetes.cluster.manifest_files import manifests_dir; "
                  "print(go_targets_dir()); print(manifests_dir())"], cwd=elsewhere, env=env)
    assert where.returncode == 0, where.stderr
    assert all(Path(line).is_relative_to(venv) for line in where.stdout.split()), where.stdout

    reports = elsewhere / "reports"
    run = _run([str(venv / "bin" / "gochaos"), "run", "reload-panic", "--report-dir", str(reports)],
               cwd=elsewhere, env=env)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    report = json.loads((reports / "report.json").read_text())
    assert report["verdict"] == "pass"
    assert list((tmp_path / "state").glob("*.json")) == []
