"""A target that exits before it is ready is named by its exit, at once: how it ended, after how long and its
last words, never "did not become ready within 15s" for a process that lived 0.4 s. Real processes (a
shell, no Go) on the local platform, with the default 15 s readiness timeout left as it is."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest

from chaos.errors import TargetError
from chaos.platform.local.platform import LocalPlatform
from chaos.targets import Readiness, RestartPolicy, TargetSpec
from chaos.timeline import Timeline

pytestmark = pytest.mark.integration


@pytest.fixture
def platform() -> Iterator[LocalPlatform]:
    opened = LocalPlatform(timeline=Timeline())
    try:
        yield opened
    finally:
        opened.close()


def start_failing(platform: LocalPlatform, script: str, restart: RestartPolicy) -> tuple[str, float]:
    """Start a target running `script` (which must fail before it is ready): its error and how long it took."""
    spec = TargetSpec(name="boom", command=("/bin/sh", "-c", script), restart=restart, readiness=Readiness())
    assert spec.readiness.timeout_s == 15
    began = time.monotonic()
    with pytest.raises(TargetError) as raised:
        platform.start_target(spec)
    return str(raised.value), time.monotonic() - began


@pytest.mark.parametrize("restart", [RestartPolicy.NEVER, RestartPolicy.ALWAYS])
def test_an_exit_before_ready_names_the_status_the_time_and_the_last_stderr_lines(
    platform: LocalPlatform, restart: RestartPolicy,
) -> None:
    """`always` (a scenario target's default) restarts it at once: the first exit still ends the wait."""
    message, took = start_failing(platform, "echo starting; echo one >&2; sleep 0.4; echo boom >&2; exit 1", restart)
    assert took < 5, f"waited {took:.1f} s for a process that lived 0.4 s"
    found = re.fullmatch(r"target boom did not become ready: it exited after (\d+) ms \(exit status 1, pid \d+\); "
                         r"last stderr lines: 'one' \| 'boom'; fix its command, flags or config .*", message)
    assert found is not None, message
    assert 380 <= int(found[1]) < 3000
    assert "within 15s" not in message and "starting" not in message


def test_a_go_crash_before_ready_is_quoted_by_its_headline(platform: LocalPlatform) -> None:
    script = "echo 'panic: assignment to entry in nil map' >&2; echo 'goroutine 1 [running]:' >&2; exit 2"
    message, _ = start_failing(platform, script, RestartPolicy.NEVER)
    assert "it exited after " in message and "(exit status 2, pid " in message
    assert "its crash: 'panic: assignment to entry in nil map'" in message and "goroutine 1" not in message


def test_a_silent_exit_says_it_printed_nothing(platform: LocalPlatform) -> None:
    message, _ = start_failing(platform, "exit 7", RestartPolicy.NEVER)
    assert "(exit status 7, pid " in message and "; it printed nothing; " in message
