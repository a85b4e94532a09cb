"""The tunnel's relay with the dialer an in-cluster run uses: real sockets on loopback, no cluster."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator

import pytest
import requests

from chaos.platform.kubernetes.cluster.tunnel import DirectDial, Tunnel


class _Hello(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = f"hello from {self.connection.getsockname()[1]}\n".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def pod() -> Iterator[http.server.ThreadingHTTPServer]:
    """A stand-in for a pod's port: an HTTP server on loopback."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hello)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_each_connection_goes_to_the_pod_address_picked_at_that_moment(pod: http.server.ThreadingHTTPServer) -> None:
    port = pod.server_address[1]
    ready: list[str | None] = [None]
    with Tunnel(DirectDial(port, lambda: ready[0]), "test") as tunnel:
        assert tunnel.how == "pod network"
        with pytest.raises(requests.ConnectionError):
            requests.get(tunnel.endpoint.url + "/", timeout=5)
        assert tunnel.failures[-1] == "pod network: no ready pod with an IP to connect to"
        ready[0] = "127.0.0.1"  # a pod became ready
        answer = requests.get(tunnel.endpoint.url + "/", timeout=5)
        assert answer.status_code == 200 and answer.text == f"hello from {port}\n"


def test_a_refused_pod_port_is_one_failed_connection_not_a_dead_tunnel(pod: http.server.ThreadingHTTPServer) -> None:
    closed = pod.server_address[1]
    pod.shutdown()
    pod.server_close()  # nothing listens there any more
    with Tunnel(DirectDial(closed, lambda: "127.0.0.1"), "test") as tunnel:
        with pytest.raises(requests.ConnectionError):
            requests.get(tunnel.endpoint.url + "/", timeout=5)
        assert "pod network:" in tunnel.failures[-1] and "refused" in tunnel.failures[-1].lower()
