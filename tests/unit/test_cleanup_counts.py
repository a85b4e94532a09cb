"""`gochaos cleanup` counts only what was still there: a ledger entry of a dead run whose process group had
already exited is reported as already gone (in a dry run too), never as a leftover cleaned up.

Real processes and the real command: the dead owner and the exited groups really ran here (their pids
and start times are real), the state file is the one a SIGKILLed run leaves.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from chaos import state
from chaos.errors import ExitCode

GOCHAOS = Path(sys.executable).with_name("gochaos")


def exited_process() -> dict[str, int | None]:
    """The identity (pid, start time) of a process group leader that really ran here and is gone."""
    child = subprocess.Popen(["sleep", "0"], start_new_session=True)
    identity = state.identity(child.pid)
    child.wait()
    return identity


def dead_ledger(folder: Path, holdings: list[dict[str, object]]) -> Path:
    """The state file a SIGKILLed gochaos run leaves in `folder`, holding `holdings`."""
    owner = exited_process()
    me = state.Owner.me()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{owner['pid']}.{owner['start']}.json"
    path.write_text(json.dumps({"schema": state.SCHEMA, "holdings": holdings, "owner": {
        **owner, "boot_id": me.boot_id, "pid_ns": me.pid_ns, "pod": ""}}), encoding="utf-8")
    return path


def group(kind: str) -> dict[str, object]:
    data = exited_process()
    return {"kind": kind, "key": str(data["pid"]), "what": f"process group {data['pid']} (target)", "data": data}


def cleanup(*args: str, state_dir: Path) -> list[str]:
    """The lines `gochaos cleanup ARGS` prints with its state in `state_dir` (it must succeed)."""
    done = subprocess.run([str(GOCHAOS), "cleanup", *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "GOCHAOS_STATE_DIR": str(state_dir)}, check=False)
    assert done.returncode == ExitCode.PASS, done.stdout + done.stderr
    return done.stdout.splitlines()


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    return tmp_path / "state"


def test_gone_groups_are_counted_apart_from_what_is_cleaned_up(state_dir: Path, tmp_path: Path) -> None:
    leftover = tmp_path / "gochaos-run-left"
    leftover.mkdir()
    gone = [group("stopped"), group("process_group"), group("process_group")]
    ledger = dead_ledger(state_dir, [*gone, {"kind": "dir", "key": str(leftover), "what": f"temp dir {leftover}",
                                             "data": {}}])

    lines = cleanup("--dry-run", state_dir=state_dir)
    for holding in gone:
        assert any(line.startswith(f"{holding['what']} (left by dead gochaos pid ") and line.endswith(
            ": already gone") for line in lines), lines
    assert any(line.startswith(f"temp dir {leftover} ") and line.endswith(": would be cleaned up") for line in lines)
    assert lines[-1] == ("1 leftover(s) of dead gochaos runs would be cleaned up (dry run); 3 entries of dead runs "
                         "are already gone; the ledger is left as it is (dry run)")
    assert leftover.is_dir() and ledger.exists()

    lines = cleanup(state_dir=state_dir)
    assert any(line.startswith(f"temp dir {leftover} ") and line.endswith(": removed") for line in lines)
    assert lines[-1] == ("1 leftover(s) of dead gochaos runs cleaned up; 3 entries of dead runs were already gone; "
                         "ledger cleared")
    assert not leftover.exists() and not ledger.exists()

    lines = cleanup(state_dir=state_dir)
    assert lines == ["nothing left behind by dead gochaos runs"]


def test_a_ledger_of_only_gone_groups_leaves_nothing_to_clean_up(state_dir: Path) -> None:
    gone = group("process_group")
    ledger = dead_ledger(state_dir, [gone])
    lines = cleanup("--dry-run", state_dir=state_dir)
    assert lines[-1] == ("nothing left behind by dead gochaos runs: 1 entry of dead runs is already gone; "
                         "the ledger is left as it is (dry run)")
    assert ledger.exists()
    lines = cleanup(state_dir=state_dir)
    assert lines[-1] == ("nothing left behind by dead gochaos runs: 1 entry of dead runs was already gone; "
                         "ledger cleared")
    assert not ledger.exists()
