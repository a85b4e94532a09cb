"""The local platform with real processes: readiness, observability env, exits, restarts, errors."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import requests

from chaos.build import Binaries
from chaos.errors import TargetError
from chaos.observe.readiness import http_ok, wait_until
from chaos.platform.base import RunningTarget
from chaos.platform.local.platform import LocalPlatform
from chaos.targets import Readiness, TargetSpec
from chaos.timeline import EventFamily, EventKind, Timeline

pytestmark = pytest.mark.integration


def test_configd_starts_ready_on_loopback_with_go_observability_env(
    gochaos_make_target: Callable[..., RunningTarget], gochaos_timeline: Timeline
) -> None:
    target = gochaos_make_target("configd")
    assert target.endpoint.host == "127.0.0.1"
    reply = requests.get(target.endpoint.url + "/", timeout=5)
    assert reply.status_code == 200 and reply.headers["X-Config-Version"] == "1"
    pid = gochaos_timeline.events(kind=EventKind.TARGET_START)[0].details["pid"]
    environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    assert b"GOTRACEBACK=all" in environ and b"GODEBUG=gctrace=1" in environ
    assert [e.kind for e in gochaos_timeline.events(family=EventFamily.TARGET)] == ["target.start", "target.ready"]
    assert target.config_path is not None and target.config_path.read_text().startswith("#")


def http_server(name: str) -> TargetSpec:
    """A real process that is not ours to fix: Python's http.server on the given port."""
    return TargetSpec(name=name, command=(sys.executable, "-m", "http.server", "{port}",
                                          "--bind", "{host}"),
                      readiness=Readiness(http_path="/"))


def test_an_unrequested_kill_is_recorded_and_restarted_by_policy(
    gochaos_platform: LocalPlatform, gochaos_timeline: Timeline
) -> None:
    target = gochaos_platform.start_target(http_server("web"))
    first_pid = target.process.pid
    assert first_pid is not None
    os.kill(first_pid, signal.SIGKILL)  # from outside: a crash as far as the platform knows
    assert wait_until(lambda: target.restarts == 1 and target.process.running, timeout_s=10)
    exit_record = target.exits()[0]
    assert exit_record.signal == "SIGKILL" and not exit_record.requested
    assert wait_until(lambda: http_ok(target.endpoint.url), timeout_s=10)
    exits = gochaos_timeline.events(kind=EventKind.TARGET_EXIT)
    assert exits[0].details["signal"] == "SIGKILL" and exits[0].details["requested"] is False
    restart = gochaos_timeline.events(kind=EventKind.TARGET_START)[-1]
    assert restart.details["requested"] is False and restart.details["restarts"] == 1
    assert restart.details["pid"] == target.process.pid != first_pid


def test_restart_target_is_a_requested_exit_not_a_crash(gochaos_platform: LocalPlatform) -> None:
    target = gochaos_platform.start_target(http_server("web"))
    gochaos_platform.restart_target("web")
    assert target.restarts == 0 and [e.requested for e in target.exits()] == [True]
    assert requests.get(target.endpoint.url, timeout=2).ok


def test_a_target_that_dies_at_once_fails_fast_with_its_output(gochaos_platform: LocalPlatform) -> None:
    spec = TargetSpec(name="dies", command=("/bin/sh", "-c", "echo 'bad flag --nope' >&2; exit 3"),
                      readiness=Readiness(timeout_s=30))
    with pytest.raises(TargetError, match=r"(?s)target dies did not become ready.*exit status 3.*bad flag --nope"):
        gochaos_platform.start_target(spec)


def test_etcd_endpoints_reach_a_target_comma_joined_and_space_joined(gochaos_platform: LocalPlatform) -> None:
    spec = TargetSpec(name="web", command=(*http_server("web").command, "--directory", "{workdir}"),
                      env={"ENDPOINTS": "{etcd_endpoints_spaced}"}, readiness=Readiness(http_path="/"))
    target = gochaos_platform.start_target(spec, etcd_endpoints="http://127.0.0.1:1,http://127.0.0.1:2")
    assert target.placeholders["etcd_endpoints"] == "http://127.0.0.1:1,http://127.0.0.1:2"
    assert target.placeholders["etcd_endpoints_spaced"] == "http://127.0.0.1:1 http://127.0.0.1:2"
    pid = target.process.pid
    environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    assert b"ENDPOINTS=http://127.0.0.1:1 http://127.0.0.1:2" in environ


@pytest.mark.parametrize(("command", "message"), [
    (("/no/such/binary",), r"program '/no/such/binary' does not exist or is not executable"),
    (("/bin/sh", "{prot}"), r"target bad: unknown placeholder \{prot\} in '\{prot\}'; did you mean \{port\}\?"),
])
def test_bad_commands_are_refused_before_anything_starts(
    gochaos_platform: LocalPlatform, command: tuple[str, ...], message: str
) -> None:
    with pytest.raises(TargetError, match=message):
        gochaos_platform.start_target(TargetSpec(name="bad", command=command))


def test_close_stops_targets_and_removes_the_run_dir(gochaos_timeline: Timeline, tmp_path: Path) -> None:
    platform = LocalPlatform(timeline=gochaos_timeline)
    target = platform.start_target(http_server("web"))
    pid = target.process.pid
    run_dir = platform.run_dir
    platform.close()
    assert not run_dir.exists()
    assert (pid is not None and not Path(f"/proc/{pid}").exists()) or \
        Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] == "Z"


def test_a_relative_run_dir_still_gives_targets_a_config_they_can_open(
    gochaos_timeline: Timeline, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, gochaos_binaries: Binaries
) -> None:
    """`--report-dir reports` is relative; targets run with their own work dir as cwd."""
    from chaos.targets import bundled

    monkeypatch.chdir(tmp_path)
    with LocalPlatform(timeline=gochaos_timeline, binaries=gochaos_binaries, run_dir=Path("reports/run")) as platform:
        target = platform.start_target(bundled("configd"))
        assert target.config_path is not None and target.config_path.is_absolute()
        assert requests.get(target.endpoint.url + "/", timeout=5).ok
