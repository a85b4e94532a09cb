"""Parent side of a load run: start the Locust processes, take their stream, stop them for sure.

The suite's own process never imports Locust. `LoadRun` starts ``python -m chaos.load.child``
(one local process, or a master plus N workers), each in its own session and process group,
dying with the thread that started it (PR_SET_PDEATHSIG) and bounded by its own SIGALRM; a
watchdog thread here kills every group at the same bound plus a little slack, and `stop`,
`kill`, an exception or Ctrl-C in the ``with`` body kill them early.

A reader thread feeds every request result to the Timeline as it arrives (batches every
<= 25 ms) and keeps the last few seconds for `live()`. Its failures are stored and raised as
LoadError from `stop()` / `wait()` (observers never break a run mid-way).
"""

from __future__ import annotations

import collections
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import IO, Self

from chaos import cleanup, state
from chaos.errors import LoadError
from chaos.load.spec import LoadSpec, parse_user_ref
from chaos.load.stream import LoadTotals, decode, to_records
from chaos.ports import free_port
from chaos.timeline import EventKind, RequestRecord, Timeline, WindowStats, now_ns, summarize

#: Results kept in memory for `live()`.
LIVE_HORIZON_S = 5.0
#: `live()` ignores the most recent slice: results of requests still in flight are not in yet.
LIVE_LAG_S = 0.2
#: The watchdog kills at the child's own bound plus this.
WATCHDOG_SLACK_S = 2.0
_REPO_ROOT = Path(__file__).resolve().parents[2]


class _Proc:
    """One load process: its Popen, its role and its log file."""

    def __init__(self, role: str, popen: subprocess.Popen[bytes], log: Path) -> None:
        self.role, self.popen, self.log = role, popen, log

    def kill_group(self) -> None:
        if self.popen.returncode is None:  # never signal a reaped pid: it may be reused
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGKILL)

    def tail(self, lines: int = 15) -> str:
        try:
            with self.log.open("rb") as f:
                f.seek(max(0, f.seek(0, os.SEEK_END) - 4000))
                text = f.read().decode(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


class LoadRun:
    """One run of Locust against a target, streaming every request result into a Timeline.

    ``with LoadRun(spec, timeline) as run:`` starts the processes and returns once the first
    results flow (LoadError otherwise); leaving the block stops them (early, if the duration is
    not over: call `wait()` to run it out) and drains every result. Then `totals` holds
    Locust's own final counts. Call `start` from a thread that outlives the run: the kernel's
    parent-death signal is tied to the thread that started the children.
    """

    def __init__(self, spec: LoadSpec, timeline: Timeline, *, log_dir: Path | None = None) -> None:
        self.spec = spec
        self.timeline = timeline
        self.totals: LoadTotals | None = None
        self.records_received = 0
        #: Results received per request name ("GET /hello"), and how many of them failed.
        self.requests_by_name: collections.Counter[str] = collections.Counter()
        self.failures_by_name: collections.Counter[str] = collections.Counter()
        self._keep_logs = log_dir is not None
        self._log_dir = log_dir
        self._temp_log_dir = False
        self._procs: list[_Proc] = []
        self._lock = threading.Lock()
        self._recent: collections.deque[RequestRecord] = collections.deque()
        self._flowing = threading.Event()
        self._ended = threading.Event()
        self._closed = threading.Event()
        self._finished = False
        self._child_error: str | None = None
        self._reader_error: BaseException | None = None
        self._watchdog_fired = False
        self._threads: list[threading.Thread] = []
        self._stream: IO[bytes] | None = None
        self.master_port: int | None = None

    # -- lifecycle ---------------------------------------------------------------------------
    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc_type is None:
            self.stop()
        else:
            self.kill()

    def start(self) -> Self:
        """Start the processes; return once request results flow. Raises LoadError."""
        spec = self.spec
        if self._procs or self._finished:
            raise LoadError("this LoadRun was already started; make a new one for another run")
        parse_user_ref(spec.user)
        if self._log_dir is None:
            self._log_dir = state.make_temp_dir("gochaos-load-")
            self._temp_log_dir = True
        self._log_dir.mkdir(parents=True, exist_ok=True)
        failure = None
        launched_ns = now_ns()
        try:
            self._launch()
            if not self._flowing.wait(spec.start_timeout_s + WATCHDOG_SLACK_S):
                failure = f"no request result within {spec.start_timeout_s:g}s of starting"
            elif self._child_error is not None or (self._ended.is_set() and self.totals is None):
                failure = "the load process could not start"
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self._procs[0].popen.wait(WATCHDOG_SLACK_S)  # let it exit with its code
        except BaseException:
            self._keep_logs = True  # the error message points at them
            self.kill()
            raise
        if failure is not None:
            self._keep_logs = True
            self.kill()
            raise LoadError(self._explain(failure))
        self.timeline.record(EventKind.LOAD_START, "load", t_ns=launched_ns, user=spec.user,
                             users=spec.users, workers=spec.workers, host=spec.host)
        return self

    def wait(self, timeout_s: float | None = None) -> LoadTotals | None:
        """Let the run finish its duration, then drain. Returns Locust's totals."""
        limit = self.spec.time_limit_s + WATCHDOG_SLACK_S if timeout_s is None else timeout_s
        main = self._procs[0].popen if self._procs else None
        try:
            if main is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    main.wait(limit)
        except BaseException:
            self.kill()
            raise
        return self._finish(graceful=True)

    def stop(self) -> LoadTotals | None:
        """Stop now: users stop, last results and totals are drained; SIGKILL after the grace."""
        try:
            if self._procs and not self._finished:
                main = self._procs[0].popen
                if main.poll() is None:
                    main.send_signal(signal.SIGTERM)
                    with contextlib.suppress(subprocess.TimeoutExpired):
                        main.wait(self.spec.stop_grace_s)
        except BaseException:
            self.kill()
            raise
        return self._finish(graceful=True)

    def kill(self) -> None:
        """Kill every process at once (no totals); keep what was received. Never raises."""
        if not self._procs:
            self._finished = True
            return
        for proc in self._procs:
            proc.kill_group()
        with contextlib.suppress(LoadError):
            self._finish(graceful=False)

    # -- observation ---------------------------------------------------------------------------
    def live(self, window_s: float = 1.0) -> WindowStats:
        """Request rate, errors and p99 of the last `window_s` seconds (slightly lagged)."""
        end = now_ns() - int(LIVE_LAG_S * 1e9)
        start = end - int(window_s * 1e9)
        with self._lock:
            recent = [r for r in self._recent if start <= r.t_ns < end]
        return summarize(recent, start, end)

    @property
    def running(self) -> bool:
        return any(p.popen.poll() is None for p in self._procs)

    @property
    def log_paths(self) -> list[Path]:
        """Output of each load process (kept after a failure or with an explicit log_dir)."""
        return [p.log for p in self._procs]

    @property
    def pids(self) -> list[int]:
        """Process ids of the load processes: the local process or the master first."""
        return [p.popen.pid for p in self._procs]

    # -- internals -----------------------------------------------------------------------------
    def _launch(self) -> None:
        spec = self.spec
        distributed = spec.workers + spec.remote_workers > 0
        read_fd, write_fd = os.pipe()
        self._stream = os.fdopen(read_fd, "rb")
        common = _common_args(spec)
        main_args = [
            "--role", "master" if distributed else "local", *common,
            "--host", spec.host, "--users", str(spec.users), "--spawn-rate", f"{spec.spawn_rate:g}",
            "--duration-s", f"{spec.duration_s:g}", "--stream-fd", str(write_fd),
            "--options-json", spec.user_options().model_dump_json(),
            "--start-timeout-s", f"{spec.start_timeout_s:g}",
            "--stop-grace-s", f"{spec.stop_grace_s:g}",
        ]
        if distributed:
            self.master_port = spec.master_port or free_port(spec.master_bind_host or "0.0.0.0")
            main_args += ["--bind-host", spec.master_bind_host, "--master-port",
                          str(self.master_port), "--expect-workers",
                          str(spec.workers + spec.remote_workers)]
        try:
            self._spawn(main_args[1], main_args, pass_fds=(write_fd,))
        finally:
            os.close(write_fd)
        self._thread(self._read, "reader")
        for i in range(spec.workers):
            assert self.master_port is not None  # set above: workers > 0 is distributed
            self._spawn(f"worker{i}", worker_args(spec, "127.0.0.1", self.master_port))
        self._thread(self._watchdog, "watchdog")

    def _spawn(self, role: str, args: list[str], pass_fds: tuple[int, ...] = ()) -> None:
        assert self._log_dir is not None
        log = self._log_dir / f"{role}.log"
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(_REPO_ROOT), env.get("PYTHONPATH")) if p)
        env["PYTHONUNBUFFERED"] = "1"
        with log.open("wb") as out:
            popen = subprocess.Popen(
                [sys.executable, "-m", "chaos.load.child", *args,
                 "--parent-pid", str(os.getpid())],
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                pass_fds=pass_fds, start_new_session=True, env=env, cwd=os.getcwd(),
            )
        self._procs.append(_Proc(role, popen, log))
        cleanup.track_process_group(popen.pid, f"load-{role}")

    def _thread(self, target: object, name: str) -> None:
        thread = threading.Thread(target=target, name=f"gochaos-load-{name}",  # type: ignore[arg-type]
                                  daemon=True)
        thread.start()
        self._threads.append(thread)

    def _read(self) -> None:
        assert self._stream is not None
        try:
            for line in self._stream:
                try:
                    self._handle(decode(line))
                except Exception as e:  # keep reading: one bad line must not lose the rest
                    if self._reader_error is None:
                        self._reader_error = e
        finally:
            self._ended.set()
            self._flowing.set()

    def _handle(self, msg: dict[str, object]) -> None:
        kind = msg["t"]
        if kind == "r":
            plain = to_records(msg["r"])  # type: ignore[arg-type]
            self.timeline.add_requests(plain)
            cutoff = now_ns() - int(LIVE_HORIZON_S * 1e9)
            with self._lock:
                self.records_received += len(plain)
                self.requests_by_name.update(r.name for r in plain)
                self.failures_by_name.update(r.name for r in plain if not r.ok)
                self._recent.extend(plain)
                while self._recent and self._recent[0].t_ns < cutoff:
                    self._recent.popleft()
            self._flowing.set()
        elif kind == "totals":
            self.totals = LoadTotals.from_message(msg)
        elif kind == "error":
            self._child_error = str(msg["message"])
            self._flowing.set()

    def _watchdog(self) -> None:
        if self._closed.wait(self.spec.time_limit_s + WATCHDOG_SLACK_S):
            return
        alive = [proc for proc in self._procs if proc.popen.poll() is None]
        self._watchdog_fired = bool(alive)
        for proc in alive:
            proc.kill_group()

    def _finish(self, *, graceful: bool) -> LoadTotals | None:
        if self._finished:
            return self.totals
        self._finished = True
        # Workers leave when the master says quit; give them a moment, then kill what is left.
        deadline = time.monotonic() + (1.0 if graceful else 0.0)
        for proc in self._procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.popen.wait(max(0.0, deadline - time.monotonic()))
        for proc in self._procs:
            proc.kill_group()
        for proc in self._procs:
            proc.popen.wait()
            cleanup.forget_process_group(proc.popen.pid)
        self._closed.set()
        for thread in self._threads:
            thread.join(timeout=5.0)
        if self._stream is not None:
            self._stream.close()
        self.timeline.record(EventKind.LOAD_STOP, "load", records=self.records_received,
                             complete=bool(self.totals and self.totals.complete),
                             requests=dict(self.requests_by_name), failures=dict(self.failures_by_name))
        problem = self._problem() if graceful else None
        if self._log_dir is not None and not self._keep_logs and problem is None:
            shutil.rmtree(self._log_dir, ignore_errors=True)
        if self._temp_log_dir and self._log_dir is not None:
            state.release("dir", str(self._log_dir))  # removed, or kept for the error to point at
        if problem is not None:
            raise LoadError(self._explain(problem))
        return self.totals

    def _problem(self) -> str | None:
        if self._reader_error is not None:
            return f"the result stream broke: {self._reader_error}"
        if self._child_error is not None:
            return "the load process failed"
        if self._watchdog_fired:
            return f"killed at the hard time bound ({self.spec.time_limit_s:g}s)"
        if self.totals is None:
            return "the load process died before reporting its totals"
        if self.totals.complete and self.totals.records_sent != self.records_received:
            return (f"{self.totals.records_sent} results sent but {self.records_received} "
                    "received")
        return None

    def _explain(self, what: str) -> str:
        lines = [f"load {self.spec.user!r} -> {self.spec.host}: {what}"]
        if self._child_error:
            lines.append(f"  reported: {self._child_error}")
        for proc in self._procs:
            code = proc.popen.poll()
            state = "running" if code is None else f"exit {code}"
            lines.append(f"  {proc.role} ({state}), log {proc.log}:")
            lines.extend(f"    {line}" for line in proc.tail().splitlines())
        return "\n".join(lines)


def _common_args(spec: LoadSpec) -> list[str]:
    return ["--user", spec.user, "--time-limit-s", f"{spec.time_limit_s:g}"]


def worker_args(spec: LoadSpec, master_host: str, master_port: int) -> list[str]:
    """Arguments of `python -m chaos.load.child` for one worker of `spec`'s master, wherever it runs."""
    return ["--role", "worker", *_common_args(spec), "--master-host", master_host, "--master-port", str(master_port)]
