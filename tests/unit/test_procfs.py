"""/proc as the suite reads it, checked against real processes."""

from __future__ import annotations

import os
import subprocess

from chaos.procfs import group_members, processes


def test_a_process_group_is_its_members() -> None:
    child = subprocess.Popen(["sleep", "30"], start_new_session=True)
    try:
        assert group_members(child.pid) == [child.pid]
        (me,) = [p for p in processes() if p.pid == os.getpid()]
        assert (me.ppid, me.pgid) == (os.getppid(), os.getpgid(0))
        (sleeper,) = [p for p in processes() if p.pid == child.pid]
        assert (sleeper.command, sleeper.ppid) == ("sleep", os.getpid()) and sleeper.state in ("R", "S")
    finally:
        child.kill()
        child.wait()
    assert group_members(child.pid) == []
