"""SupervisedProcess against real child processes: logs, exits, restart policy, process groups."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import pytest

from chaos import cleanup
from chaos.errors import PlatformError
from chaos.observe.readiness import wait_until
from chaos.platform.local.process import Backoff, SupervisedProcess
from chaos.targets import RestartPolicy

FAST = Backoff(initial_s=0.05, max_s=0.2, reset_after_s=30)


def sh(script: str) -> list[str]:
    return ["/bin/sh", "-c", script]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie still answers kill(0); read its state
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def test_lines_are_captured_stamped_and_written_to_the_log(tmp_path: Path) -> None:
    proc = SupervisedProcess("echoer", sh("echo out-line; echo err-line >&2"),
                             log_path=tmp_path / "echoer.log")
    before = time.time_ns()
    proc.start()
    assert proc.wait_for_exit(1, timeout_s=5) is not None
    assert wait_until(lambda: len(proc.lines()) == 2, timeout_s=5)
    proc.stop()
    by_stream = {line.stream: line for line in proc.lines()}
    assert by_stream["stdout"].text == "out-line"
    assert by_stream["stderr"].text == "err-line"
    assert all(before <= line.t_ns <= time.time_ns() for line in proc.lines())
    written = (tmp_path / "echoer.log").read_text().splitlines()
    assert sorted(line.split(" ", 1)[1] for line in written) == ["stderr err-line", "stdout out-line"]


def test_exit_status_and_signal_are_recorded(tmp_path: Path) -> None:
    crasher = SupervisedProcess("crasher", sh("exit 2"), log_path=tmp_path / "c.log")
    crasher.start()
    record = crasher.wait_for_exit(1, timeout_s=5)
    crasher.stop()
    assert record is not None and record.returncode == 2 and record.signal is None
    assert not record.requested

    sleeper = SupervisedProcess("sleeper", ["sleep", "30"], log_path=tmp_path / "s.log")
    sleeper.start()
    sleeper.send_signal(signal.SIGKILL, expect_exit=True)
    record = sleeper.wait_for_exit(1, timeout_s=5)
    sleeper.stop()
    assert record is not None and record.signal == "SIGKILL" and record.requested
    assert "killed by SIGKILL" in record.describe()


@pytest.mark.parametrize(
    ("policy", "script", "expected_incarnations"),
    [
        (RestartPolicy.ALWAYS, "exit 0", 3),
        (RestartPolicy.ON_FAILURE, "exit 3", 3),
        (RestartPolicy.ON_FAILURE, "exit 0", 1),
        (RestartPolicy.NEVER, "exit 3", 1),
    ],
)
def test_restart_policy_is_applied_like_a_kubelet(
    tmp_path: Path, policy: RestartPolicy, script: str, expected_incarnations: int
) -> None:
    proc = SupervisedProcess("p", sh(script), log_path=tmp_path / "p.log", restart=policy,
                             backoff=FAST)
    proc.start()
    if expected_incarnations > 1:
        assert wait_until(lambda: len(proc.exits) >= expected_incarnations, timeout_s=10)
    else:
        assert proc.wait_for_exit(1, timeout_s=5) is not None
        time.sleep(0.5)  # give a wrong policy time to show itself
    proc.stop()
    exits = proc.exits
    assert len(exits) >= expected_incarnations
    if expected_incarnations == 1:
        assert len(exits) == 1 and proc.restarts == 0
    else:
        assert proc.restarts >= expected_incarnations - 1


def test_backoff_grows_and_is_capped() -> None:
    backoff = Backoff(initial_s=0.1, max_s=1.0)
    assert [backoff.delay(n) for n in (1, 2, 3, 4, 5, 6)] == [0.1, 0.2, 0.4, 0.8, 1.0, 1.0]


def test_stop_kills_the_whole_process_group_even_when_sigterm_is_ignored(tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    script = f"trap '' TERM; sleep 60 & echo $! > {pid_file}; wait"
    proc = SupervisedProcess("stubborn", sh(script), log_path=tmp_path / "s.log")
    proc.start()
    assert wait_until(lambda: pid_file.exists() and pid_file.read_text().strip() != "", timeout_s=5)
    grandchild = int(pid_file.read_text())
    leader = proc.pid
    assert leader is not None and alive(grandchild)
    started = time.monotonic()
    proc.stop(timeout_s=0.5)
    assert time.monotonic() - started < 5
    assert wait_until(lambda: not alive(grandchild) and not alive(leader), timeout_s=5)
    assert leader not in cleanup.tracked_process_groups()


def test_paused_process_can_still_be_stopped(tmp_path: Path) -> None:
    proc = SupervisedProcess("paused", ["sleep", "60"], log_path=tmp_path / "p.log")
    proc.start()
    pid = proc.pid
    assert pid is not None
    proc.send_signal(signal.SIGSTOP)
    proc.stop(timeout_s=2)
    assert wait_until(lambda: not alive(pid), timeout_s=5)


def test_restart_starts_a_new_incarnation_without_counting_a_crash(tmp_path: Path) -> None:
    proc = SupervisedProcess("r", ["sleep", "60"], log_path=tmp_path / "r.log",
                             restart=RestartPolicy.ALWAYS, backoff=FAST)
    proc.start()
    first = proc.pid
    proc.restart(timeout_s=2)
    assert proc.running and proc.pid != first and proc.incarnation == 2
    assert proc.restarts == 0
    assert [e.requested for e in proc.exits] == [True]
    proc.stop()


def test_missing_binary_is_a_clear_platform_error(tmp_path: Path) -> None:
    proc = SupervisedProcess("ghost", [str(tmp_path / "no-such-binary")], log_path=tmp_path / "g.log")
    with pytest.raises(PlatformError, match=r"ghost: cannot start .*no-such-binary.*exists"):
        proc.start()


def test_children_die_with_a_sigkilled_parent(tmp_path: Path) -> None:
    """PR_SET_PDEATHSIG: a suite killed with SIGKILL leaves no supervised child behind."""
    pid_file = tmp_path / "child.pid"
    script = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from chaos.platform.local.process import SupervisedProcess\n"
        f"p = SupervisedProcess('c', ['sleep', '60'], log_path=Path({str(tmp_path)!r}) / 'c.log')\n"
        "p.start()\n"
        f"Path({str(pid_file)!r}).write_text(str(p.pid))\n"
        "time.sleep(60)\n"
    )
    parent = SupervisedProcess("parent", [sys.executable, "-c", script], log_path=tmp_path / "p.log")
    parent.start()
    assert wait_until(lambda: pid_file.exists() and pid_file.read_text() != "", timeout_s=10)
    child = int(pid_file.read_text())
    assert alive(child)
    parent.send_signal(signal.SIGKILL, expect_exit=True)
    assert wait_until(lambda: not alive(child), timeout_s=5), "child outlived its SIGKILLed parent"
    parent.stop()


def test_a_process_started_from_a_short_lived_thread_outlives_that_thread(tmp_path: Path) -> None:
    """PR_SET_PDEATHSIG follows the forking *thread*: the spawner thread must do every fork."""
    import threading

    proc = SupervisedProcess("outlives", ["sleep", "60"], log_path=tmp_path / "o.log")
    thread = threading.Thread(target=proc.start)
    thread.start()
    thread.join()
    time.sleep(0.5)
    assert proc.running, "the child died with the thread that asked for it"
    proc.stop()
