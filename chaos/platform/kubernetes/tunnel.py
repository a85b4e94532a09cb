"""A loopback port that reaches a pod's port through the API server (port-forward), like `kubectl port-forward`.

A suite outside the cluster has only its kubeconfig: no NodePort, no node, no pod network. Probes,
readiness checks and Locust's load all speak to 127.0.0.1:<port>; each accepted connection gets its
own port-forward stream (the official client's `portforward`) to whichever pod `pick_pod` names at
that moment, so a pod deleted by a fault and replaced by its workload is reached again by the next
connection. Everything is bounded: `close()` ends the listener and every stream it opened.
Each stream gets an API client of its own: the client's `portforward` swaps its client's request
method for the duration of the call, which would break any other thread using the same client.
"""

from __future__ import annotations

import contextlib
import select
import socket
import threading
from collections.abc import Callable
from typing import Any

from chaos.platform.base import Endpoint

PUMP_TICK_S = 0.5  # how often a pump looks whether the tunnel is closing
CHUNK = 64 * 1024


class Tunnel:
    """127.0.0.1:`endpoint.port` forwarded to port `port` of the pod `pick_pod()` returns (None: no pod ready)."""

    def __init__(self, configuration: Any, namespace: str, port: int, pick_pod: Callable[[], str | None]) -> None:
        self._configuration, self._namespace, self._port, self._pick_pod = configuration, namespace, port, pick_pod
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.endpoint = Endpoint("127.0.0.1", self._listener.getsockname()[1])
        self._closing = threading.Event()
        self._lock = threading.Lock()
        self._open: set[Any] = set()
        self.failures: list[str] = []  # streams that could not be opened, newest last (bounded)
        self._acceptor = threading.Thread(target=self._accept, name=f"tunnel-{namespace}-{port}", daemon=True)
        self._acceptor.start()

    def _accept(self) -> None:
        while not self._closing.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return  # closed
            threading.Thread(target=self._serve, args=(conn,), daemon=True, name="tunnel-conn").start()

    def _serve(self, conn: socket.socket) -> None:
        from kubernetes import client as client_module
        from kubernetes.stream import portforward

        client: Any = client_module  # untyped package
        forward: Any = None
        remote: socket.socket | None = None
        api = client.ApiClient(self._configuration)
        try:
            pod = self._pick_pod()
            if pod is None:
                self._failed("no ready pod to forward to")
                return
            forward = portforward(client.CoreV1Api(api).connect_get_namespaced_pod_portforward, pod, self._namespace,
                                  ports=str(self._port))
            with self._lock:
                if self._closing.is_set():
                    return
                self._open.add(forward)
            remote = forward.socket(self._port)
            remote.setblocking(True)
            self._pump(conn, remote)
        except Exception as e:  # one broken stream is one failed request for the load, never a crash
            self._failed(f"port-forward to {self._namespace}: {getattr(e, 'reason', None) or e}")
        finally:
            with contextlib.suppress(OSError):
                conn.close()
            if remote is not None:  # an orderly end for the client's proxy thread, not a reset it would print
                with contextlib.suppress(OSError):
                    remote.shutdown(socket.SHUT_RDWR)
            if forward is not None:
                with self._lock:
                    self._open.discard(forward)
                with contextlib.suppress(Exception):
                    forward.close()
            with contextlib.suppress(Exception):
                api.close()

    def _pump(self, local: socket.socket, remote: socket.socket) -> None:
        """Copy bytes both ways until either side ends or the tunnel closes."""
        pair = {local: remote, remote: local}
        while not self._closing.is_set():
            readable, _, broken = select.select(list(pair), [], list(pair), PUMP_TICK_S)
            if broken:
                return
            for source in readable:
                data = source.recv(CHUNK)
                if not data:
                    return
                pair[source].sendall(data)

    def _failed(self, why: str) -> None:
        with self._lock:
            self.failures = [*self.failures[-19:], why]

    def close(self) -> None:
        """Stop accepting and end every open stream (their pumps notice within PUMP_TICK_S)."""
        self._closing.set()
        with contextlib.suppress(OSError):
            self._listener.close()
        with self._lock:
            streams, self._open = list(self._open), set()
        for forward in streams:
            with contextlib.suppress(Exception):
                forward.close()
        self._acceptor.join(timeout=5)

    def __enter__(self) -> Tunnel:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

