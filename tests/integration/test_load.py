"""Locust load against a real configd: exact counts, live streaming, version headers, time
bounds, bad user specs, distributed mode. Each test runs a few seconds of load on loopback."""

from __future__ import annotations

import collections
import contextlib
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from chaos.errors import LoadError
from chaos.load import LoadRun, LoadSpec
from chaos.timeline import EventKind, Timeline, now_ns

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
VERSION = "load-test-v1"
CONFIG = f"""\
version: "{VERSION}"
log_level: warn
http:
  routes:
    /api/hello: {{status: 200, body: "hi"}}
    /api/broken: {{status: 500, body: "boom"}}
  middleware: []
rate_limits: {{}}
"""
# Routes of the configd user in these tests: one of them always answers 500, so failures are
# counted too.
ROUTES = ("/api/hello", "/api/broken")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    # A zombie still answers kill(0); it is gone for our purposes once it has exited.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
    except OSError:
        return True


def _go_build(target: str, out: Path) -> Path:
    binary = out / target
    build = subprocess.run(["go", "build", "-o", str(binary), f"./cmd/{target}"],
                           cwd=REPO / "go_targets", capture_output=True, text=True, timeout=300)
    if build.returncode != 0:
        pytest.fail(f"go build ./cmd/{target} failed:\n{build.stderr}")
    return binary


@contextlib.contextmanager
def _serving(binary: Path, work: Path, *args: str) -> Iterator[str]:
    """Run a bundled target on a free loopback port in its own process group; its base URL."""
    port = _free_port()
    log_path = work / f"{binary.name}.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen([str(binary), "--listen", f"127.0.0.1:{port}", *args],
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                if requests.get(f"{url}/-/healthz", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"{binary.name} did not become ready: {log_path.read_text()}")
            time.sleep(0.05)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@pytest.fixture(scope="module")
def configd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A configd serving CONFIG, built from go_targets; its base URL."""
    work = tmp_path_factory.mktemp("configd")
    config = work / "config.yaml"
    config.write_text(CONFIG)
    with _serving(_go_build("configd", work), work, "--config", str(config)) as url:
        yield url


def _spec(host: str, **fields: object) -> LoadSpec:
    base: dict[str, object] = {"host": host, "users": 5, "spawn_rate": 50, "duration_s": 2,
                               "configd": {"routes": ROUTES}}
    return LoadSpec.model_validate({**base, **fields})


def test_buckets_add_up_exactly_to_locusts_totals(configd: str) -> None:
    timeline = Timeline()
    with LoadRun(_spec(configd, duration_s=3), timeline) as run:
        run.wait()
    totals = run.totals
    assert totals is not None and totals.complete
    buckets = timeline.buckets(100)
    assert sum(b.count for b in buckets) == totals.num_requests > 100
    assert sum(b.errors for b in buckets) == totals.num_failures > 0
    # and per stats entry, by the records' names
    by_name = collections.Counter(r.name for r in timeline.requests())
    failed = collections.Counter(r.name for r in timeline.requests() if not r.ok)
    for entry in totals.entries:
        name = f"{entry.method} {entry.name}"
        assert (by_name[name], failed[name]) == (entry.num_requests, entry.num_failures), name
    assert sum(by_name.values()) == sum(e.num_requests for e in totals.entries)
    assert run.records_received == totals.records_sent == totals.num_requests


def test_records_stream_while_the_run_goes_on(configd: str) -> None:
    timeline = Timeline()
    with LoadRun(_spec(configd, duration_s=4), timeline) as run:
        time.sleep(1.2)
        assert run.running
        seen = len(timeline.requests())
        live = run.live()
        assert seen > 0
        assert live.count > 0 and live.rps > 0 and live.p99_ms is not None
        assert live.errors > 0  # /api/broken answers 500
        time.sleep(0.5)
        records = timeline.requests()
        assert len(records) > seen
        newest_end_ns = max(r.t_ns + int(r.latency_ms * 1e6) for r in records)
        assert now_ns() - newest_end_ns < 1_000_000_000  # results arrive while it runs
    assert timeline.events(EventKind.LOAD_STOP)


def test_every_response_carries_the_config_version(configd: str) -> None:
    timeline = Timeline()
    with LoadRun(_spec(configd, duration_s=1.5), timeline) as run:
        run.wait()
    records = timeline.requests()
    assert records and all(r.status != 0 for r in records)
    assert {r.version for r in records} == {VERSION}
    assert {r.name for r in records} >= {"GET /api/hello", "GET /api/broken",
                                          "GET /cache/{key}", "PUT /cache/{key}"}


def test_run_ends_by_itself_within_its_duration(configd: str) -> None:
    start = time.monotonic()
    run = LoadRun(_spec(configd, duration_s=1.5), Timeline())
    with run:
        pids = run.pids
        run.wait()
    assert time.monotonic() - start < 1.5 + 2.5
    assert all(_gone(pid) for pid in pids)
    assert run.totals is not None


def test_parent_stop_ends_the_run_early(configd: str) -> None:
    run = LoadRun(_spec(configd, duration_s=60), Timeline())
    with run:
        time.sleep(0.5)
        start = time.monotonic()
    assert time.monotonic() - start < 2.0
    assert not run.running
    assert run.totals is not None and run.totals.num_requests > 0


def test_child_enforces_its_own_time_limit(configd: str) -> None:
    """Even if nobody stops it, a load process cannot outlive --time-limit-s."""
    read_fd, write_fd = os.pipe()
    start = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "chaos.load.child", "--role", "local", "--user", "configd",
         "--host", configd, "--users", "2", "--duration-s", "60", "--time-limit-s", "2",
         "--stream-fd", str(write_fd)],
        pass_fds=(write_fd,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True, cwd=REPO,
    )
    os.close(write_fd)
    try:
        assert proc.wait(timeout=10) == -signal.SIGALRM
        assert time.monotonic() - start < 4
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        os.close(read_fd)


def test_load_processes_die_with_their_parent(configd: str, tmp_path: Path) -> None:
    script = tmp_path / "parent.py"
    script.write_text(textwrap.dedent(f"""
        import sys, time
        from pathlib import Path
        from chaos.load import LoadRun, LoadSpec
        from chaos.timeline import Timeline, now_ns
        spec = LoadSpec(host={configd!r}, users=2, duration_s=60, workers=1)
        run = LoadRun(spec, Timeline(), log_dir=Path({str(tmp_path / "logs")!r}))
        run.start()
        print(" ".join(map(str, run.pids)), flush=True)
        time.sleep(60)
    """))
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True,
                              cwd=REPO, start_new_session=True)
    try:
        assert parent.stdout is not None
        pids = [int(p) for p in parent.stdout.readline().split()]
        assert len(pids) == 2 and not any(_gone(pid) for pid in pids)
        os.killpg(parent.pid, signal.SIGKILL)  # its children are in their own groups
        parent.wait()
        deadline = time.monotonic() + 3
        while not all(_gone(pid) for pid in pids) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert all(_gone(pid) for pid in pids)
    finally:
        if parent.poll() is None:
            os.killpg(parent.pid, signal.SIGKILL)
            parent.wait()
        if parent.stdout is not None:
            parent.stdout.close()


@pytest.mark.parametrize(
    ("user", "message"),
    [
        ("confgd", "unknown user 'confgd': use a built-in user (http, configd, kvd, allocd, dns, grpc)"),
        ("no/such/locustfile.py", "locustfile 'no/such/locustfile.py' not found"),
        ("chaos.load.users:NoSuchUser",
         "no concrete Locust User class 'NoSuchUser' in chaos.load.users"),
        ("no_such_module_xyz:User", "cannot import module 'no_such_module_xyz'"),
    ],
)
def test_bad_user_spec_is_a_load_error(configd: str, tmp_path: Path, user: str,
                                       message: str) -> None:
    with pytest.raises(LoadError) as caught:
        LoadRun(_spec(configd, user=user), Timeline(), log_dir=tmp_path).start()
    assert message in str(caught.value)


def test_locustfile_that_fails_to_import_reports_the_childs_error(
        configd: str, tmp_path: Path) -> None:
    locustfile = tmp_path / "broken_locustfile.py"
    locustfile.write_text("raise RuntimeError('half-written locustfile')\n")
    with pytest.raises(LoadError) as caught:
        LoadRun(_spec(configd, user=str(locustfile)), Timeline(), log_dir=tmp_path).start()
    text = str(caught.value)
    assert "failed to import: RuntimeError: half-written locustfile" in text
    assert "local (exit 2)" in text  # the child's state and log tail come with it


def test_users_own_locustfile(configd: str, tmp_path: Path) -> None:
    locustfile = tmp_path / "my_locustfile.py"
    locustfile.write_text(textwrap.dedent("""
        from locust import FastHttpUser, constant, task

        class Hello(FastHttpUser):
            wait_time = constant(0.01)

            @task
            def hello(self):
                self.client.get("/api/hello")
    """))
    timeline = Timeline()
    with LoadRun(_spec(configd, user=f"{locustfile}:Hello", duration_s=1), timeline) as run:
        run.wait()
    assert run.totals is not None
    assert {r.name for r in timeline.requests()} == {"GET /api/hello"}
    assert len(timeline.requests()) == run.totals.num_requests > 0


def test_distributed_mode_with_two_workers(configd: str) -> None:
    timeline = Timeline()
    with LoadRun(_spec(configd, users=4, workers=2, duration_s=2), timeline) as run:
        assert len(run.pids) == 3
        run.wait()
    totals = run.totals
    assert totals is not None and totals.workers == 2 and totals.complete
    buckets = timeline.buckets(100)
    assert sum(b.count for b in buckets) == totals.num_requests > 0
    assert sum(b.errors for b in buckets) == totals.num_failures
    assert {r.version for r in timeline.requests()} == {VERSION}


def test_builtin_allocd_user_against_allocd(tmp_path: Path) -> None:
    timeline = Timeline()
    with _serving(_go_build("allocd", tmp_path), tmp_path) as url:
        spec = LoadSpec.model_validate({"host": url, "user": "allocd", "users": 2,
                                        "spawn_rate": 10, "duration_s": 1,
                                        "allocd": {"map_size": 16, "list_size": 16}})
        with LoadRun(spec, timeline) as run:
            run.wait()
    records = timeline.requests()
    assert run.totals is not None and len(records) == run.totals.num_requests > 0
    assert {(r.name, r.status) for r in records} == {("POST /merge", 200)}
