"""The platform side of links: the run's chaosproxies, and every link created on them.

A platform that can route links (`LinkRouting`) is handed the plan's `LinkPlan` before etcd and the
targets start, and keeps a `RunLinks`. On the local platform one chaosproxy serves the run: it is
started at the first link, and each link is created when the address it stands for is first needed
(an etcd member's peer URL, a target's {etcd_endpoints}, an upstream in its command or config, the
load's host). On Kubernetes each target's pod has a chaosproxy sidecar started with its links; the
platform `adopt`s them once the pod runs. Either way every link is recorded on the timeline, its
proxy answers the injectors (`client_for`), and every proxy is stopped when the platform closes.
Injectors find their links here by kind, target and member.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol, runtime_checkable
from urllib.parse import urlsplit

from chaos.network.links import (
    LinkKind,
    LinkPlan,
    Transport,
    etcd_client_link,
    etcd_peer_link,
    load_link,
    rewrite,
    route_endpoints,
    upstream_link,
)
from chaos.network.proxy import ChaosProxy, ProxyClient, ProxyNotReady
from chaos.ports import LOOPBACK
from chaos.timeline import EventKind, Timeline


@dataclass(frozen=True, slots=True)
class RoutedLink:
    """A link as the run created it."""

    name: str
    kind: LinkKind
    #: The target whose link it is (None: etcd-peer).
    target: str | None
    #: The etcd member it leads to (etcd links), else None.
    member: str | None
    protocol: str
    #: Where the proxy listens for it (on Kubernetes: inside the target's pod).
    listen: str
    upstream: str
    #: Where this host reaches the link to time requests through it: `listen` on the local platform; for a
    #: sidecar's link (listening in the pod), a port-forward to it, or None where there is none.
    probe: str | None = None


class LinkProxy(Protocol):
    """A chaosproxy holding links: the run's own process (`ChaosProxy`), or a pod's sidecar reached by a tunnel."""

    @property
    def client(self) -> ProxyClient: ...

    @property
    def running(self) -> bool: ...

    @property
    def pid(self) -> int | None: ...

    def stop(self) -> None: ...


class RunLinks:
    """The links of one run: made on one chaosproxy started by `start_proxy` when the first link is made (the local
    platform), or adopted from the sidecars that hold them (Kubernetes)."""

    def __init__(self, plan: LinkPlan, *, timeline: Timeline,
                 start_proxy: Callable[[], ChaosProxy] | None = None) -> None:
        self.plan = plan
        self._start_proxy = start_proxy
        self.timeline = timeline
        self._proxy: ChaosProxy | None = None
        self._links: dict[str, RoutedLink] = {}
        self._holders: dict[str, LinkProxy] = {}  # link name -> the proxy it is on
        self._lock = threading.Lock()

    # -- for the injectors -------------------------------------------------------------------
    def client_for(self, names: Iterable[str]) -> ProxyClient:
        """The control API of the proxy holding every link in `names`; ProxyNotReady when none holds them."""
        with self._lock:
            holders = {id(self._holders[n]): self._holders[n] for n in names if n in self._holders}
        if len(holders) != 1:
            held = "no proxy holds them" if not holders else "they are on different proxies"
            raise ProxyNotReady(f"links {', '.join(names)}: {held}; a fault acts on the links of one proxy")
        return next(iter(holders.values())).client

    def proxy_running(self, name: str) -> bool:
        """Whether the proxy holding link `name` still runs (its faults are gone with it when not)."""
        with self._lock:
            holder = self._holders.get(name)
        return holder is not None and holder.running

    @property
    def proxy_pid(self) -> int | None:
        """The PID of the run's own chaosproxy (None: none runs here, e.g. sidecars only)."""
        return self._proxy.pid if self._proxy is not None else None

    def routed(self, kind: LinkKind, *, target: str | None = None, member: str | None = None) -> list[RoutedLink]:
        """The links of `kind` (of `target`, to `member`, when given), by name."""
        with self._lock:
            links = list(self._links.values())
        return sorted((link for link in links if link.kind is kind and (target is None or link.target == target)
                       and (member is None or link.member == member)), key=lambda link: link.name)

    # -- for the platform --------------------------------------------------------------------
    def route(self, name: str, kind: LinkKind, upstream: str, *, target: str | None = None, member: str | None = None,
              protocol: str = Transport.TCP) -> RoutedLink:
        """Link `name` to `upstream` (created once; the same link when asked again)."""
        with self._lock:
            if name in self._links:
                return self._links[name]
            if self._proxy is None:
                if self._start_proxy is None:
                    raise ProxyNotReady(f"link {name}: this platform makes no links of its own (its proxies are "
                                        "sidecars started with their links)")
                self._proxy = self._start_proxy()
            made = self._proxy.client.create_link(name, upstream, protocol=str(protocol))
            link = RoutedLink(name, kind, target, member, made.protocol, made.listen, made.upstream,
                              probe=made.listen)
            self._links[name] = link
            self._holders[name] = self._proxy
        self._record(link, self._proxy.pid)
        return link

    def adopt(self, proxy: LinkProxy, links: Iterable[RoutedLink]) -> None:
        """Take `links`, made by `proxy` itself (a sidecar started with them), as this run's; a restarted pod's
        proxy replaces the old one for the same links."""
        links = list(links)
        with self._lock:
            for link in links:
                self._links[link.name] = link
                self._holders[link.name] = proxy
        for link in links:
            self._record(link, proxy.pid)

    def _record(self, link: RoutedLink, pid: int | None) -> None:
        self.timeline.record(EventKind.NETWORK_LINK, link.name, link=str(link.kind), target=link.target,
                             member=link.member, listen=link.listen, upstream=link.upstream, protocol=link.protocol,
                             proxy_pid=pid)

    def peer_address(self, member: str, peer_port: int) -> str:
        """What etcd member `member` advertises as its peer address: its etcd-peer link."""
        return self.route(etcd_peer_link(member), LinkKind.ETCD_PEER, f"{LOOPBACK}:{peer_port}", member=member).listen

    def etcd_endpoints(self, target: str, endpoints: str, members: Mapping[str, str]) -> str:
        """`endpoints` (comma-separated client URLs) as target `target` gets them: each URL a link to that member
        (`members`: client URL -> member name)."""
        return route_endpoints(
            endpoints, lambda i, url: members.get(url, f"e{i}"),
            lambda member, upstream: self.route(etcd_client_link(target, member), LinkKind.ETCD_CLIENT, upstream,
                                                target=target, member=member).listen)

    def rewrite_upstreams(self, target: str, text: str) -> str:
        """`text` (an argv word, an env value, the config) with each of the target's upstreams a link's address."""
        for request in self.plan.upstreams(target):
            upstream = str(request.upstream)
            link = self.route(upstream_link(target, upstream, request.protocol), LinkKind.UPSTREAM, upstream,
                              target=target, protocol=request.protocol)
            text = rewrite(text, upstream, link.listen)
        return text

    def load_url(self, target: str, port: str | None, url: str) -> str:
        """The URL the load reaches target `target` at: `url` (the target's own) through its load link (UDP when the
        load is DNS over UDP: the same host:port, the link listening on a UDP port)."""
        parts = urlsplit(url)
        link = self.route(load_link(target, port), LinkKind.LOAD, parts.netloc, target=target,
                          protocol=self.plan.load_protocol(target, port))
        return parts._replace(netloc=link.listen).geturl()

    def close(self) -> None:
        """Stop every proxy (the run's own closes every link and connection; a sidecar's tunnel is closed)."""
        with self._lock:
            proxies = list({id(p): p for p in self._holders.values()}.values())
            self._proxy = None
            self._holders.clear()
        errors = []
        for proxy in proxies:
            try:
                proxy.stop()
            except Exception as e:  # every proxy is stopped, whatever one of them says
                errors.append(e)
        if errors:
            raise errors[0]


@runtime_checkable
class LinkRouting(Protocol):
    """Can route a run's links through chaosproxy, a userspace proxy, and put network faults on them."""

    def route_links(self, plan: LinkPlan) -> None:
        """Route `plan`'s links as etcd, the targets and the load start (called before any of them starts)."""
        ...

    def routed_load_url(self, target: str, port: str | None) -> str:
        """The URL the load reaches target `target` (its named `port`) at, through its load link."""
        ...

    @property
    def network_links(self) -> RunLinks | None:
        """The run's links (None: no link was planned)."""
        ...
