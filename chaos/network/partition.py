"""A partition of the etcd members into groups: which connections each member's peer link cuts, and the proof.

The peer link into member X carries every other member's connections to X (the raft streams they
dial, the messages they post), so cutting X off from some members and not others needs to know
which process a connection comes from: chaosproxy finds the owner of each client socket in /proc
(no root), and cuts, both ways, the connections from the PIDs it is given. For X, those are the
PIDs of the members outside X's group; since every member's peer link is cut so, no connection
crosses between groups in either direction.

Pure functions of names and numbers, so the partition is tested without processes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from chaos.network.links import LEADER
from chaos.network.proof import Proof, counts
from chaos.network.proxy import LinkStats

#: In a group: every member no other group names.
OTHERS = "others"


class GroupsError(ValueError):
    """The groups do not partition the members (a name not a member, a member twice, an empty group)."""


@runtime_checkable
class MemberProcess(Protocol):
    """An etcd member that is a process on this host (the local platform's)."""

    name: str

    @property
    def pid(self) -> int | None: ...


def member_pids(members: Iterable[object]) -> dict[str, int]:
    """The PIDs of the members running as processes here (by name); those without one are left out."""
    return {m.name: m.pid for m in members if isinstance(m, MemberProcess) and m.pid is not None}


def resolve_groups(groups: Sequence[Sequence[str]], members: Sequence[str], leader: str | None) -> list[list[str]]:
    """`groups` as member names: `leader` the member leading now, `others` every member no group names."""
    named: list[list[str]] = []
    seen: set[str] = set()
    for group in groups:
        names = []
        for name in group:
            if name == OTHERS:
                names.append(name)
                continue
            member = leader if name == LEADER else name
            if member is None:
                raise GroupsError("no etcd member leads right now, so `leader` names nobody")
            if member not in members:
                raise GroupsError(f"{name!r} is not one of the etcd members ({', '.join(members)}), `{LEADER}` or "
                                  f"`{OTHERS}`")
            if member in seen:
                raise GroupsError(f"member {member} is in two groups (`{LEADER}` is {leader})")
            seen.add(member)
            names.append(member)
        named.append(names)
    rest = [m for m in members if m not in seen]
    resolved = [[m for name in group for m in (rest if name == OTHERS else [name])] for group in named]
    if any(not group for group in resolved):
        raise GroupsError(f"a group has no member ({' | '.join(', '.join(g) for g in groups)} over "
                          f"{', '.join(members)}): give each group at least one")
    if not any(OTHERS in group for group in named) and rest:
        raise GroupsError(f"member(s) {', '.join(rest)} in no group: add them, or `{OTHERS}` to a group")
    return resolved


def cut_sources(groups: Sequence[Sequence[str]], pids: Mapping[str, int]) -> dict[str, list[int]]:
    """For each member, the PIDs whose connections its peer link cuts: those of the members outside its group."""
    group_of = {member: i for i, group in enumerate(groups) for member in group}
    return {member: sorted(pid for other, pid in pids.items() if group_of.get(other) != group_of[member])
            for member in group_of}


def proof(delta: LinkStats, groups: Sequence[Sequence[str]]) -> Proof:
    """Landed when connections crossing the groups were found and their bytes discarded."""
    discarded = delta.bytes_discarded_upstream + delta.bytes_discarded_downstream
    figures: dict[str, Any] = {"groups": [list(g) for g in groups], "connections_cut": delta.connections_cut,
                               "bytes_discarded": discarded, "counts": counts(delta)}
    shown = " | ".join(", ".join(g) for g in groups)
    if delta.connections_cut < 1:
        return Proof(False, f"no connection between the groups ({shown}) was found on the peer links to cut: the "
                            "proxy could not trace them to the members' processes (see chaosproxy.log: "
                            "partition_untraced)", figures)
    if discarded < 1:
        return Proof(False, f"{delta.connections_cut} connection(s) between the groups ({shown}) found, but nothing "
                            "crossed them to discard during the fault", figures)
    return Proof(True, f"{delta.connections_cut} connection(s) between {shown} cut, {discarded} bytes discarded",
                 figures)
