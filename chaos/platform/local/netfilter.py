"""Cut a local process's TCP traffic on chosen loopback ports with iptables, and undo it.

Used to isolate an etcd member from its peers. Packets are picked out by port and by the owner
group of the isolated process (each etcd member runs under its own gid), so the rules touch only
this run's processes. Every rule carries the comment `gochaos:<owner pid>.<owner start>:<tag>`,
naming the suite process that added it: the rules are recorded in the state file before they are
inserted, and a later run removes them after a crash, but only when their owner is dead, so a
concurrent live run's rules are never touched.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field

from chaos import state
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

    @property
    def comment(self) -> str:
        return f"{COMMENT_PREFIX}{state.owner_tag()}:{self.tag}"

    def _rule_specs(self) -> list[list[str]]:
        comment = ["-m", "comment", "--comment", self.comment]
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
        state.hold("iptables", self.comment, f"iptables DROP rules tagged {self.comment}")
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
                f"could not remove iptables rules tagged {self.comment}: {failed}. "
                f"Remove them by hand: iptables -S OUTPUT | grep {self.comment}, or run `gochaos cleanup`"
            )
        state.release("iptables", self.comment)


def leftover_rules(tag_prefix: str = COMMENT_PREFIX) -> list[str]:
    """Rules in OUTPUT whose comment starts with `tag_prefix` (for crash clean-up)."""
    if iptables_available() is not None:
        return []
    result = _iptables(["-S", "OUTPUT"])
    return [line for line in result.stdout.splitlines() if tag_prefix in line]


def _comment_of(rule: str) -> str | None:
    tokens = shlex.split(rule)
    for i, token in enumerate(tokens[:-1]):
        if token == "--comment":
            return tokens[i + 1]
    return None


def _scan() -> list[tuple[str, state.Holding]]:
    """Tagged rules by owner tag (for rules a dead run added but never recorded)."""
    found: dict[str, str] = {}
    for rule in leftover_rules():
        comment = _comment_of(rule)
        if comment is not None and comment.startswith(COMMENT_PREFIX):
            owner = comment.removeprefix(COMMENT_PREFIX).split(":", 1)[0]
            found.setdefault(comment, owner)
    return [(owner, state.Holding("iptables", comment, f"iptables DROP rules tagged {comment}", {}))
            for comment, owner in found.items()]


@state.kind("iptables", order=30, scan=_scan)
def _reclaim(holding: state.Holding) -> str:
    """Delete every OUTPUT rule carrying exactly the recorded comment."""
    reason = iptables_available()
    if reason is not None:
        raise RevertFailed(f"cannot remove iptables rules tagged {holding.key}: {reason}")
    removed = 0
    for rule in leftover_rules(holding.key):
        if _comment_of(rule) != holding.key:
            continue
        tokens = shlex.split(rule)
        result = _iptables(["-D", *tokens[1:]])
        if result.returncode != 0 and "does a matching rule exist" not in result.stderr:
            raise RevertFailed(f"iptables -D {' '.join(tokens[1:])}: {result.stderr.strip()}")
        removed += 1
    return f"removed {removed} rule(s)" if removed else "already gone"
