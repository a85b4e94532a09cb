"""Waiting for things to become ready, with a deadline and the reason when they do not; the checks
themselves (an HTTP GET, the standard gRPC health check)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import requests

if TYPE_CHECKING:
    from chaos.platform.base import Endpoint
    from chaos.targets import Readiness


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
    service, no health service or no answer count as not ready."""
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    with grpc.insecure_channel(address) as channel:
        stub: Any = health_pb2_grpc.HealthStub(channel)  # its typing stub omits the methods
        try:
            reply = stub.Check(
                health_pb2.HealthCheckRequest(service=service), timeout=timeout_s)
        except grpc.RpcError:
            return False
    return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)


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
