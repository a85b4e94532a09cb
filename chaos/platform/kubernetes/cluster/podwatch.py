"""Everything one target's pods say: every log line of every container incarnation, exits, restarts.

A watch on the target's pods sees each container the kubelet starts (a new container id) and how
each one ended (`lastState.terminated`: exit code, signal, reason such as OOMKilled). Each
container gets a follower thread reading its log stream with the kubelet's timestamps, so a
container that panics and is restarted never loses its last words: when the follow ends the
follower also reads the `previous=True` log and keeps whatever the stream had not delivered.
Exits go on the Timeline as `target.exit`, in-place restarts as `target.start`, like the local
platform records them. Observers never break a run: API errors are retried or stored.
"""

from __future__ import annotations

import contextlib
import signal
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from chaos import cleanup
from chaos.platform.observations import ExitRecord, LogLine
from chaos.timeline import EventKind, Timeline, now_ns

WATCH_WINDOW_S = 5
STREAM = "log"  # the pod log API merges stdout and stderr


def parse_timestamped(line: str) -> tuple[int, str]:
    """(wall-clock ns, text) of one `timestamps=true` log line: `2026-01-02T03:04:05.123456789Z text`."""
    stamp, _, text = line.partition(" ")
    try:
        seconds, _, fraction = stamp.rstrip("Z").partition(".")
        base = datetime.strptime(seconds, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)
        return int(base.timestamp()) * 1_000_000_000 + int((fraction or "0")[:9].ljust(9, "0")), text
    except ValueError:
        return now_ns(), line


def _lines(response: Any) -> Iterator[str]:
    """Complete lines of a streamed HTTP response, decoded (a partial last line is kept too)."""
    pending = b""
    for chunk in response.stream(amt=None, decode_content=False):
        pending += chunk if isinstance(chunk, bytes) else str(chunk).encode()
        *complete, pending = pending.split(b"\n")
        for raw in complete:
            yield raw.decode("utf-8", "replace")
    if pending:
        yield pending.decode("utf-8", "replace")


def _shut_down(response: Any) -> None:
    """End a stream another thread is blocked reading, from this thread.

    `close()` would wait for the reader's buffer lock, held by the blocked read: a deadlock. A socket
    shutdown needs no lock and makes the blocked read return end-of-stream.
    """
    reader = getattr(getattr(getattr(response, "_fp", None), "fp", None), "raw", None)  # http.client's SocketIO
    for sock in (getattr(getattr(response, "connection", None), "sock", None), getattr(reader, "_sock", None)):
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            return


def _signal_name(exit_code: int, sig: int | None) -> str | None:
    number = sig or (exit_code - 128 if 128 < exit_code < 160 else 0)
    try:
        return signal.Signals(number).name if number else None
    except ValueError:
        return None


class PodObserver:
    """Follows the pods of one target in one namespace (start with `start()`, end with `stop()`).

    The pods are those `selector` picks (the run's own Deployment's, or a deployed workload's), and
    `container` the one in each whose logs and states are the target's.
    """

    def __init__(self, core: Any, namespace: str, target: str, timeline: Timeline, *,
                 selector: str, container: str) -> None:
        self.core, self.namespace, self.target, self.timeline = core, namespace, target, timeline
        self.selector = selector
        self.container = container
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._lines: dict[int, list[LogLine]] = {}
        self._incarnations: dict[str, int] = {}  # container id -> incarnation
        self._exited: set[str] = set()
        self._exits: list[ExitRecord] = []
        self._restart_counts: dict[str, int] = {}  # pod -> restartCount
        self._current: tuple[str, str] | None = None  # (pod, container id) running now
        self._expected: set[str] = set()  # container ids the suite is ending on purpose
        self._responses: set[Any] = set()
        self._threads: list[threading.Thread] = []
        self.errors: list[str] = []

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        self._spawn(self._watch, "podwatch")

    def stop(self) -> None:
        self._stop.set()
        with self._lock:
            responses = list(self._responses)
        for response in responses:  # unblocks followers waiting on a quiet stream
            _shut_down(response)
        for thread in self._threads:
            thread.join(5)

    def expect_exit(self, container_id: str) -> None:
        """The suite is about to end this container itself (an injected kill): its exit is no crash.

        Exits of pods being deleted (a rollout, a stop) count as requested without this.
        """
        with self._lock:
            self._expected.add(container_id)

    # -- what oracles read -------------------------------------------------------------------
    def lines(self, since_ns: int | None = None) -> list[LogLine]:
        with self._lock:
            merged = sorted((line for lines in self._lines.values() for line in lines), key=lambda x: x.t_ns)
        return merged if since_ns is None else [x for x in merged if x.t_ns >= since_ns]

    @property
    def exits(self) -> list[ExitRecord]:
        with self._lock:
            return list(self._exits)

    @property
    def restarts(self) -> int:
        """Container restarts the kubelet made, over every pod of the target (its restartCount)."""
        with self._lock:
            return sum(self._restart_counts.values())

    @property
    def current(self) -> tuple[str, str] | None:
        """(pod, container id) of the container running now, if one is."""
        with self._lock:
            return self._current

    def wait_for_lines(self, incarnation: int, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self._lock:
                if self._lines.get(incarnation):
                    return True
            time.sleep(0.05)
        return False

    # -- the watch ---------------------------------------------------------------------------
    def _spawn(self, run: Any, name: str, *args: Any) -> None:
        thread = threading.Thread(target=self._guarded, args=(run, *args), name=f"{name}-{self.target}",
                                  daemon=True)
        self._threads.append(thread)
        thread.start()

    def _guarded(self, run: Any, *args: Any) -> None:
        try:
            run(*args)
        except Exception as e:  # an observer never breaks a run: stored and reported
            if not self._stop.is_set():
                self.errors.append(f"{run.__name__}: {e!r}")
                cleanup.report_listener_error(f"pod observer of {self.target}: {e!r}")

    def _watch(self) -> None:
        from kubernetes import watch as watch_module  # deferred: the kubernetes client is heavy to import

        watch: Any = watch_module  # untyped package
        selector = self.selector
        while not self._stop.is_set():
            watcher = watch.Watch()
            try:
                for event in watcher.stream(self.core.list_namespaced_pod, self.namespace, label_selector=selector,
                                            timeout_seconds=WATCH_WINDOW_S):
                    self._on_pod(event["object"], deleted=event["type"] == "DELETED")
                    if self._stop.is_set():
                        watcher.stop()
            except Exception as e:
                if self._stop.is_set():
                    return
                self.errors.append(f"pod watch: {e!r}")
                self._stop.wait(0.5)

    def _on_pod(self, pod: Any, *, deleted: bool) -> None:
        name = pod.metadata.name
        leaving = deleted or pod.metadata.deletion_timestamp is not None
        for status in (pod.status.container_statuses or []) if pod.status else []:
            if status.name != self.container:
                continue
            with self._lock:
                self._restart_counts[name] = max(self._restart_counts.get(name, 0), status.restart_count or 0)
            last = status.last_state.terminated if status.last_state else None
            if last is not None and last.container_id:
                self._record_exit(name, last, leaving)
            now = status.state.terminated if status.state else None
            if now is not None and now.container_id:
                self._record_exit(name, now, leaving)
            running = status.state.running if status.state else None
            if status.container_id and running is not None and not deleted:
                self._on_running(name, status.container_id, in_place=(status.restart_count or 0) > 0)
            if deleted and status.container_id and running is not None:  # went with its pod: asked for
                self._record_gone(status.container_id)

    def _on_running(self, pod: str, container_id: str, *, in_place: bool) -> None:
        incarnation = self._discover(pod, container_id, running=True)
        if incarnation and in_place:  # a kubelet restart after an exit; new pods are recorded by the platform
            self.timeline.record(EventKind.TARGET_START, self.target, pid=None, requested=False,
                                 incarnation=incarnation, restarts=self.restarts, pod=pod)

    def _discover(self, pod: str, container_id: str, *, running: bool) -> int:
        """Give a container seen for the first time its incarnation and a log follower; 0 if known.

        A container can start and crash between two status updates, so one first seen already ended
        still gets its follower, which reads its `previous` log.
        """
        with self._lock:
            if container_id in self._incarnations:
                return 0
            incarnation = len(self._incarnations) + 1
            self._incarnations[container_id] = incarnation
            self._lines[incarnation] = []
            if running:
                self._current = (pod, container_id)
        self._spawn(self._follow, "podlog", pod, container_id, incarnation)
        return incarnation

    def _record_exit(self, pod: str, terminated: Any, leaving: bool) -> None:
        container_id = terminated.container_id
        self._discover(pod, container_id, running=False)
        with self._lock:
            if container_id in self._exited:
                return
            self._exited.add(container_id)
            requested = leaving or container_id in self._expected
            incarnation = self._incarnations[container_id]
            last_line = self._lines.get(incarnation, [])[-1:] if incarnation else []
            if self._current is not None and self._current[1] == container_id:
                self._current = None
        code = int(terminated.exit_code or 0)
        finished = terminated.finished_at
        t_ns = int(finished.timestamp() * 1e9) if finished is not None else now_ns()
        if last_line:  # finishedAt has whole seconds; the last line is as exact as the clock
            t_ns = max(t_ns, last_line[0].t_ns)
        reason = terminated.reason if terminated.reason not in (None, "Error", "Completed") else None
        record = ExitRecord(t_ns, 0, incarnation, code, _signal_name(code, terminated.signal), requested, reason)
        with self._lock:
            self._exits.append(record)
        self.timeline.record(EventKind.TARGET_EXIT, self.target, t_ns=t_ns, pid=None, returncode=code,
                             signal=record.signal, requested=requested, incarnation=incarnation, reason=reason)

    def _record_gone(self, container_id: str) -> None:
        with self._lock:
            if container_id in self._exited:
                return
            self._exited.add(container_id)
            incarnation = self._incarnations.get(container_id, 0)
            if self._current is not None and self._current[1] == container_id:
                self._current = None
        record = ExitRecord(now_ns(), 0, incarnation, 0, None, True, "pod deleted")
        with self._lock:
            self._exits.append(record)
        self.timeline.record(EventKind.TARGET_EXIT, self.target, pid=None, returncode=0, signal=None, requested=True,
                             incarnation=incarnation, reason="pod deleted")

    # -- log followers -----------------------------------------------------------------------
    def _follow(self, pod: str, container_id: str, incarnation: int) -> None:
        """Read one container's whole log: follow it while it runs, then its `previous` log once it ended."""
        while not self._stop.is_set():
            where = self._where(pod, container_id)
            if where is None:
                return  # pod gone, or the container is older than `previous`: nothing more to read
            self._read(pod, incarnation, previous=where == "previous", follow=where == "current")
            if where == "previous" or self._where(pod, container_id) == "previous":
                if where == "current":
                    self._read(pod, incarnation, previous=True, follow=False)
                return
            self._stop.wait(0.2)  # the follow ended while the container still runs (a dropped stream)

    def _where(self, pod: str, container_id: str) -> str | None:
        """Is `container_id` the pod's current container ("current") or its previous one ("previous")?"""
        from kubernetes.client import ApiException  # deferred: the kubernetes client is heavy to import

        try:
            status = self.core.read_namespaced_pod(pod, self.namespace).status  # `get pods`: no pods/status right
        except ApiException as e:
            if e.status == 404:
                return None
            raise
        for container in status.container_statuses or []:
            if container.name != self.container:
                continue
            # first: a container that ended and waits for its restart is both the pod's containerID and
            # its lastState, and its log is complete: read it once, do not follow it
            last = container.last_state.terminated if container.last_state else None
            if last is not None and last.container_id == container_id:
                return "previous"
            if container.container_id == container_id:
                return "current"
        return None

    def _read(self, pod: str, incarnation: int, *, previous: bool, follow: bool) -> None:
        """Read the log from its start; keep the lines beyond those already captured for `incarnation`."""
        from kubernetes.client import ApiException  # deferred: the kubernetes client is heavy to import

        try:
            response = self.core.read_namespaced_pod_log(
                pod, self.namespace, container=self.container, follow=follow, previous=previous, timestamps=True,
                _preload_content=False, _request_timeout=(10, 3600 if follow else 30))
        except ApiException as e:
            if e.status in (400, 404):  # not started yet, or already gone
                return
            raise
        with self._lock:
            self._responses.add(response)
            skip = len(self._lines[incarnation])
        try:
            for index, raw in enumerate(_lines(response)):
                if index < skip:
                    continue
                t_ns, text = parse_timestamped(raw)
                with self._lock:
                    self._lines[incarnation].append(LogLine(t_ns, STREAM, text, incarnation))
        except Exception:
            if not self._stop.is_set():
                raise
        finally:
            with self._lock:
                self._responses.discard(response)
            response.release_conn()
