"""Which ports a process group listens on, read from /proc with no help from the service.

A socket a process holds shows as `socket:[INODE]` among its /proc/<pid>/fd links; the kernel's
tables /proc/<pid>/net/{tcp,tcp6,udp,udp6} list every socket of the network namespace with its
inode, local address and state. Joining the two gives what this process group (the service and
any children it forked) listens on: TCP sockets in state LISTEN, and bound UDP sockets (a DNS
server's). Sockets a process cannot read (another user's) are simply not seen.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from chaos.procfs import group_members

_PROC = Path("/proc")
#: /proc/net/tcp state of a listening socket; an unconnected bound UDP socket shows TCP_CLOSE.
_TCP_LISTEN = "0A"
_UDP_UNCONNECTED = "07"


@dataclass(frozen=True, order=True, slots=True)
class Listener:
    """One port the service listens on."""

    port: int
    transport: str  # "tcp" or "udp"
    host: str  # the bound address as the kernel shows it: 0.0.0.0, 127.0.0.1, ::

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}/{self.transport}"


def socket_inodes(pid: int) -> set[str]:
    """Inodes of the sockets process `pid` holds open."""
    inodes = set()
    with contextlib.suppress(OSError):
        for fd in (_PROC / str(pid) / "fd").iterdir():
            with contextlib.suppress(OSError):
                link = os.readlink(fd)
                if link.startswith("socket:["):
                    inodes.add(link[8:-1])
    return inodes


def listeners(pgid: int) -> list[Listener]:
    """What process group `pgid` listens on now (TCP LISTEN and bound UDP), sorted, without duplicates."""
    found: set[Listener] = set()
    for pid in group_members(pgid):  # the service and what it forked
        inodes = socket_inodes(pid)
        if not inodes:
            continue
        for table, transport, state in (("tcp", "tcp", _TCP_LISTEN), ("tcp6", "tcp", _TCP_LISTEN),
                                        ("udp", "udp", _UDP_UNCONNECTED), ("udp6", "udp", _UDP_UNCONNECTED)):
            try:
                text = (_PROC / str(pid) / "net" / table).read_text()
            except OSError:
                continue
            found.update(parse_table(text, transport, state, inodes))
    return sorted(found)


def parse_table(text: str, transport: str, state: str, inodes: set[str]) -> list[Listener]:
    """The sockets of one /proc/net table in `state` whose inode is one of `inodes`."""
    out = []
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 10 or fields[3] != state or fields[9] not in inodes:
            continue
        address, _, port_hex = fields[1].partition(":")
        port = int(port_hex, 16)
        if port:
            out.append(Listener(port, transport, _address(address)))
    return out


def _address(hex_address: str) -> str:
    """A /proc/net address: each 32-bit word in the host's (little-endian) byte order."""
    raw = bytes.fromhex(hex_address)
    swapped = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
    return str(ipaddress.ip_address(swapped))
