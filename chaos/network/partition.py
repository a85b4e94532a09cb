"""A partition of the etcd members, and of the targets that are their clients, into groups: which connections
each member's peer link cuts, which etcd-client links of each target are blackholed, and the proof.

The peer link into member X carries every other member's connections to X (the raft streams they
dial, the messages they post), so cutting X off from some members and not others needs to know
which process a connection comes from: chaosproxy finds the owner of each client socket in /proc
(no root), and cuts, both ways, the connections from the PIDs it is given. For X, those are the
PIDs of the members outside X's group; since every member's peer link is cut so, no connection
crosses between groups in either direction.

A target named in a group ("the leader and its clients vs the rest") has one etcd-client link per
member, so it needs no tracing: its links to the members outside its group are blackholed both
ways (bytes discarded, connections left open, as a real partition does), its links to its own
group's members are left alone. A target no group names is untouched.

Pure functions of names and numbers, so the partition is tested without processes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from chaos.network.links import LEADER
from chaos.network.proof import Proof, counts
from chaos.network.proxy import LinkStats

#: In a group: every member no other group names.
OTHERS = "others"
#: A member's name as the local platform gives it (chaos.network.links.member_names): never a target in a group.
MEMBER_NAME = r"m[0-9]+"


class GroupsError(ValueError):
    """The groups do not partition the members (a name not a member nor a target, a name twice, an empty group)."""


@runtime_checkable
class MemberProcess(Protocol):
    """An etcd member that is a process on this host (the local platform's)."""

    name: str

    @property
    def pid(self) -> int | None: ...


def member_pids(members: Iterable[object]) -> dict[str, int]:
    """The PIDs of the members running as processes here (by name); those without one are left out."""
    return {m.name: m.pid for m in members if isinstance(m, MemberProcess) and m.pid is not None}


def names_members(name: str) -> bool:
    """Whether a group's `name` stands for etcd members (a member name, `leader`, `others`) rather than a target:
    decided by the name alone, so the plan knows which targets' client links to route before any etcd runs."""
    return name in (LEADER, OTHERS) or re.fullmatch(MEMBER_NAME, name) is not None


def group_targets(groups: Sequence[Sequence[str]]) -> list[list[str]]:
    """Per group, the targets it names (every name that does not stand for members), in order."""
    return [[name for name in group if not names_members(name)] for group in groups]


def targets_named(groups: Sequence[Sequence[str]]) -> list[str]:
    """Every target the groups name, in order."""
    return [name for group in group_targets(groups) for name in group]


def resolve_groups(groups: Sequence[Sequence[str]], members: Sequence[str], leader: str | None,
                   targets: Sequence[str] = ()) -> list[list[str]]:
    """`groups` as member names: `leader` the member leading now, `others` every member no group names; a name of
    `targets` (a target whose etcd-client links are routed) counts toward its group but is no member, so a group of
    targets only resolves to no member."""
    named: list[list[str]] = []
    seen: set[str] = set()
    seen_targets: set[str] = set()
    has_target: list[bool] = []
    for group in groups:
        names = []
        has_target.append(False)
        for name in group:
            if name == OTHERS:
                names.append(name)
                continue
            if not names_members(name):
                if name not in targets:
                    raise GroupsError(f"{name!r} is neither an etcd member ({', '.join(members)}), `{LEADER}`, "
                                      f"`{OTHERS}` nor a target whose etcd-client links this run routes "
                                      f"({', '.join(targets) or 'none'}): name a target of the scenario that uses "
                                      "etcd")
                if name in seen_targets:
                    raise GroupsError(f"target {name} is in two groups: a target is in one group")
                seen_targets.add(name)
                has_target[-1] = True
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
    if any(not group and not target for group, target in zip(resolved, has_target, strict=True)):
        raise GroupsError(f"a group has no member or target ({' | '.join(', '.join(g) for g in groups)} over "
                          f"{', '.join(members)}): give each group at least one")
    if not any(OTHERS in group for group in named) and rest:
        raise GroupsError(f"member(s) {', '.join(rest)} in no group: add them, or `{OTHERS}` to a group")
    return resolved


def cut_sources(groups: Sequence[Sequence[str]], pids: Mapping[str, int]) -> dict[str, list[int]]:
    """For each member, the PIDs whose connections its peer link cuts: those of the members outside its group."""
    group_of = {member: i for i, group in enumerate(groups) for member in group}
    return {member: sorted(pid for other, pid in pids.items() if group_of.get(other) != group_of[member])
            for member in group_of}


def cut_clients(groups: Sequence[Sequence[str]], targets: Sequence[Sequence[str]]) -> dict[str, list[str]]:
    """For each target named, the members its etcd-client links to are blackholed: those outside its group.

    `groups` are the member groups (`resolve_groups`), `targets` the targets of the same groups (`group_targets`).
    """
    return {target: sorted(m for j, group in enumerate(groups) if j != i for m in group)
            for i, named in enumerate(targets) for target in named}


def shown(groups: Sequence[Sequence[str]], targets: Sequence[Sequence[str]] = ()) -> list[list[str]]:
    """Each group as the figures show it: its members, then the targets it names."""
    return [[*group, *(targets[i] if i < len(targets) else [])] for i, group in enumerate(groups)]


def _discarded(delta: LinkStats) -> int:
    return delta.bytes_discarded_upstream + delta.bytes_discarded_downstream


def proof(delta: LinkStats, groups: Sequence[Sequence[str]], clients: Mapping[str, LinkStats] | None = None,
          kept: Mapping[str, LinkStats] | None = None, *, peers: bool = True) -> Proof:
    """Landed when connections crossing the groups were found on the peer links (`delta`) and their bytes
    discarded. The targets' client links blackholed (`clients`) and left open (`kept`), each link's counts by
    name, are in the figures; when no peer link has anything to cut (`peers` False: every member in one group, the
    targets cut off from all), it landed when the blackholed client links discarded bytes."""
    discarded = _discarded(delta)
    figures: dict[str, Any] = {"groups": [list(g) for g in groups], "connections_cut": delta.connections_cut,
                               "bytes_discarded": discarded, "counts": counts(delta)}
    on_clients = ""
    client_discarded = 0
    if clients or kept:
        client_discarded = sum(_discarded(d) for d in (clients or {}).values())
        figures.update(clients_cut=sorted(clients or {}), client_bytes_discarded=client_discarded,
                       client_links={name: {"bytes_discarded": _discarded(d), "counts": counts(d)}
                                     for name, d in sorted({**(kept or {}), **(clients or {})}.items())})
        on_clients = f"; {len(clients or {})} etcd-client link(s) blackholed, {client_discarded} bytes discarded"
    text = " | ".join(", ".join(g) for g in groups)
    if not peers:
        if client_discarded < 1:
            return Proof(False, f"every member is in one group ({text}) and nothing crossed the targets' "
                                f"etcd-client links blackholed ({', '.join(sorted(clients or {})) or 'none'}) to "
                                "discard during the fault: give the targets load, or a longer duration_s", figures)
        return Proof(True, f"every member in one group ({text}){on_clients}", figures)
    if delta.connections_cut < 1:
        return Proof(False, f"no connection between the groups ({text}) was found on the peer links to cut: the "
                            "proxy could not trace them to the members' processes (see chaosproxy.log: "
                            f"partition_untraced){on_clients}", figures)
    if discarded < 1:
        return Proof(False, f"{delta.connections_cut} connection(s) between the groups ({text}) found, but nothing "
                            f"crossed them to discard during the fault{on_clients}", figures)
    return Proof(True, f"{delta.connections_cut} connection(s) between {text} cut, {discarded} bytes "
                       f"discarded{on_clients}", figures)
