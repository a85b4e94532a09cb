"""The platform side of links: the run's chaosproxy, started at the first link, and every link created.

A platform that can route links (`LinkRouting`, the local platform) is handed the plan's `LinkPlan`
before etcd and the targets start; it keeps a `RunLinks`, which creates each link when the address
it stands for is first needed (an etcd member's peer URL, a target's {etcd_endpoints}, an upstream
in its command or config, the load's host), records it on the timeline, and stops the proxy when the
platform closes. Injectors find their links here by kind, target and member.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
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
    #: Where the proxy listens for it.
    listen: str
    upstream: str


class RunLinks:
    """The links of one run, through one chaosproxy started by `start_proxy` when the first link is made."""

    def __init__(self, plan: LinkPlan, *, start_proxy: Callable[[], ChaosProxy], timeline: Timeline) -> None:
        self.plan = plan
        self._start_proxy = start_proxy
        self.timeline = timeline
        self._proxy: ChaosProxy | None = None
        self._links: dict[str, RoutedLink] = {}
        self._lock = threading.Lock()

    # -- for the injectors -------------------------------------------------------------------
    @property
    def client(self) -> ProxyClient:
        """The proxy's control API; ProxyNotReady when no link was made (so no proxy runs)."""
        if self._proxy is None:
            raise ProxyNotReady("no link was routed in this run, so no chaosproxy runs")
        return self._proxy.client

    @property
    def proxy_running(self) -> bool:
        return self._proxy is not None and self._proxy.running

    @property
    def proxy_pid(self) -> int | None:
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
                self._proxy = self._start_proxy()
            made = self._proxy.client.create_link(name, upstream, protocol=str(protocol))
            link = RoutedLink(name, kind, target, member, made.protocol, made.listen, made.upstream)
            self._links[name] = link
        self.timeline.record(EventKind.NETWORK_LINK, name, link=str(kind), target=target, member=member,
                             listen=link.listen, upstream=link.upstream, protocol=link.protocol,
                             proxy_pid=self._proxy.pid)
        return link

    def peer_address(self, member: str, peer_port: int) -> str:
        """What etcd member `member` advertises as its peer address: its etcd-peer link."""
        return self.route(etcd_peer_link(member), LinkKind.ETCD_PEER, f"{LOOPBACK}:{peer_port}", member=member).listen

    def etcd_endpoints(self, target: str, endpoints: str, members: Mapping[str, str]) -> str:
        """`endpoints` (comma-separated client URLs) as target `target` gets them: each URL a link to that member
        (`members`: client URL -> member name)."""
        routed = []
        for i, url in enumerate(u for u in endpoints.split(",") if u):
            parts = urlsplit(url)
            member = members.get(url, f"e{i}")
            link = self.route(etcd_client_link(target, member), LinkKind.ETCD_CLIENT, parts.netloc, target=target,
                              member=member)
            routed.append(parts._replace(netloc=link.listen).geturl())
        return ",".join(routed)

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
        """Stop the proxy (closing every link and connection)."""
        proxy, self._proxy = self._proxy, None
        if proxy is not None:
            proxy.stop()


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
