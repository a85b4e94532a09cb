"""network: a fault on a link routed through chaosproxy, measured while it lasts, taken off in revert.

The links and faults a scenario may name are in chaos.injectors.network_params. The links are
routed from the start (the plan asks for them: `link_requests`), so the fault itself only puts a
fault on them through the proxy's API and takes it off again in `revert`. Proof it landed is
measured (chaos.network.proof): the proxy's counters over the fault, and for a delay the added
latency on requests crossing the link (the load's median for link load, probes timed through etcd
links), or else the proxy's own turnaround on the link (upstream links, or too few requests). On
etcd-peer the leadership is watched: a new leader is recorded on the timeline.
"""

from __future__ import annotations

import time
from typing import Any

from chaos.client_budget import DISRUPTIVE, ClientBudget
from chaos.errors import InjectionFailed, RevertFailed, ScenarioError
from chaos.injectors.base import FaultOutcome, InjectionContext, Injector
from chaos.injectors.network_params import (
    AnyLinkFault,
    Direction,
    EtcdClientFault,
    EtcdPeerFault,
    LoadFault,
    NetFault,
    NetworkParams,
    UpstreamFault,
)
from chaos.network import partition, proof
from chaos.network.links import LEADER, LinkKind, LinkRequest, Transport, load_link, upstream_link
from chaos.network.proxy import FaultSpec, LinkStats, ProxyClient, ProxyError, Turnarounds
from chaos.network.routing import LinkRouting, RoutedLink, RunLinks
from chaos.platform.abilities import missing
from chaos.targets import TargetSpec, WorkloadChange, with_workload_change
from chaos.timeline import EventKind, now_ns

#: Time to let requests already in flight pass before the requests timed during a fault count.
SETTLE_S = 0.05
#: Latency probes through an etcd link, before and during a delay.
PROBES = 6
#: How far back the proxy's turnarounds before a delay count (never before the link's faults last changed).
TURNAROUND_BEFORE_S = 30.0


class NetworkFault(Injector[AnyLinkFault]):
    name = "network"
    description = ("a fault on a link routed through chaosproxy (no root): delay, loss, blackhole, reset or bandwidth "
                   "on a target's etcd traffic, etcd's peer traffic, the load, or a target's upstream")
    Params = NetworkParams
    needs_target = False  # etcd-peer is the cluster's; the others check for one below
    client_budget = DISRUPTIVE  # clients feel a network fault by design; `recovery` bounds what follows

    def __init__(self, params: AnyLinkFault, target: str | None = None, *,
                 steady_state: ClientBudget | None = None) -> None:
        if isinstance(params, EtcdPeerFault) and target is not None:
            raise ScenarioError("injector network: link etcd-peer is the etcd cluster's own traffic: remove `target`")
        if not isinstance(params, EtcdPeerFault) and not target:
            raise ScenarioError(f"injector network: link {params.link} is a target's: give the fault a `target`")
        super().__init__(params, target, steady_state=steady_state)
        self._applied: list[tuple[str, str]] = []  # (link, fault kind): a partition puts blackholes on client links
        self._client: ProxyClient | None = None
        self._event: dict[str, Any] = {}
        self._figures: dict[str, Any] = {}

    # -- plan time ---------------------------------------------------------------------------
    def link_requests(self) -> tuple[LinkRequest, ...]:
        p = self.params
        if isinstance(p, EtcdPeerFault):  # a partition's targets: their etcd-client links, routed from the start
            targets = partition.targets_named(p.groups) if self._partition and p.groups else []
            return (LinkRequest(LinkKind.ETCD_PEER), *(LinkRequest(LinkKind.ETCD_CLIENT, t) for t in targets))
        if isinstance(p, EtcdClientFault):
            return (LinkRequest(LinkKind.ETCD_CLIENT, self.target_name),)
        if isinstance(p, LoadFault):
            return (LinkRequest(LinkKind.LOAD, self.target_name, port=p.port),)
        return (LinkRequest(LinkKind.UPSTREAM, self.target_name, upstream=p.upstream, protocol=p.protocol),)

    def link_member(self) -> str | None:
        if self._partition:  # every member's peer link
            return None
        return self.params.member if isinstance(self.params, EtcdClientFault | EtcdPeerFault) else None

    @property
    def _partition(self) -> bool:
        return self.params.fault is NetFault.PARTITION

    def transport_problem(self, transport: Transport) -> str | None:
        return self.params.transport_problem(transport)

    def shape_target(self, spec: TargetSpec) -> TargetSpec:
        """A deployed service's load link is a chaosproxy pod of the run's in front of its Service: the run must be
        allowed to create and delete it (checked before anything changes)."""
        return with_workload_change(spec, WorkloadChange.FRONT_PROXY) if isinstance(self.params, LoadFault) else spec

    def expected_duration_s(self) -> float:
        return self.params.duration_s + 20.0  # + finding the leader, latency probes, the load's results arriving

    # -- run time ----------------------------------------------------------------------------
    def available(self, ctx: InjectionContext) -> str | None:
        why = missing(ctx.platform, LinkRouting)
        if why is not None:
            return why
        if (self.link_member() is not None or isinstance(self.params, EtcdPeerFault)) and ctx.etcd is None:
            return "the scenario has no etcd cluster the suite starts"
        return None

    def inject(self, ctx: InjectionContext) -> FaultOutcome:
        links = self._run_links(ctx)
        p = self.params
        kind = LinkKind(p.link)
        member = self._member(ctx)
        routed = links.routed(kind, target=self.target_name, member=member)
        if isinstance(p, LoadFault):  # one link of the target's: the one of that port
            routed = [link for link in routed if link.name == load_link(str(self.target_name), p.port)]
        elif isinstance(p, UpstreamFault):  # or of that address
            routed = [link for link in routed
                      if link.name == upstream_link(str(self.target_name), p.upstream, p.protocol)]
        if not routed:
            raise InjectionFailed(f"no {kind} link of {self.target_name or 'etcd'} was routed in this run")
        names = [link.name for link in routed]
        client = self._client = links.client_for(names)
        old_leader = ctx.etcd.leader() if kind is LinkKind.ETCD_PEER and ctx.etcd is not None else None
        before_ms = self._latency_before(ctx, routed) if p.fault is NetFault.DELAY else None
        self._event = {"link": p.link, "links": names, "target": self.target_name, "member": member}
        specs = {name: p.spec() for name in names}
        groups: list[list[str]] = []
        kept: list[str] = []  # partition: the targets' client links left open, read for the figures only
        if self._partition:
            groups, specs, kept = self._partition_specs(ctx, links, routed, old_leader)
            names = sorted(specs)
            self._event.update(links=names, groups=groups)
        if old_leader is not None and p.fault is NetFault.BLACKHOLE and old_leader[0].name == member:
            ctx.timeline.record(EventKind.ETCD_LEADER_LOST, "etcd", operation="network-blackhole-leader",
                                leader=member)
        try:
            turn_before = self._turnarounds_before(client, names) if p.fault is NetFault.DELAY else None
            before = self._each_stats(client, names + kept)
            applied = [self._apply(client, name, specs[name]) for name in names]
            under = self._each_stats(client, names + kept)
        except ProxyError as e:
            raise InjectionFailed(f"chaosproxy: {e}") from e
        applied_ns = max(applied)
        ctx.timeline.record(EventKind.NETWORK_FAULT_APPLIED, self.name, fault=p.spec().body(), applied_ns=applied_ns,
                            **self._event)
        end = time.monotonic() + p.duration_s
        during_ms = self._latency_during(ctx, routed, applied_ns, end) if p.fault is NetFault.DELAY else None
        new_leader = self._watch_leader(ctx, old_leader, applied_ns, end) if old_leader is not None else None
        ctx.sleep_until(end)
        try:
            end_stats = self._each_stats(client, names + kept)
            each = {name: proof.under_fault(before[name], under[name], end_stats[name]) for name in names + kept}
            delta = sum((each[name] for name in names), LinkStats())
            turn = None if turn_before is None else \
                (turn_before, self._turnarounds(client, names, applied_ns + int(SETTLE_S * 1e9)))
        except ProxyError as e:
            raise InjectionFailed(f"chaosproxy: {e}") from e
        seconds = (now_ns() - applied_ns) / 1e9
        found = self._partition_proof(each, specs, kept, groups) if self._partition else \
            self._judge(routed, delta, before_ms, during_ms, seconds, turn)
        figures = {"link": p.link, "links": names, "fault": p.fault.value, **found.figures}
        if new_leader is not None:
            figures.update(new_leader)
        self._figures = figures
        where = f"{p.link} of {self.target_name}" if self.target_name else f"etcd-peer of {member or 'every member'}"
        summary = f"{p.fault} on {where} ({len(names)} link{'s' if len(names) > 1 else ''}): {found.summary}"
        if new_leader is not None and "new_leader" in new_leader:
            summary += f"; {new_leader['new_leader']} leads after {new_leader['new_leader_after_ms']:.0f} ms"
        if new_leader is not None and "old_leader_stepped_down_after_ms" in new_leader:
            summary += (f"; {new_leader['old_leader']} stepped down after "
                        f"{new_leader['old_leader_stepped_down_after_ms']:.0f} ms")
        return FaultOutcome(found.landed, summary, figures)

    def revert(self, ctx: InjectionContext) -> None:
        """Take the fault off every link it was put on; on etcd-peer, wait until a member leads again."""
        applied, self._applied = self._applied, []
        if not applied or self._client is None:
            return
        removed: list[Any] = []
        try:
            for name, kind in applied:  # its own kind only: another fault may hold the link too
                removed += self._client.clear_fault(name, kind)
        except ProxyError as e:
            links = ctx.platform.network_links if isinstance(ctx.platform, LinkRouting) else None
            if links is not None and not links.proxy_running(applied[0][0]):  # the proxy is gone, its faults with it
                removed.append({"note": f"chaosproxy exited: {e}"})
            else:
                raise RevertFailed(f"network fault still on {', '.join(name for name, _ in applied)}: {e}; stop the "
                                   "run (its chaosproxy, and every fault on it, goes with it)") from e
        finally:
            details = {**self._event, **self._figures, "removed": removed, "removed_ns": now_ns()}
            ctx.timeline.record(EventKind.NETWORK_FAULT_REMOVED, self.name, **details)
        if isinstance(self.params, EtcdPeerFault) and ctx.etcd is not None:
            ctx.etcd.wait_for_leader(timeout_s=10.0)

    # -- helpers -----------------------------------------------------------------------------
    def _run_links(self, ctx: InjectionContext) -> RunLinks:
        links = ctx.platform.network_links if isinstance(ctx.platform, LinkRouting) else None
        if links is None:
            raise InjectionFailed("no link was routed in this run: the plan routes the links its network faults "
                                  "name (build the run with chaos.plan.build_plan)")
        return links

    def _member(self, ctx: InjectionContext) -> str | None:
        """The member named, with `leader` resolved to whoever leads now, and `m<i>` to the i-th member as the
        platform names it (on Kubernetes, the StatefulSet's pod `etcd-<i>`)."""
        member = self.link_member()
        if member is not None and member != LEADER and ctx.etcd is not None:
            index = int(member[1:]) if member[:1] == "m" and member[1:].isdigit() else None
            if index is not None and index < len(ctx.etcd.members):
                return str(ctx.etcd.members[index].name)
        if member != LEADER:
            return member
        assert ctx.etcd is not None  # available() said so
        found = ctx.etcd.leader()
        if found is None:
            raise InjectionFailed("no etcd member leads right now, so there is no leader's link to fault")
        return str(found[0].name)

    def _apply(self, client: ProxyClient, name: str, spec: FaultSpec) -> int:
        applied = client.set_fault(name, spec)
        self._applied.append((name, spec.kind))
        return applied

    def _partition_specs(self, ctx: InjectionContext, links: RunLinks, routed: list[RoutedLink],
                         leader: Any) -> tuple[list[list[str]], dict[str, FaultSpec], list[str]]:
        """The groups (members, then targets) and each link's fault: a peer link's partition (the PIDs of the members
        outside its group), a blackhole both ways on a target's client link to a member outside its group; and the
        targets' client links left open (to their own group's members)."""
        assert isinstance(self.params, EtcdPeerFault) and self.params.groups is not None and ctx.etcd is not None
        members = [m.name for m in ctx.etcd.members]
        clients = links.routed(LinkKind.ETCD_CLIENT)
        try:
            groups = partition.resolve_groups(self.params.groups, members, leader[0].name if leader else None,
                                              sorted({str(link.target) for link in clients}))
        except partition.GroupsError as e:
            raise InjectionFailed(f"partition: {e}") from e
        pids = partition.member_pids(ctx.etcd.members)
        if set(pids) != set(members):
            raise InjectionFailed(f"partition: the etcd members' processes are not all known here (PIDs of "
                                  f"{', '.join(sorted(pids)) or 'none'} of {', '.join(members)}): a partition "
                                  "needs the etcd the suite starts on the local platform, every member running")
        by_member = {link.member: link.name for link in routed}
        specs = {by_member[member]: self.params.partition_spec(sources)
                 for member, sources in partition.cut_sources(groups, pids).items()
                 if sources and member in by_member}
        targets = partition.group_targets(self.params.groups)
        cut = partition.cut_clients(groups, targets)
        blackhole = FaultSpec(NetFault.BLACKHOLE.value, Direction.BOTH.value)
        specs.update({link.name: blackhole for link in clients if link.member in cut.get(str(link.target), ())})
        kept = sorted(link.name for link in clients if link.target in cut and link.name not in specs)
        if cut:
            self._event["clients_cut"] = cut
        return partition.shown(groups, targets), specs, kept

    @staticmethod
    def _partition_proof(each: dict[str, LinkStats], specs: dict[str, FaultSpec], kept: list[str],
                         groups: list[list[str]]) -> proof.Proof:
        """The partition's proof from each link's counts: the peer links' summed, the client links' one by one."""
        peers = [name for name, spec in specs.items() if spec.kind == NetFault.PARTITION.value]
        return partition.proof(sum((each[name] for name in peers), LinkStats()), groups,
                               clients={name: each[name] for name in specs if name not in peers},
                               kept={name: each[name] for name in kept}, peers=bool(peers))

    @staticmethod
    def _each_stats(client: ProxyClient, names: list[str]) -> dict[str, LinkStats]:
        """Each link's counters, by name (summed where one figure covers all the fault's links)."""
        return {name: client.stats(name) for name in names}

    @staticmethod
    def _turnarounds(client: ProxyClient, names: list[str], since_ns: int) -> Turnarounds:
        """The proxy's turnarounds on the links from `since_ns` to now."""
        return sum((client.turnarounds(name, since_ns) for name in names), Turnarounds())

    @staticmethod
    def _turnarounds_before(client: ProxyClient, names: list[str]) -> Turnarounds:
        """The proxy's turnarounds just before the fault: the last TURNAROUND_BEFORE_S, since each link's faults
        last changed (an earlier fault's delay is not this one's baseline)."""
        now = now_ns()
        window_start = now - int(TURNAROUND_BEFORE_S * 1e9)
        return sum((client.turnarounds(name, max(window_start, client.stats(name).faults_changed_at_unix_ns), now)
                    for name in names), Turnarounds())

    def _latency_before(self, ctx: InjectionContext, routed: list[RoutedLink]) -> float | None:
        """The median round trip crossing the link before the delay: the load's, or timed probes (etcd links)."""
        if isinstance(self.params, LoadFault):
            start = now_ns()
            window = int(min(10.0, max(2.0, self.params.duration_s)) * 1e9)
            return proof.load_p50(ctx.timeline, start - window, start)
        if isinstance(self.params, EtcdClientFault | EtcdPeerFault):
            return proof.median(proof.probe(proof.version_urls(routed), PROBES, timeout_s=2.0))
        return None

    def _latency_during(self, ctx: InjectionContext, routed: list[RoutedLink], applied_ns: int,
                        end: float) -> float | None:
        if isinstance(self.params, EtcdClientFault | EtcdPeerFault):
            ctx.sleep_until(time.monotonic() + SETTLE_S)
            expected_s = self._expected_added_ms() / 1000
            room = max(1, min(PROBES, int((end - time.monotonic()) / (expected_s + 0.01))))
            return proof.median(proof.probe(proof.version_urls(routed), room, timeout_s=2 * expected_s + 2.0))
        if isinstance(self.params, LoadFault):  # results stream in every 25 ms: those of the fault are in at its end
            ctx.sleep_until(end)
            return proof.load_p50(ctx.timeline, applied_ns + int(SETTLE_S * 1e9), now_ns())
        return None

    def _judge_delay(self, before_ms: float | None, during_ms: float | None,
                     turn: tuple[Turnarounds, Turnarounds] | None) -> proof.Proof:
        """From the requests crossing the link (the load's, or probes), or where there are none or too few (an
        upstream link: the service's own protocol), from the proxy's turnarounds."""
        p = self.params
        latency, direction = p.latency_ms or 0.0, p.direction.value
        requests = not isinstance(p, UpstreamFault) and before_ms is not None and during_ms is not None
        if requests or turn is None:
            via = "the load's requests" if isinstance(p, LoadFault) else "GET /version probes through the link"
            return proof.delay(latency, direction, before_ms, during_ms, via)
        return proof.delay_by_turnaround(latency, direction, *turn)

    def _expected_added_ms(self) -> float:
        return (self.params.latency_ms or 0.0) * proof.round_trip_factor(self.params.direction.value)

    def _watch_leader(self, ctx: InjectionContext, old: Any, applied_ns: int, end: float) -> dict[str, Any] | None:
        """Until the fault ends: a member leading in a later term than before, recorded on the timeline; under a
        partition, also the moment the old leader says it no longer leads (it steps down when cut off from a
        majority)."""
        etcd = ctx.etcd
        assert etcd is not None
        old_member, old_status = old
        found: dict[str, Any] = {}
        elected, step_down = False, self._partition
        while time.monotonic() < end and not ctx.stop.is_set() and (not elected or step_down):
            if not elected and (leads := etcd.leader(newer_than=old_status.raft_term)) is not None:
                elected = True
                seen = now_ns()
                etcd.record_leader(leads[0].name, old_member.name, f"network-{self.params.fault}", leads[1].raft_term,
                                   seen)
                found.update(old_leader=old_member.name, new_leader=leads[0].name,
                             new_leader_after_ms=round((seen - applied_ns) / 1e6, 1),
                             term=[old_status.raft_term, leads[1].raft_term])
            if step_down and (status := etcd.status(old_member)) is not None and not status.is_leader:
                seen = now_ns()
                ctx.timeline.record(EventKind.ETCD_LEADER_LOST, "etcd", t_ns=seen, leader=old_member.name,
                                    operation="network-partition-step-down", term=status.raft_term)
                found.update(old_leader=old_member.name,
                             old_leader_stepped_down_after_ms=round((seen - applied_ns) / 1e6, 1))
                step_down = False
            time.sleep(0.05)
        return found or None

    def _judge(self, routed: list[RoutedLink], delta: LinkStats, before_ms: float | None, during_ms: float | None,
               seconds: float, turn: tuple[Turnarounds, Turnarounds] | None = None) -> proof.Proof:
        p = self.params
        protocol = routed[0].protocol
        direction = p.direction.value
        idle = proof.no_traffic(delta, protocol, direction, [link.name for link in routed])
        if p.fault is NetFault.DELAY:
            found = self._judge_delay(before_ms, during_ms, turn)
            if not found.landed and idle is not None:
                return idle
            return proof.Proof(found.landed, found.summary, {**found.figures, "counts": proof.counts(delta)})
        if idle is not None:
            return idle
        if p.fault is NetFault.BLACKHOLE:
            return proof.blackhole(delta, protocol, direction)
        if p.fault is NetFault.LOSS:
            return proof.loss(delta, protocol, direction, p.probability or 0.0)
        if p.fault is NetFault.RESET:
            return proof.reset(delta)
        return proof.bandwidth(delta, protocol, direction, p.bytes_per_s or 1, seconds)
