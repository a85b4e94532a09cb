"""SIGKILL of `gochaos run` mid-fault, then `gochaos cleanup` (or the next `gochaos run`) undoes the rest.

The killed run holds real things: an etcd member isolated with iptables, another one SIGSTOPped, a
target squeezed into a cgroup of its own, Locust children and a temp run dir. Its children die with
it (PR_SET_PDEATHSIG) but the rules, the cgroup, the run dir and the state file stay: the test
checks exactly that, then that the clean-up reports each item on a line of its own and leaves
nothing behind.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from chaos import state
from chaos.observe.readiness import wait_until
from chaos.platform.local import cgroups
from chaos.platform.local.netfilter import iptables_available, leftover_rules

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
CAN_ISOLATE = iptables_available() is None
CAN_SQUEEZE = os.geteuid() == 0 and cgroups.version() is not None

FAULTS = "\n".join(line for line, wanted in [
    ("  - {injector: leader_loss, params: {mode: isolate, duration_s: 300}}", CAN_ISOLATE),
    ("  - {injector: leader_loss, at_s: 3, params: {mode: pause, duration_s: 300}}", True),
    ("  - {injector: gc_pressure, target: allocd, params: {method: cgroup, memory_limit_mb: 256, "
     "duration_s: 300}}", CAN_SQUEEZE),
] if wanted)
HOLDING = f"""
name: holds-everything
targets: [{{bundled: allocd}}]
etcd: {{members: 5}}
load: {{users: 2, spawn_rate: 10}}
windows: {{baseline_s: 1, observe_s: 300}}
faults:
{FAULTS}
"""
QUICK = """
name: quick
targets: [{bundled: allocd}]
load: null
windows: {baseline_s: 0, observe_s: 0}
oracles: [panics]
"""
EXPECTED = {"dir", "process_group", "stopped"} | ({"iptables"} if CAN_ISOLATE else set()) | \
    ({"cgroup"} if CAN_SQUEEZE else set())


def gochaos(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "chaos.cli", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=180)


def holdings(path: Path) -> list[dict[str, Any]]:
    try:
        return list(json.loads(path.read_text())["holdings"])
    except (OSError, ValueError, KeyError):
        return []


def group_alive(holding: dict[str, Any]) -> bool:
    return state.same_process(int(holding["data"]["pid"]), holding["data"]["start"])


@pytest.mark.parametrize("cleaner", ["gochaos cleanup", "next gochaos run"])
def test_sigkill_mid_fault_then_cleanup_leaves_nothing(tmp_path: Path, cleaner: str) -> None:
    (tmp_path / "holds.chaos.yaml").write_text(HOLDING)
    (tmp_path / "quick.chaos.yaml").write_text(QUICK)
    env = {**os.environ, "GOCHAOS_STATE_DIR": str(tmp_path / "state"), "TMPDIR": str(tmp_path),
           "COLUMNS": "300", "PYTHONPATH": str(REPO)}
    with (tmp_path / "run.log").open("w") as out:
        # --no-report: the run's dir is then a temp dir recorded in the state file, what cleanup must remove
        run = subprocess.Popen([sys.executable, "-m", "chaos.cli", "run", "holds.chaos.yaml", "--no-report"],
                               cwd=tmp_path, env=env, stdout=out, stderr=subprocess.STDOUT)
    def state_file() -> Path:
        return next((tmp_path / "state").glob(f"{run.pid}.*.json"), tmp_path / "state" / "none")

    try:
        assert wait_until(lambda: {h["kind"] for h in holdings(state_file())} >= EXPECTED, timeout_s=120,
                          interval_s=0.2, abort=lambda: None if run.poll() is None else "the run exited"), \
            (tmp_path / "run.log").read_text()
        recorded = state_file()
        held = holdings(recorded)
    finally:
        run.kill()  # SIGKILL: no finally, no atexit
        run.wait(10)
    assert run.returncode == -signal.SIGKILL
    tag = f"gochaos:{run.pid}."

    # what a SIGKILL really leaves: children die with the run, everything else stays
    groups = [h for h in held if h["kind"] in ("process_group", "stopped")]
    assert len({h["key"] for h in groups}) >= 7  # 5 etcd members, allocd, Locust
    assert wait_until(lambda: not any(group_alive(h) for h in groups), timeout_s=10), \
        "children outlived the SIGKILLed run"
    run_dir = Path(next(h["key"] for h in held if h["kind"] == "dir"))
    assert run_dir.is_dir() and run_dir.name.startswith("gochaos-run-") and recorded.exists()
    if CAN_ISOLATE:
        assert [r for r in leftover_rules() if tag in r], "the isolation rules should have stayed"
    squeezed = [Path(h["key"]) for h in held if h["kind"] == "cgroup"]
    assert all(group.is_dir() for group in squeezed) and len(squeezed) == int(CAN_SQUEEZE)

    if cleaner == "gochaos cleanup":
        preview = gochaos("cleanup", "--dry-run", cwd=tmp_path, env=env)
        assert preview.returncode == 0 and "would be cleaned up (dry run)" in preview.stdout
        assert run_dir.is_dir() and recorded.exists()
        result = gochaos("cleanup", cwd=tmp_path, env=env)
        prefix = ""
    else:
        result = gochaos("run", "quick.chaos.yaml", "--no-report", cwd=tmp_path, env=env)
        prefix = "gochaos: cleaned up after a dead run: "
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    for holding in held:  # one line per item, naming it and the dead owner
        said = [line for line in lines if line.startswith(f"{prefix}{holding['what']} (left by dead gochaos pid "
                                                          f"{run.pid}): ")]
        assert len(said) == 1, (holding, result.stdout)
    outcome = {h["kind"]: next(line for line in lines if h["what"] in line).rsplit(": ", 1)[1] for h in held}
    assert outcome["dir"] == "removed" and outcome["process_group"] == "already gone"
    if CAN_ISOLATE:
        assert outcome["iptables"].startswith("removed ") and outcome["iptables"] != "removed 0 rule(s)"
    if CAN_SQUEEZE:
        assert outcome["cgroup"] == "removed"

    # nothing left
    assert not [r for r in leftover_rules() if tag in r]
    assert not any(group.exists() for group in squeezed)
    assert not run_dir.exists() and not recorded.exists()
    assert list((tmp_path / "state").glob("*.json")) == []
    again = gochaos("cleanup", cwd=tmp_path, env=env)
    assert again.returncode == 0 and f"left by dead gochaos pid {run.pid}" not in again.stdout
