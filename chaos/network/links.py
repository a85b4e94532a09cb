"""Which links a run routes through chaosproxy, decided when it is planned, and their names.

A fault on a link declares it (`NeedsLinks.link_requests`); the plan gathers them into one
`LinkPlan`, checks each against the scenario (`link_problem`: a target with no etcd, an upstream its
command and config never name, a load that is not there), and the platform routes exactly those when
it starts etcd, the targets and the load. Nothing here touches a process or a socket.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable
from urllib.parse import urlsplit

from chaos.load.spec import DnsOptions
from chaos.targets import TargetSpec


class LinkKind(enum.StrEnum):
    """Where a link sits."""

    ETCD_CLIENT = "etcd-client"  # a target -> each etcd member's client port
    ETCD_PEER = "etcd-peer"  # etcd members -> a member's peer port (inbound to that member)
    LOAD = "load"  # the load -> a target's port
    UPSTREAM = "upstream"  # a target -> a host:port its command, env or config names


class Transport(enum.StrEnum):
    TCP = "tcp"
    UDP = "udp"


#: `host:port` as a target names an upstream: a name or IPv4 address, or an [IPv6] one, and a port.
ADDRESS = r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9][A-Za-z0-9.-]*):([1-9][0-9]{0,4})$"
#: The member of an etcd link that leads when the fault starts.
LEADER = "leader"


@dataclass(frozen=True, slots=True, order=True)
class LinkRequest:
    """One link a fault needs routed from the start."""

    kind: LinkKind
    #: The target whose link it is (None for etcd-peer: the links are the cluster's).
    target: str | None = None
    #: load: the target's named port loaded (None: its main one).
    port: str | None = None
    #: upstream: the host:port the target names.
    upstream: str | None = None
    #: What the link carries: an upstream's as the fault names it; a load link's follows the load (`load_transport`).
    protocol: Transport = Transport.TCP


@runtime_checkable
class NeedsLinks(Protocol):
    """A fault that needs links routed through chaosproxy before the targets start."""

    def link_requests(self) -> tuple[LinkRequest, ...]:
        """The links this fault acts on (declared at plan time: their addresses go into commands and configs)."""
        ...

    def link_member(self) -> str | None:
        """The etcd member whose links the fault acts on (a name, or `leader`); None: every member's, or no etcd."""
        ...

    def transport_problem(self, transport: Transport) -> str | None:
        """Why this fault cannot act on a link carrying `transport` (a load link's is known once planned), else None."""
        ...


@dataclass(frozen=True, slots=True)
class LinkPlan:
    """Every link a run routes, from all its faults; empty when none needs one (no proxy is started then)."""

    requests: tuple[LinkRequest, ...] = ()

    @classmethod
    def of(cls, requests: Iterable[LinkRequest]) -> LinkPlan:
        return cls(tuple(sorted(set(requests))))

    def __bool__(self) -> bool:
        return bool(self.requests)

    @property
    def etcd_peer(self) -> bool:
        return any(r.kind is LinkKind.ETCD_PEER for r in self.requests)

    def etcd_client(self, target: str) -> bool:
        return any(r.kind is LinkKind.ETCD_CLIENT and r.target == target for r in self.requests)

    def load(self, target: str, port: str | None) -> bool:
        return any(r.kind is LinkKind.LOAD and r.target == target and r.port == port for r in self.requests)

    def load_protocol(self, target: str, port: str | None) -> Transport:
        """What the load link to `target` (its `port`) carries: TCP unless the load is DNS over UDP."""
        return next((r.protocol for r in self.requests
                     if r.kind is LinkKind.LOAD and r.target == target and r.port == port), Transport.TCP)

    def upstreams(self, target: str) -> tuple[LinkRequest, ...]:
        return tuple(r for r in self.requests if r.kind is LinkKind.UPSTREAM and r.target == target)


# -- names ----------------------------------------------------------------------------------------
def etcd_peer_link(member: str) -> str:
    return f"etcd-peer.{member}"


def etcd_client_link(target: str, member: str) -> str:
    return f"etcd-client.{target}.{member}"


def load_link(target: str, port: str | None) -> str:
    return f"load.{target}" + (f".{port}" if port else "")


def upstream_link(target: str, upstream: str, protocol: Transport | str) -> str:
    return f"upstream.{target}.{re.sub(r'[^A-Za-z0-9.]', '-', upstream)}.{protocol}"


def route_endpoints(endpoints: str, member_of: Callable[[int, str], str], listen: Callable[[str, str], str]) -> str:
    """`endpoints` (comma-separated client URLs) with each URL's host:port a link's: `member_of(i, url)` names the
    member the i-th URL leads to, and `listen(member, host_port)` makes (or finds) its link and says where it
    listens."""
    routed = []
    for i, url in enumerate(u for u in endpoints.split(",") if u):
        parts = urlsplit(url)
        routed.append(parts._replace(netloc=listen(member_of(i, url), parts.netloc)).geturl())
    return ",".join(routed)


def load_transport(user: str, options: Mapping[str, Any]) -> Transport:
    """What a load's link carries: UDP for the `dns` user over UDP (its default), TCP for every other load
    (HTTP, gRPC, DNS over TCP, a user's own Locust user)."""
    if user != "dns":
        return Transport.TCP
    return Transport(DnsOptions.model_validate(options.get("dns") or {}).protocol)


# -- upstream addresses in a target's text --------------------------------------------------------
def _address_pattern(address: str) -> re.Pattern[str]:
    """`address` standing alone: not the tail of a longer name or number, not followed by more digits."""
    return re.compile(rf"(?<![0-9A-Za-z.-]){re.escape(address)}(?![0-9])")


def rewrite(text: str, address: str, replacement: str) -> str:
    """`text` with every standalone occurrence of `address` replaced by `replacement`."""
    return _address_pattern(address).sub(replacement, text)


def occurrences(spec: TargetSpec, address: str) -> list[str]:
    """Where target `spec` names `address`: `command[i]`, `env.NAME`, `config line N` (empty: nowhere)."""
    pattern = _address_pattern(address)
    found = [f"command[{i}]" for i, arg in enumerate(spec.command) if pattern.search(arg)]
    found += [f"env.{key}" for key, value in spec.env.items() if pattern.search(value)]
    if spec.config is not None:
        found += [f"config line {n}" for n, line in enumerate(spec.config.initial.splitlines(), start=1)
                  if pattern.search(line)]
    return found


# -- plan-time checks and dry-run lines -----------------------------------------------------------
@dataclass(frozen=True, slots=True)
class EtcdShape:
    """What the plan knows of the run's etcd: None when there is none."""

    members: int
    external: bool


def member_names(members: int) -> list[str]:
    """The names the local platform gives the members of the etcd it starts."""
    return [f"m{i}" for i in range(members)]


def link_problem(request: LinkRequest, member: str | None, targets: Sequence[TargetSpec], etcd: EtcdShape | None,
                 loaded: Iterable[tuple[str, str | None]]) -> str | None:
    """Why the run could not route `request` (the fault naming `member`, when it names one), else None."""
    spec = next((s for s in targets if s.name == request.target), None)
    if request.kind in (LinkKind.ETCD_CLIENT, LinkKind.ETCD_PEER):
        if etcd is None:
            return (f"link {request.kind} needs the etcd cluster the suite starts, and this scenario has none: add "
                    "`etcd: {members: 3}`")
        if etcd.external:
            return (f"link {request.kind} routes the etcd the suite starts; the team's own etcd (`etcd.external`) "
                    "is not routed through the proxy: use leader_loss on it, or let the suite start one")
        names = member_names(etcd.members)
        if member not in (None, LEADER, *names):
            return f"member {member!r} is not one of the etcd members ({', '.join(names)}) or `{LEADER}`"
    if request.kind is LinkKind.ETCD_CLIENT and spec is None:
        known = ", ".join(s.name for s in targets) or "none"
        return (f"{request.target!r} is not a target of this scenario ({known}), so it has no etcd-client link: name "
                f"one of its targets (a partition's groups name etcd members m0, m1, ..., `{LEADER}`, `others` or "
                "targets)")
    if request.kind is LinkKind.ETCD_CLIENT and spec is not None and not spec.needs_etcd:
        return (f"target {spec.name} has no etcd (it takes no {{etcd_endpoints}}), so it has no etcd-client link: "
                "fault a target that uses etcd, or use link upstream for an address of its own")
    if request.kind is LinkKind.LOAD and (request.target, request.port) not in set(loaded):
        port = f" on port {request.port}" if request.port else ""
        return (f"no load runs against target {request.target}{port}, so there is no load link to fault: give the "
                "scenario a `load` on it")
    if request.kind is LinkKind.UPSTREAM and spec is not None and request.upstream is not None \
            and not occurrences(spec, request.upstream):
        config = f" or its config {spec.config.file_name}" if spec.config is not None else ""
        return (f"upstream {request.upstream} is named nowhere in target {spec.name}'s command, env{config}; give "
                "the exact host:port the service dials there (it is rewritten to a proxy link at start)")
    return None


#: Where the local platform's chaosproxy runs, as the dry run says it.
LOCAL_PROXY = "chaosproxy (go_targets/cmd/chaosproxy) on loopback, started with the run"


def describe(plan: LinkPlan, targets: Sequence[TargetSpec], etcd: EtcdShape | None,
             proxy: str = LOCAL_PROXY) -> list[str]:
    """The dry run's lines: the proxy (`proxy`: where the platform runs it), and each link it would route."""
    if not plan:
        return []
    lines = [f"network: {proxy}; links routed through it from the start:"]
    members = member_names(etcd.members) if etcd is not None else []
    by_name = {spec.name: spec for spec in targets}
    for request in plan.requests:
        if request.kind is LinkKind.ETCD_PEER:
            lines.append(f"  etcd-peer: each member advertises a link as its peer URL ({etcd_peer_link('m<i>')} -> "
                         f"its own peer port, for {', '.join(members)}), so its member ID derives from that URL")
        elif request.kind is LinkKind.ETCD_CLIENT:
            lines.append(f"  etcd-client: {request.target}'s {{etcd_endpoints}} are links "
                         f"({etcd_client_link(str(request.target), 'm<i>')} -> each member's client port); the "
                         "suite, its oracles and leader_loss reach etcd directly")
        elif request.kind is LinkKind.LOAD:
            port = f" port {request.port}" if request.port else ""
            lines.append(f"  load: the load's host is a link ({load_link(str(request.target), request.port)} -> "
                         f"{request.target}{port}, {request.protocol})")
        else:
            target, upstream = str(request.target), str(request.upstream)
            spec = by_name.get(target)
            where = ", ".join(occurrences(spec, upstream)) if spec is not None else ""
            name = upstream_link(target, upstream, request.protocol)
            lines.append(f"  upstream: {target}'s {upstream} ({request.protocol}) in {where} is rewritten to a link "
                         f"({name} -> {upstream})")
    return lines
