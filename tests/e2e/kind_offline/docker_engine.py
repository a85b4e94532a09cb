"""A Docker engine kind can use on this machine: ours, started on our own socket, or one named.

Which engine:

* ``GOCHAOS_DOCKER_HOST`` set: that engine, used as is (never started or stopped here). It must
  already run `--privileged` containers.
* otherwise our own dockerd on unix:///run/gochaos/docker.sock, started if it is not running.
  Debian's docker.io is installed first when dockerd is missing.

Our dockerd is isolated from anything else on the machine: own socket, pidfile, exec-root and
config file; its data-root sits in the persistent cache, so the node image survives between
runs. It neither touches the host's iptables nor enables IP forwarding (`--iptables=false
--ip-forward=false --ip-masq=false`): published ports go through docker-proxy on 127.0.0.1, and
containers have no route off the machine. `--bridge=none`: kind makes its own network.

Several test sessions may share our dockerd. Each takes a lease (a file named after its PID); the
session that drops the last live lease stops dockerd, by the PID in its pidfile. A developer who
starts it by hand (`python -m kind_offline dockerd start`, or `ensure`) takes the "manual" lease,
which only `dockerd stop` drops: sessions ending meanwhile leave that dockerd running.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from chaos import state

from . import locks
from .debian_packages import ensure_packages
from .errors import EngineError, PrerequisiteMissing
from .locations import CacheLayout, RunLayout
from .oci_runtime import RUNTIME_NAME, write_wrapper
from .progress import Progress, quiet, step

READY_TIMEOUT = 60.0
STOP_TIMEOUT = 90.0
LOCK_TIMEOUT = STOP_TIMEOUT + READY_TIMEOUT + 30.0


@dataclass(frozen=True, kw_only=True)
class DockerEngine:
    """An engine ready for the docker CLI and kind: pass `env` to every command that talks to it."""

    docker_host: str
    managed: bool
    """True when it is our dockerd (leased by this process), False for GOCHAOS_DOCKER_HOST."""

    @property
    def env(self) -> dict[str, str]:
        """os.environ plus DOCKER_HOST pointing at this engine."""
        return {**os.environ, "DOCKER_HOST": self.docker_host}


def acquire(*, cache: CacheLayout | None = None, run_layout: RunLayout | None = None, manual: bool = False,
            progress: Progress = quiet) -> DockerEngine:
    """Return a usable engine, starting our dockerd if needed; pair with `release`.

    `manual` takes the lease that outlives this process (developer commands): then only `stop`
    stops the engine.
    """
    named = os.environ.get("GOCHAOS_DOCKER_HOST")
    if named:
        _wait_ready(named, timeout=10, dockerd_pid=None, log=None)
        return DockerEngine(docker_host=named, managed=False)
    cache = cache or CacheLayout.default()
    layout = run_layout or RunLayout()
    _check_can_run_dockerd(progress)
    with _locked(layout):
        pid = running_pid(layout)
        if pid is None:
            with step(progress, "starting our dockerd"):
                pid = _start(cache, layout)
                _wait_ready(layout.docker_host, timeout=READY_TIMEOUT, dockerd_pid=pid, log=_log_path(cache))
        else:
            _wait_ready(layout.docker_host, timeout=READY_TIMEOUT, dockerd_pid=pid, log=_log_path(cache))
        _take_lease(layout, manual=manual)
    return DockerEngine(docker_host=layout.docker_host, managed=True)


def release(engine: DockerEngine, *, run_layout: RunLayout | None = None, progress: Progress = quiet) -> None:
    """Drop this process's lease; stop our dockerd when no other live process holds one."""
    if not engine.managed:
        return
    layout = run_layout or RunLayout()
    with _locked(layout):
        _drop_lease(layout)
        others = _live_leases(layout)
        if others:
            progress(f"leaving our dockerd running: still used by {', '.join(others)}")
            return
        pid = running_pid(layout)
        if pid is not None:
            with step(progress, f"stopping our dockerd (pid {pid})"):
                _stop(pid, layout)


def stop(*, run_layout: RunLayout | None = None, progress: Progress = quiet) -> bool:
    """Drop the developer's lease and stop our dockerd unless test sessions still use it.

    Returns True when it was stopped here; False when it was not running or is left to the
    sessions still holding leases (the last of them stops it).
    """
    layout = run_layout or RunLayout()
    with _locked(layout):
        (layout.leases / _MANUAL_LEASE).unlink(missing_ok=True)
        pid = running_pid(layout)
        if pid is None:
            return False
        others = _live_leases(layout)
        if others:
            progress(f"not stopping our dockerd: still used by {', '.join(others)}; the last of them stops it")
            return False
        with step(progress, f"stopping our dockerd (pid {pid})"):
            _stop(pid, layout)
        return True


def _check_can_run_dockerd(progress: Progress) -> None:
    if os.geteuid() != 0:
        raise PrerequisiteMissing(
            "starting a Docker engine needs root: run as root, or point GOCHAOS_DOCKER_HOST at an engine "
            "that runs --privileged containers"
        )
    if shutil.which("dockerd") is None or shutil.which("docker") is None:
        ensure_packages(["docker.io"], why="a Docker engine for kind", progress=progress)
    for tool in ("dockerd", "docker", "containerd", "runc"):
        if shutil.which(tool) is None:
            raise PrerequisiteMissing(f"{tool} is still missing after installing docker.io: check the apt install")


def _start(cache: CacheLayout, layout: RunLayout) -> int:
    wrapper = write_wrapper(layout.runtime_dir)
    cache.docker_data.mkdir(parents=True, exist_ok=True)
    layout.config_file.write_text("{}\n")
    layout.pidfile.unlink(missing_ok=True)  # stale: running_pid found no dockerd behind it
    argv = [
        shutil.which("dockerd") or "dockerd",
        "--host", layout.docker_host,
        "--pidfile", str(layout.pidfile),
        "--exec-root", str(layout.exec_root),
        "--data-root", str(cache.docker_data),
        "--config-file", str(layout.config_file),
        "--add-runtime", f"{RUNTIME_NAME}={wrapper}",
        "--default-runtime", RUNTIME_NAME,
        "--storage-driver", "overlay2",
        "--exec-opt", "native.cgroupdriver=cgroupfs",
        "--iptables=false", "--ip-forward=false", "--ip-masq=false",
        "--bridge=none",
        "--log-level", "warn",
    ]
    log = _log_path(cache)
    # Started by a shell that backgrounds it and exits at once: dockerd outlives this process
    # (other sessions may be using it), belongs to a session of its own (no Ctrl-C from our
    # terminal), and is nobody's zombie once stopped. The shell prints its PID.
    try:
        launched = subprocess.run(
            ["sh", "-c", '"$@" </dev/null >"$DOCKERD_LOG" 2>&1 & echo "$!"', "launch-dockerd", *argv],
            env={**os.environ, "DOCKERD_LOG": str(log)}, capture_output=True, text=True, timeout=30,
            check=True, start_new_session=True,
        )
        return int(launched.stdout.strip())
    except (OSError, ValueError, subprocess.SubprocessError) as e:
        raise EngineError(f"could not launch dockerd: {e}; check that `{argv[0]} --version` runs") from e


def _log_path(cache: CacheLayout) -> Path:
    return cache.root / "dockerd.log"


def _wait_ready(docker_host: str, *, timeout: float, dockerd_pid: int | None, log: Path | None) -> None:
    deadline = time.monotonic() + timeout
    last = "no answer yet"
    while time.monotonic() < deadline:
        if dockerd_pid is not None and not _alive(dockerd_pid):
            raise EngineError(f"dockerd (pid {dockerd_pid}) exited while starting; see {log}" + _tail(log))
        try:
            if _ping(docker_host):
                return
        except OSError as e:
            last = str(e)
        time.sleep(0.25)
    raise EngineError(f"the Docker engine at {docker_host} did not answer /_ping within {timeout:.0f} s "
                      f"({last}); see {log or 'its log'}" + _tail(log))


def _ping(docker_host: str) -> bool:
    if not docker_host.startswith("unix://"):
        raise EngineError(f"only unix:// Docker hosts are supported, not {docker_host}: set GOCHAOS_DOCKER_HOST "
                          "to a unix socket")
    conn = _UnixHTTPConnection(docker_host.removeprefix("unix://"), timeout=5)
    try:
        conn.request("GET", "/_ping")
        response = conn.getresponse()
        return response.status == 200
    finally:
        conn.close()


class _UnixHTTPConnection(http.client.HTTPConnection):
    """HTTP over a unix socket: enough to ask dockerd /_ping without a subprocess."""

    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(self.timeout)
            sock.connect(self._path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


def _stop(pid: int, layout: RunLayout) -> None:
    """SIGTERM our dockerd by PID (it stops its containers and containerd), SIGKILL after a bound."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT
    while time.monotonic() < deadline:
        if not _alive(pid):
            layout.pidfile.unlink(missing_ok=True)
            return
        time.sleep(0.25)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    raise EngineError(f"our dockerd (pid {pid}) ignored SIGTERM for {STOP_TIMEOUT:.0f} s and was killed; "
                      f"check {layout.exec_root} for leftover containerd shims")


def running_pid(layout: RunLayout) -> int | None:
    """The PID in our pidfile if that process is alive and is a dockerd."""
    try:
        pid = int(layout.pidfile.read_text().strip())
    except (OSError, ValueError):
        return None
    try:
        comm = Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return None
    return pid if comm == "dockerd" and _alive(pid) else None


def _alive(pid: int) -> bool:
    """True for a running process; False for a missing one or a zombie (a dockerd its new parent has not reaped)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


_MANUAL_LEASE = "manual"


def _take_lease(layout: RunLayout, *, manual: bool) -> None:
    layout.leases.mkdir(parents=True, exist_ok=True)
    if manual:
        (layout.leases / _MANUAL_LEASE).write_text("taken by a developer command; dropped by `dockerd stop`\n")
        return
    pid = os.getpid()
    (layout.leases / str(pid)).write_text(json.dumps(state.identity(pid)))


def _drop_lease(layout: RunLayout) -> None:
    (layout.leases / str(os.getpid())).unlink(missing_ok=True)


def _live_leases(layout: RunLayout) -> list[str]:
    """Who else uses our dockerd ("process N", "a developer"); leases of dead processes are removed."""
    live = []
    for lease in sorted(layout.leases.glob("*")):
        if lease.name == _MANUAL_LEASE:
            live.append("a developer (python -m kind_offline dockerd stop ends it)")
            continue
        try:
            data = json.loads(lease.read_text())
            pid = int(data["pid"])
            start = None if data.get("start") is None else int(data["start"])
        except (OSError, ValueError, KeyError, TypeError):
            lease.unlink(missing_ok=True)
            continue
        if state.same_process(pid, start):
            live.append(f"process {pid}")
        else:
            lease.unlink(missing_ok=True)
    return live


def _locked(layout: RunLayout) -> contextlib.AbstractContextManager[None]:
    """Hold the start/stop lock; another session holds it at most for a start or a stop."""
    return locks.held(layout.lock, timeout_s=LOCK_TIMEOUT, poll_s=0.2, timed_out=lambda: EngineError(
        f"{layout.lock} stayed locked for {LOCK_TIMEOUT:.0f} s: another session "
        "is stuck starting or stopping our dockerd; see `fuser` on that file"))


def _tail(log: Path | None, lines: int = 15) -> str:
    if log is None:
        return ""
    try:
        text = log.read_text(errors="replace").strip().splitlines()[-lines:]
    except OSError:
        return ""
    return ("\n" + "\n".join(text)) if text else ""
