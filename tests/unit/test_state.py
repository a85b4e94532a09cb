"""The state file and the clean-up after dead owners, with real processes (no Go target needed).

A child Python process records what it holds (a process group it started in a session of its own,
so it survives its parent, and a temp dir) and is then SIGKILLed; `reclaim()` must find both and
undo them, and must never touch a live owner's holdings or a recycled pid.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from chaos import state
from chaos.observe.readiness import wait_until
from chaos.platform.factory import reclaim_dead_runs

REPO = Path(__file__).resolve().parents[2]

OWNER = textwrap.dedent("""
    import os, signal, subprocess, sys
    from chaos import cleanup, state
    sleeper = subprocess.Popen(["sleep", "120"], start_new_session=True)
    cleanup.track_process_group(sleeper.pid, "sleeper")
    folder = state.make_temp_dir("gochaos-test-")
    print(sleeper.pid, folder, flush=True)
    if sys.argv[1] == "die":
        os.kill(os.getpid(), signal.SIGKILL)
    sys.stdin.read()  # "live": stay until the test closes stdin
""")


@pytest.fixture
def state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "state"
    monkeypatch.setenv("GOCHAOS_STATE_DIR", str(folder))
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    return folder


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    except (OSError, IndexError):
        return False


def start_owner(how: str) -> tuple[subprocess.Popen[str], int, Path]:
    proc = subprocess.Popen([sys.executable, "-c", OWNER, how], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert proc.stdout is not None
    with proc.stdout:
        pid, folder = proc.stdout.readline().split()
    return proc, int(pid), Path(folder)


def finish(proc: subprocess.Popen[str]) -> int:
    """Let the owner go (closing its stdin) and reap it."""
    assert proc.stdin is not None
    proc.stdin.close()
    return proc.wait(10)


@pytest.fixture
def sleepers() -> Iterator[list[int | subprocess.Popen[bytes]]]:
    """Sleepers the tests made (pids, or our own children); killed at the end whatever happened."""
    made: list[int | subprocess.Popen[bytes]] = []
    yield made
    for item in made:
        pid = item if isinstance(item, int) else item.pid
        if alive(pid):
            os.killpg(pid, signal.SIGKILL)
        if not isinstance(item, int):
            item.wait(5)


def test_a_sigkilled_owner_leaves_a_state_file_that_reclaim_works_through(
    state_dir: Path, sleepers: list[int | subprocess.Popen[bytes]]
) -> None:
    proc, sleeper, folder = start_owner("die")
    sleepers.append(sleeper)
    assert finish(proc) == -signal.SIGKILL
    files = list(state_dir.glob("*.json"))
    assert len(files) == 1 and files[0].name.startswith(f"{proc.pid}.")
    recorded = json.loads(files[0].read_text())
    assert recorded["owner"]["pid"] == proc.pid and recorded["owner"]["start"] is not None
    assert {h["kind"] for h in recorded["holdings"]} == {"process_group", "dir"}
    assert alive(sleeper) and folder.is_dir()  # what a SIGKILL leaves behind

    lines: list[str] = []
    preview = reclaim_dead_runs(dry_run=True, report=lines.append)
    assert len(preview) == 2 and alive(sleeper) and folder.is_dir() and files[0].exists()
    assert all("would be cleaned up" in line for line in lines)

    lines.clear()
    done = reclaim_dead_runs(report=lines.append)
    assert [d.outcome for d in done] == ["killed", "removed"], lines
    assert lines == [d.describe() for d in done]
    assert f"process group {sleeper} (sleeper) (left by dead gochaos pid {proc.pid}): killed" in lines
    assert wait_until(lambda: not alive(sleeper), timeout_s=5)
    assert not folder.exists() and not files[0].exists()
    assert reclaim_dead_runs() == []


def test_a_live_owner_is_never_touched(state_dir: Path, sleepers: list[int | subprocess.Popen[bytes]]) -> None:
    proc, sleeper, folder = start_owner("live")
    sleepers.append(sleeper)
    try:
        assert reclaim_dead_runs() == []
        assert alive(sleeper) and folder.is_dir() and len(list(state_dir.glob(f"{proc.pid}.*.json"))) == 1
    finally:
        finish(proc)
    # a clean exit: the owner's atexit hooks killed its group and removed its dir and state file
    assert wait_until(lambda: not alive(sleeper), timeout_s=5)
    assert not folder.exists() and list(state_dir.glob("*.json")) == []


def forged_state(state_dir: Path, owner: dict[str, object], holdings: list[dict[str, object]]) -> Path:
    state_dir.mkdir(parents=True, exist_ok=True)
    path = state_dir / f"{owner['pid']}.json"
    path.write_text(json.dumps({"schema": 1, "owner": owner, "holdings": holdings}))
    return path


def dead_owner() -> dict[str, object]:
    """The identity of a process that really ran here and is gone."""
    child = subprocess.Popen(["sleep", "0"])
    start = state.process_start(child.pid)
    child.wait()
    me = state.Owner.me()
    return {"pid": child.pid, "start": start, "boot_id": me.boot_id, "pid_ns": me.pid_ns}


def test_a_recycled_pid_is_never_signalled(state_dir: Path, sleepers: list[int | subprocess.Popen[bytes]]) -> None:
    bystander = subprocess.Popen(["sleep", "120"], start_new_session=True)
    sleepers.append(bystander)
    start = state.process_start(bystander.pid)
    assert start is not None
    path = forged_state(state_dir, dead_owner(), [
        {"kind": "stopped", "key": str(bystander.pid), "what": "a stopped group",
         "data": {"pid": bystander.pid, "start": start - 1}},
        {"kind": "process_group", "key": str(bystander.pid), "what": "a group",
         "data": {"pid": bystander.pid, "start": start - 1}},
    ])
    done = reclaim_dead_runs()
    assert [d.outcome for d in done] == ["already gone", "already gone"]
    time.sleep(0.2)
    assert alive(bystander.pid) and not path.exists()


def test_an_owner_in_another_pid_namespace_is_left_alone(state_dir: Path, tmp_path: Path) -> None:
    kept = tmp_path / "gochaos-run-elsewhere"
    kept.mkdir()
    owner = {**dead_owner(), "pid_ns": "pid:[1]"}
    path = forged_state(state_dir, owner, [{"kind": "dir", "key": str(kept), "what": "a dir", "data": {}}])
    assert reclaim_dead_runs() == []
    assert kept.is_dir() and path.exists()


def test_an_owner_in_another_pod_is_left_alone_when_no_api_can_say_its_pod_is_gone(
        state_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Outside a cluster no pod's fate can be read: a run of another pod with this very pid is not this one."""
    kept = tmp_path / "gochaos-run-in-a-pod"
    kept.mkdir()
    owner = {**dead_owner(), "pid": os.getpid(), "pod": "gochaos/gochaos-123-abc/uid-1"}
    path = forged_state(state_dir, owner, [{"kind": "dir", "key": str(kept), "what": "a dir", "data": {}}])
    assert reclaim_dead_runs() == []
    assert kept.is_dir() and path.exists()
    for name, value in zip(state.POD_ENV, ("gochaos", "gochaos-456-def", "uid-2"), strict=True):
        monkeypatch.setenv(name, value)
    me = state.Owner.me()
    assert me.pod == "gochaos/gochaos-456-def/uid-2" and me.is_me()
    assert not state.Owner(me.pid, me.start, me.boot_id, me.pid_ns, "gochaos/gochaos-123-abc/uid-1").is_me()


def test_only_gochaos_temp_dirs_are_ever_removed(state_dir: Path, tmp_path: Path) -> None:
    precious = tmp_path / "precious"
    precious.mkdir()
    path = forged_state(state_dir, dead_owner(),
                        [{"kind": "dir", "key": str(precious), "what": "a dir", "data": {}}])
    [item] = reclaim_dead_runs()
    assert not item.ok and "not a gochaos temp dir" in item.outcome
    assert precious.is_dir() and path.exists(), "a state file whose clean-up failed is kept for a retry"


def test_an_unwritable_state_dir_is_one_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    script = ("from chaos import state\n"
              "try:\n    state.ensure_writable()\nexcept Exception as e:\n    print(type(e).__name__, e)\n")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO, check=True,
                         env={**os.environ, "GOCHAOS_STATE_DIR": str(blocker / "state")}).stdout
    assert out.startswith("PlatformError cannot record what this run holds")
    assert "point GOCHAOS_STATE_DIR at a writable directory" in out
