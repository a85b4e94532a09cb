"""Supervised child processes: one process group each, logs stamped on arrival, exits recorded.

Both the local platform's targets and the etcd members are `SupervisedProcess`es. A supervisor
thread waits on the child, records every exit (status and signal), and restarts it according to
its policy with exponential backoff, the way a kubelet would. Children get PR_SET_PDEATHSIG so that
even a SIGKILLed suite does not leave them behind, and every process group (and every SIGSTOP
sent to one) is registered with `chaos.cleanup` so that normal exit, errors and SIGINT all stop
them, and a later run can resume or kill them after a crash.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from chaos import cleanup
from chaos.errors import PlatformError, TargetDown
from chaos.platform.local import spawner
from chaos.platform.observations import ExitRecord, LogLine
from chaos.targets import RestartPolicy
from chaos.timeline import now_ns

_PR_SET_PDEATHSIG = 1


@dataclass(frozen=True, slots=True)
class Backoff:
    """Restart delay: `initial_s * 2**n`, capped; reset after the process ran `reset_after_s`."""

    initial_s: float = 0.1
    max_s: float = 5.0
    reset_after_s: float = 10.0

    def delay(self, consecutive: int) -> float:
        return float(min(self.max_s, self.initial_s * (2 ** max(0, consecutive - 1))))


ExitListener = Callable[["SupervisedProcess", ExitRecord], None]
LineListener = Callable[["SupervisedProcess", LogLine], None]
#: Called after the restart policy started a new incarnation (a kubelet's container restart).
RestartListener = Callable[["SupervisedProcess"], None]


def _die_with_parent() -> None:
    """Run in the child before exec: get SIGKILL when the suite dies, whatever the cause."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


class SupervisedProcess:
    """A child process in its own process group, restarted by policy, logs captured to a file."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        log_path: Path,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        restart: RestartPolicy = RestartPolicy.NEVER,
        backoff: Backoff = Backoff(),
        on_exit: ExitListener | None = None,
        on_line: LineListener | None = None,
        on_restart: RestartListener | None = None,
        gid: int | None = None,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.log_path = log_path
        self.env = dict(env) if env is not None else dict(os.environ)
        self.cwd = cwd
        self.policy = restart
        self.backoff = backoff
        self._on_exit = on_exit
        self._on_line = on_line
        self._on_restart = on_restart
        #: Group id the child runs under; lets iptables' owner match pick out its packets.
        self.gid = gid
        self._lock = threading.RLock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._incarnation = 0
        self._started_at = 0.0
        self._crash_restarts = 0
        self._consecutive_failures = 0
        self._exits: list[ExitRecord] = []
        self._lines: list[LogLine] = []
        self._requested_exit = False
        self._closed = False
        self._exited = threading.Condition(self._lock)
        self._changed = threading.Condition(self._lock)
        self._restarting = False
        self._log_file: IO[str] | None = None
        self._supervisor: threading.Thread | None = None
        self._pumps: list[threading.Thread] = []

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        """Start the first incarnation and the supervisor thread."""
        with self._lock:
            if self._proc is not None:
                raise PlatformError(f"{self.name}: already started")
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log_file = self.log_path.open("a", encoding="utf-8", buffering=1)
            try:
                self._spawn_locked()
            except BaseException:
                self._log_file.close()
                self._log_file = None
                raise
        self._supervisor = threading.Thread(
            target=self._supervise, name=f"supervise-{self.name}", daemon=True
        )
        self._supervisor.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop for good: SIGTERM the group, SIGKILL it after `timeout_s`, end supervision."""
        with self._lock:
            self._closed = True
            proc = self._proc
            self._changed.notify_all()
        if proc is not None and proc.poll() is None:
            self._terminate(proc, timeout_s)
        if self._supervisor is not None and self._supervisor is not threading.current_thread():
            self._supervisor.join(timeout=timeout_s + 5)
        with self._lock:
            if self._log_file is not None:
                self._log_file.close()
                self._log_file = None

    def restart(self, timeout_s: float = 5.0) -> None:
        """Stop the current incarnation (a requested exit, not a crash) and start a new one now."""
        with self._lock:
            proc = self._proc
            self._requested_exit = True
            self._restarting = True
            incarnation = self._incarnation
        try:
            if proc is not None and proc.poll() is None:
                self._terminate(proc, timeout_s)
            self.wait_for_exit(incarnation, timeout_s + 5)
            self.start_again()
        finally:
            with self._lock:
                self._restarting = False
                self._changed.notify_all()

    def start_again(self) -> None:
        """Start a new incarnation of a process that has exited and was not restarted by policy."""
        with self._lock:
            if self._closed:
                raise PlatformError(f"{self.name}: stopped for good, cannot start again")
            if self._proc is not None and self._proc.poll() is None:
                return
            self._spawn_locked()

    def send_signal(self, sig: signal.Signals, *, expect_exit: bool = False) -> None:
        """Send `sig` to the whole process group (SIGSTOP/SIGCONT/SIGKILL for injectors)."""
        with self._lock:
            proc = self._proc
            if proc is None or proc.poll() is not None:
                raise TargetDown(f"{self.name}: not running, cannot send {sig.name}")
            if expect_exit:
                self._requested_exit = True
            if sig is signal.SIGSTOP:
                cleanup.note_stopped(proc.pid, self.name)  # recorded first: a crash cannot hide it
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError as e:
                raise TargetDown(f"{self.name}: process group {proc.pid} is gone") from e
            if sig is signal.SIGCONT:
                cleanup.note_continued(proc.pid)

    # -- observation -------------------------------------------------------------------------
    @property
    def pid(self) -> int | None:
        with self._lock:
            return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        with self._lock:
            return self._proc is not None and self._proc.poll() is None

    @property
    def incarnation(self) -> int:
        with self._lock:
            return self._incarnation

    @property
    def restarts(self) -> int:
        """Restarts the policy made after unrequested exits (a kubelet's restartCount)."""
        with self._lock:
            return self._crash_restarts

    @property
    def exits(self) -> list[ExitRecord]:
        with self._lock:
            return list(self._exits)

    def lines(self, since_ns: int | None = None) -> list[LogLine]:
        with self._lock:
            if since_ns is None:
                return list(self._lines)
            return [line for line in self._lines if line.t_ns >= since_ns]

    def wait_for_exit(self, incarnation: int, timeout_s: float) -> ExitRecord | None:
        """Block until incarnation `incarnation` has exited; None on timeout."""
        deadline = time.monotonic() + timeout_s
        with self._exited:
            while True:
                for record in self._exits:
                    if record.incarnation == incarnation:
                        return record
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._exited.wait(remaining)

    # -- internals ---------------------------------------------------------------------------
    def _spawn_locked(self) -> None:
        try:
            proc = spawner.popen(
                self.argv,
                env=self.env,
                cwd=self.cwd,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
                preexec_fn=_die_with_parent,
                group=self.gid,
            )
        except OSError as e:
            raise PlatformError(
                f"{self.name}: cannot start {self.argv[0]!r}: {e.strerror}. "
                "Check that the binary exists and is executable."
            ) from e
        self._incarnation += 1
        self._proc = proc
        self._requested_exit = False
        self._started_at = time.monotonic()
        self._changed.notify_all()
        cleanup.track_process_group(proc.pid, self.name)
        self._pumps = []
        for stream_name, stream in (("stdout", proc.stdout), ("stderr", proc.stderr)):
            assert stream is not None
            pump = threading.Thread(
                target=self._pump,
                args=(stream, stream_name, self._incarnation),
                name=f"log-{self.name}-{stream_name}",
                daemon=True,
            )
            pump.start()
            self._pumps.append(pump)

    def _pump(self, stream: IO[bytes], stream_name: str, incarnation: int) -> None:
        for raw in iter(stream.readline, b""):
            line = LogLine(now_ns(), stream_name, raw.decode("utf-8", "replace").rstrip("\n"),
                           incarnation)
            with self._lock:
                self._lines.append(line)
                if self._log_file is not None:
                    self._log_file.write(f"{line.t_ns} {stream_name} {line.text}\n")
            if self._on_line is not None:
                _notify(self._on_line, self, line)
        stream.close()

    def _supervise(self) -> None:
        """Wait on each incarnation in turn; restart by policy unless the exit was asked for."""
        while True:
            with self._lock:
                proc = self._proc
                pumps = list(self._pumps)
            assert proc is not None
            returncode = proc.wait()
            for pump in pumps:  # its last words first, then its exit (a grandchild may hold the pipe)
                pump.join(timeout=1.0)
            record = self._record_exit(proc, returncode)
            if self._on_exit is not None:
                _notify(self._on_exit, self, record)
            delay = self._restart_delay(record)
            if delay is not None:
                time.sleep(delay)
                restarted = False
                with self._lock:
                    if not self._closed and self._proc is proc:
                        self._crash_restarts += 1
                        self._spawn_locked()
                        restarted = True
                if restarted and self._on_restart is not None:
                    _notify(self._on_restart, self)
            with self._changed:  # wait for the next incarnation (policy, restart, start_again)
                while self._proc is proc and not self._closed:
                    self._changed.wait()
                if self._closed and self._proc is proc:
                    return

    def _record_exit(self, proc: subprocess.Popen[bytes], returncode: int) -> ExitRecord:
        with self._exited:
            sig = signal.Signals(-returncode).name if returncode < 0 else None
            record = ExitRecord(now_ns(), proc.pid, self._incarnation, returncode, sig,
                                self._requested_exit or self._closed)
            self._exits.append(record)
            self._exited.notify_all()
        cleanup.forget_process_group(proc.pid)
        _kill_group_quietly(proc.pid)  # stray grandchildren of a crashed incarnation
        return record

    def _restart_delay(self, record: ExitRecord) -> float | None:
        with self._lock:
            if self._closed:
                return None
            if self._restarting:
                return None  # restart() spawns the next incarnation itself
            ran_s = time.monotonic() - self._started_at
            if ran_s >= self.backoff.reset_after_s:
                self._consecutive_failures = 0
            wanted = self.policy is RestartPolicy.ALWAYS or (
                self.policy is RestartPolicy.ON_FAILURE and record.failed
            )
            if not wanted:
                return None
            self._consecutive_failures += 1
            return self.backoff.delay(self._consecutive_failures)

    def _terminate(self, proc: subprocess.Popen[bytes], timeout_s: float) -> None:
        _signal_group(proc.pid, signal.SIGCONT)  # a SIGSTOPped process cannot handle SIGTERM
        _signal_group(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            _signal_group(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _kill_group_quietly(pgid: int) -> None:
    _signal_group(pgid, signal.SIGKILL)


def _notify(listener: Callable[..., None], *args: object) -> None:
    """Observers never break a run: a failing listener is reported, not raised."""
    try:
        listener(*args)
    except Exception as e:
        cleanup.report_listener_error(f"{getattr(listener, '__name__', listener)}: {e!r}")
