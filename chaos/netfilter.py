"""Cut a local process's TCP traffic on chosen loopback ports with iptables, and undo it.

Used to isolate an etcd member from its peers. Packets are picked out by port and by the owner
group of the isolated process (each etcd member runs under its own gid), so the rules touch only
this run's processes. Every rule carries a comment naming the run, so leftovers can be found and
removed even after the suite itself was killed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field

from chaos.errors import InjectionFailed, RevertFailed

COMMENT_PREFIX = "gochaos:"


def iptables_available() -> str | None:
    """None when rules can be added here, else the reason they cannot."""
    if os.geteuid() != 0:
        return "cutting peer traffic needs root (iptables)"
    if shutil.which("iptables") is None:
        return "iptables is not installed (apt-get install -y iptables)"
    return None


def _iptables(args: Sequence[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["iptables", "-w", "5", *args], capture_output=True, text=True)


@dataclass
class PortIsolation:
    """DROP rules that cut one process (by gid) off from its peers' ports and them from its own."""

    tag: str
    own_port: int
    owner_gid: int
    peer_ports: Sequence[int]
    _rules: list[list[str]] = field(default_factory=list)

    def _rule_specs(self) -> list[list[str]]:
        comment = ["-m", "comment", "--comment", f"{COMMENT_PREFIX}{self.tag}"]
        specs = [
            # anyone sending to the isolated process's peer port
            ["OUTPUT", "-o", "lo", "-p", "tcp", "--dport", str(self.own_port), *comment],
            # the isolated process answering on its peer port (established streams)
            ["OUTPUT", "-o", "lo", "-p", "tcp", "--sport", str(self.own_port), *comment],
        ]
        for port in self.peer_ports:
            # the isolated process dialing its peers
            specs.append(["OUTPUT", "-o", "lo", "-p", "tcp", "--dport", str(port), "-m", "owner",
                          "--gid-owner", str(self.owner_gid), *comment])
        return specs

    def apply(self) -> None:
        reason = iptables_available()
        if reason is not None:
            raise InjectionFailed(reason)
        for spec in self._rule_specs():
            chain, *rest = spec
            result = _iptables(["-I", chain, *rest, "-j", "DROP"])
            if result.returncode != 0:
                self.remove()
                raise InjectionFailed(f"iptables refused a rule ({' '.join(spec)}): "
                                      f"{result.stderr.strip()}")
            self._rules.append(spec)

    def remove(self) -> None:
        failed = []
        while self._rules:
            chain, *rest = self._rules.pop()
            result = _iptables(["-D", chain, *rest, "-j", "DROP"])
            if result.returncode != 0 and "does a matching rule exist" not in result.stderr:
                failed.append(result.stderr.strip())
        if failed:
            raise RevertFailed(
                f"could not remove iptables rules tagged {COMMENT_PREFIX}{self.tag}: {failed}. "
                f"Remove them by hand: iptables -S OUTPUT | grep {COMMENT_PREFIX}{self.tag}"
            )


def leftover_rules(tag_prefix: str = COMMENT_PREFIX) -> list[str]:
    """Rules in OUTPUT whose comment starts with `tag_prefix` (for crash clean-up)."""
    if iptables_available() is not None:
        return []
    result = _iptables(["-S", "OUTPUT"])
    return [line for line in result.stdout.splitlines() if tag_prefix in line]
