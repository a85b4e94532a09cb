"""Free loopback ports for targets and etcd members, outside the kernel's ephemeral range.

The kernel hands out ephemeral ports to every outgoing connection, and a load test opens many.
A port picked from that range can be taken by a client socket between the moment we check it and
the moment the service binds it; picking below the range avoids that race almost entirely.
"""

from __future__ import annotations

import random
import socket
from pathlib import Path

from chaos.errors import PlatformError

LOOPBACK = "127.0.0.1"
_FALLBACK_RANGE = (20000, 32767)


def _candidate_range() -> tuple[int, int]:
    """Ports below the ephemeral range (and above the well-known ones)."""
    try:
        low, _ = (int(v) for v in Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    except (OSError, ValueError):
        return _FALLBACK_RANGE
    if low - 1 <= 10000:
        return _FALLBACK_RANGE
    return 10000, low - 1


def free_port(host: str = LOOPBACK) -> int:
    """A TCP port nothing listens on right now, chosen outside the ephemeral range."""
    low, high = _candidate_range()
    for _ in range(200):
        port = random.randint(low, high)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind((host, port))
            except OSError:
                continue
            return port
    raise PlatformError(f"no free TCP port on {host} in {low}-{high} after 200 tries; is the machine out of ports?")


def free_ports(count: int, host: str = LOOPBACK) -> list[int]:
    """`count` distinct free ports (for services started together, such as etcd members)."""
    ports: list[int] = []
    while len(ports) < count:
        port = free_port(host)
        if port not in ports:
            ports.append(port)
    return ports


def port_in_use(port: int, host: str = LOOPBACK) -> bool:
    """True when something accepts connections on host:port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0
