"""Waiting for things to become ready, with a deadline and the reason when they do not; the checks
themselves (an HTTP GET, the standard gRPC health check); what to say when a process exited before it
became ready (its exit, how long it ran, its last words), instead of a timeout that never ran out."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import requests

from chaos.errors import MissingExtra

if TYPE_CHECKING:
    from chaos.platform.base import Endpoint
    from chaos.platform.observations import ExitRecord, LogLine
    from chaos.targets import Readiness

#: How many of its last lines a process that exited before it became ready is quoted with.
LAST_LINES = 3
#: Lines of a Go crash's headline: quoted instead of the last lines (a goroutine stack's frames).
_CRASH_HEADLINES = ("panic: ", "fatal error: ")


def wait_until(
    check: Callable[[], bool],
    *,
    timeout_s: float,
    interval_s: float = 0.05,
    abort: Callable[[], str | None] | None = None,
) -> bool:
    """Poll `check` until it is true (True) or the deadline passes (False).

    `abort` is asked between polls; when it returns a reason (e.g. "process exited"), waiting
    stops at once with False, so a dead process is not waited on for the full timeout.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        if check():
            return True
        if abort is not None and abort() is not None:
            return False
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval_s)


def http_ok(url: str, timeout_s: float = 0.5) -> bool:
    """True when GET url answers 2xx; connection errors count as not ready."""
    try:
        return requests.get(url, timeout=timeout_s).ok
    except requests.RequestException:
        return False


def grpc_serving(address: str, service: str = "", timeout_s: float = 0.5) -> bool:
    """True when the gRPC server at `address` (host:port) answers the standard grpc.health.v1
    Check for `service` ("" = the server as a whole) with SERVING; NOT_SERVING, an unknown
    service, no health service or no answer count as not ready. Needs gochaos[grpc] (a plan with a gRPC
    readiness check refuses to run without it; this says the same to a caller that planned none)."""
    return grpc_health(address, service, timeout_s) == "SERVING"


def grpc_health(address: str, service: str = "", timeout_s: float = 0.5) -> str:
    """What the grpc.health.v1 Check for `service` at `address` answered: the serving status (SERVING,
    NOT_SERVING, ...), else the gRPC error's code name (UNIMPLEMENTED: no health service), or "no answer".
    MissingExtra without gochaos[grpc]."""
    try:
        # deferred: grpcio (gochaos[grpc]) is optional and slow to import
        import grpc
        from grpc_health.v1 import health_pb2, health_pb2_grpc
    except ModuleNotFoundError as e:
        raise MissingExtra("grpc", "a gRPC readiness check (grpc.health.v1)") from e

    with grpc.insecure_channel(address) as channel:
        stub: Any = health_pb2_grpc.HealthStub(channel)  # its typing stub omits the methods
        try:
            reply = stub.Check(
                health_pb2.HealthCheckRequest(service=service), timeout=timeout_s)
        except grpc.RpcError as e:
            code = e.code() if hasattr(e, "code") else None
            return code.name if code is not None else "no answer"
    return str(health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status))


def grpc_address(host: str, port: int) -> str:
    """`host:port` as a gRPC target (an IPv6 literal in brackets)."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def passes(readiness: Readiness, endpoint: Endpoint, timeout_s: float = 0.5) -> bool | None:
    """Does the target at `endpoint` pass its own readiness check now (gRPC health, else HTTP GET)?

    None when it declares neither (a TCP port is all there is to ask): the caller decides what then.
    """
    if readiness.grpc_health is not None:
        return grpc_serving(grpc_address(endpoint.host, endpoint.port), readiness.grpc_health, timeout_s=timeout_s)
    if readiness.http_path:
        return http_ok(endpoint.url + readiness.http_path, timeout_s=timeout_s)
    return None


def exited_before_ready(record: ExitRecord, ran_s: float, lines: Sequence[LogLine]) -> str:
    """Why a readiness wait ended early, in words: `it exited after 400 ms (exit status 1, pid 4319); last
    stderr lines: 'boom'`. `lines` is the process's output; only the exited incarnation's lines are quoted:
    a Go crash by its headline, else the last stderr lines (stdout's when stderr is empty)."""
    how = f"killed by {record.signal}" if record.signal else f"exit status {record.returncode}"
    if record.reason:
        how += f" ({record.reason})"
    pid = f", pid {record.pid}" if record.pid else ""
    said = [line for line in lines if line.incarnation == record.incarnation and line.text.strip()]
    crash = next((line.text.strip() for line in said if line.text.startswith(_CRASH_HEADLINES)), None)
    if crash is not None:
        words = f"its crash: {crash[:300]!r}"
    else:
        stderr = [line.text.strip() for line in said if line.stream == "stderr"]
        stream, tail = ("stderr", stderr) if stderr else ("output", [line.text.strip() for line in said])
        words = (f"last {stream} lines: " + " | ".join(repr(text[:200]) for text in tail[-LAST_LINES:])
                 if tail else "it printed nothing")
    ran = f"{ran_s * 1000:.0f} ms" if ran_s < 1 else f"{ran_s:.1f} s"
    return f"it exited after {ran} ({how}{pid}); {words}"
