"""A loopback port that reaches a deployed service's pods: through the API server, or straight to the pod.

Probes, readiness checks and Locust's load all speak to 127.0.0.1:<port>. Each accepted connection
is carried to whichever ready pod the workload has at that moment, so a pod deleted by a fault and
replaced by its workload is reached again by the next connection. How a connection gets to the pod
is the dialer's business:

* `PortForwardDial`, when the suite runs outside the cluster with only a kubeconfig: one stream of
  the official client's `portforward` per connection, like `kubectl port-forward`. Each stream gets
  an API client of its own: the client's `portforward` swaps its client's request method for the
  duration of the call, which would break any other thread using the same client.
* `DirectDial`, when the suite runs inside the cluster: a TCP connection to the pod's IP.

Everything is bounded: `close()` ends the listener and every connection it opened.
"""

from __future__ import annotations

import contextlib
import select
import socket
import threading
from collections.abc import Callable
from typing import Any, Protocol

from chaos.platform.base import Endpoint

PUMP_TICK_S = 0.5  # how often a pump looks whether the tunnel is closing
CHUNK = 64 * 1024
DIAL_TIMEOUT_S = 5.0


class Route(Protocol):
    """One connection's way to a pod: its socket and how to end it."""

    sock: socket.socket

    def close(self) -> None: ...


class Dial(Protocol):
    """Opens a route to a ready pod (raises when none is ready or the pod refuses)."""

    how: str

    def __call__(self) -> Route: ...


class NoReadyPod(Exception):
    """Nothing to connect to at this moment (the workload has no ready pod)."""


class _SocketRoute:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()


class _ForwardRoute:
    def __init__(self, forward: Any, api: Any, port: int) -> None:
        self._forward, self._api = forward, api
        self.sock: socket.socket = forward.socket(port)
        self.sock.setblocking(True)

    def close(self) -> None:
        with contextlib.suppress(OSError):  # an orderly end for the client's proxy thread, not a reset it prints
            self.sock.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(Exception):
            self._forward.close()
        with contextlib.suppress(Exception):
            self._api.close()


class PortForwardDial:
    """Port `port` of the pod `pick_pod()` names, through the API server's port-forward."""

    how = "port-forward"

    def __init__(self, configuration: Any, namespace: str, port: int, pick_pod: Callable[[], str | None]) -> None:
        self._configuration, self._namespace, self._port, self._pick_pod = configuration, namespace, port, pick_pod

    def __call__(self) -> Route:
        # deferred: the kubernetes client (gochaos[kubernetes]) is optional and slow to import
        from kubernetes import client as client_module  # deferred: the kubernetes client is heavy to import
        from kubernetes.stream import portforward

        client: Any = client_module  # untyped package
        pod = self._pick_pod()
        if pod is None:
            raise NoReadyPod("no ready pod to forward to")
        api = client.ApiClient(self._configuration)
        try:
            forward = portforward(client.CoreV1Api(api).connect_get_namespaced_pod_portforward, pod,
                                  self._namespace, ports=str(self._port))
            return _ForwardRoute(forward, api, self._port)
        except BaseException:
            api.close()
            raise


class DirectDial:
    """Port `port` of the pod whose IP `pick_address()` gives, over the pod network (in-cluster runs)."""

    how = "pod network"

    def __init__(self, port: int, pick_address: Callable[[], str | None]) -> None:
        self._port, self._pick_address = port, pick_address

    def __call__(self) -> Route:
        address = self._pick_address()
        if address is None:
            raise NoReadyPod("no ready pod with an IP to connect to")
        sock = socket.create_connection((address, self._port), timeout=DIAL_TIMEOUT_S)
        sock.settimeout(None)
        return _SocketRoute(sock)


class Tunnel:
    """127.0.0.1:`endpoint.port`, each connection carried to a ready pod by `dial`."""

    def __init__(self, dial: Dial, name: str) -> None:
        self._dial, self.how = dial, dial.how
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.endpoint = Endpoint("127.0.0.1", self._listener.getsockname()[1])
        self._closing = threading.Event()
        self._lock = threading.Lock()
        self._open: set[Route] = set()
        self.failures: list[str] = []  # connections that could not be carried, newest last (bounded)
        self._acceptor = threading.Thread(target=self._accept, name=f"tunnel-{name}", daemon=True)
        self._acceptor.start()

    def _accept(self) -> None:
        while not self._closing.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return  # closed
            threading.Thread(target=self._serve, args=(conn,), daemon=True, name="tunnel-conn").start()

    def _serve(self, conn: socket.socket) -> None:
        route: Route | None = None
        try:
            route = self._dial()
            with self._lock:
                if self._closing.is_set():
                    return
                self._open.add(route)
            self._pump(conn, route.sock)
        except Exception as e:  # one broken connection is one failed request for the load, never a crash
            self._failed(f"{self.how}: {getattr(e, 'reason', None) or e}")
        finally:
            with contextlib.suppress(OSError):
                conn.close()
            if route is not None:
                with self._lock:
                    self._open.discard(route)
                route.close()

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
        """Stop accepting and end every open connection (their pumps notice within PUMP_TICK_S)."""
        self._closing.set()
        with contextlib.suppress(OSError):
            self._listener.close()
        with self._lock:
            routes, self._open = list(self._open), set()
        for route in routes:
            route.close()
        self._acceptor.join(timeout=5)

    def __enter__(self) -> Tunnel:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
