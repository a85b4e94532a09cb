"""Free loopback ports for targets and etcd members, outside the kernel's ephemeral range.

The kernel hands out ephemeral ports to every outgoing connection, and a load test opens many.
A port picked from that range can be taken by a client socket between the moment we check it and
the moment the service binds it; picking below the range avoids that race almost entirely.

Other gochaos processes pick from the same range (pytest-xdist workers, parallel CI jobs), and a
port one of them picked stays unbound until its service has started. So every port handed out is
leased for LEASE_S in a ledger file all of this user's processes share (under an exclusive lock):
no two processes get the same port while either could still be starting its service.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import random
import socket
import time
from collections.abc import Iterator
from pathlib import Path

from chaos.errors import PlatformError

LOOPBACK = "127.0.0.1"
_FALLBACK_RANGE = (20000, 32767)
#: How long a port handed out stays reserved for the process that got it (a service binds it sooner).
LEASE_S = 120.0


def ledger_path() -> Path:
    """The lease ledger this user's gochaos processes share ($GOCHAOS_PORT_LEDGER overrides it)."""
    return Path(os.environ.get("GOCHAOS_PORT_LEDGER") or f"/tmp/gochaos-{os.getuid()}-ports.json")


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
    """A TCP port nothing listens on right now and no other gochaos process was given lately."""
    return free_ports(1, host)[0]


def free_ports(count: int, host: str = LOOPBACK) -> list[int]:
    """`count` distinct free ports (for services started together, such as etcd members), leased."""
    with _leases() as leased:
        ports: list[int] = []
        while len(ports) < count:
            ports.append(_unbound_port(host, avoid=leased.keys() | set(ports)))
        until = time.time() + LEASE_S
        leased.update(dict.fromkeys(ports, until))
    return ports


def _unbound_port(host: str, avoid: set[int]) -> int:
    low, high = _candidate_range()
    for _ in range(200):
        port = random.randint(low, high)
        if port in avoid:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind((host, port))
            except OSError:
                continue
            return port
    raise PlatformError(f"no free TCP port on {host} in {low}-{high} after 200 tries; is the machine out of ports?")


@contextlib.contextmanager
def _leases() -> Iterator[dict[int, float]]:
    """The live leases (port -> expiry, wall clock), under the ledger's lock; written back on exit.

    Without a usable ledger (no writable /tmp) ports are still checked, only not leased.
    """
    path = ledger_path()
    try:
        handle = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError:
        yield {}
        return
    with os.fdopen(handle, "r+", encoding="utf-8") as ledger:
        fcntl.flock(ledger, fcntl.LOCK_EX)
        now = time.time()
        try:
            leased = {int(port): float(until) for port, until in json.loads(ledger.read() or "{}").items()
                      if float(until) > now}
        except (ValueError, TypeError, AttributeError):
            leased = {}  # a torn or foreign file: start afresh (it only ever holds short leases)
        yield leased
        ledger.seek(0)
        ledger.truncate()
        ledger.write(json.dumps({str(port): until for port, until in leased.items()}))


def port_in_use(port: int, host: str = LOOPBACK) -> bool:
    """True when something accepts connections on host:port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0
