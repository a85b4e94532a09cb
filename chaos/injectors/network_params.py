"""The network injector's params: one model per link (`link`), the fault's own fields checked together.

Links (chaos.network): `etcd-client` (a target's connections to each etcd member the suite starts;
`member` narrows it to one, or to `leader`), `etcd-peer` (traffic *into* a member's peer port from
the other members: the raft messages it streams to them and the messages they post to it; `member`
is a name or `leader`, whoever leads when the fault starts), `load` (the load's traffic to a target)
and `upstream` (a host:port the target's command, env or config names, TCP or UDP; a load link is UDP when the
load is DNS over UDP). Faults, per
direction (`upstream`: toward what the link leads to, i.e. requests; `downstream`: back; `both`):
delay (+ jitter), loss, blackhole, reset, bandwidth; on etcd-peer, partition: groups of members,
and of targets (by their etcd-client links), cut off from each other (chaos.network.partition).

Kept apart from the injector (chaos.injectors.network) so each stays one concept: what a scenario may
write, and what the fault does with it.
"""

from __future__ import annotations

import enum
from typing import Annotated, Literal

from pydantic import Field, model_validator

from chaos.injectors.base import InjectorParams, by_mode
from chaos.network.links import ADDRESS, LEADER, Transport
from chaos.network.partition import MEMBER_NAME, OTHERS
from chaos.network.proxy import FaultSpec
from chaos.targets import TargetSpec


class NetFault(enum.StrEnum):
    DELAY = "delay"
    LOSS = "loss"
    BLACKHOLE = "blackhole"
    RESET = "reset"
    BANDWIDTH = "bandwidth"
    PARTITION = "partition"


class Direction(enum.StrEnum):
    UPSTREAM = "upstream"
    DOWNSTREAM = "downstream"
    BOTH = "both"


#: A target's name: TargetSpec.name's own pattern, read from the model so the two cannot drift apart.
TARGET_NAME: str = next(m.pattern for m in TargetSpec.model_fields["name"].metadata if getattr(m, "pattern", None))
#: A name in a partition's group: a member, `leader`, `others`, or a target of the scenario (its etcd-client links).
GROUP_NAME = rf"^({MEMBER_NAME}|{LEADER}|{OTHERS})$|{TARGET_NAME}"

#: The fields each fault takes (besides direction and duration_s).
FAULT_FIELDS: dict[NetFault, tuple[str, ...]] = {
    NetFault.DELAY: ("latency_ms", "jitter_ms"), NetFault.LOSS: ("probability",), NetFault.BLACKHOLE: (),
    NetFault.RESET: (), NetFault.BANDWIDTH: ("bytes_per_s",), NetFault.PARTITION: ("groups",),
}


class _LinkFault(InjectorParams):
    fault: NetFault = Field(description="delay (latency_ms, jitter_ms), loss (probability: of new TCP connections, "
                                        "or of UDP datagrams), blackhole (bytes discarded, never answered), reset "
                                        "(every connection closed with an RST), bandwidth (bytes_per_s), partition "
                                        "(groups of members and targets; link etcd-peer)")
    direction: Direction = Field(Direction.BOTH, description="upstream: toward what the link leads to (requests); "
                                                             "downstream: back (responses); both: each way (a delay "
                                                             "on both adds its latency twice to a round trip)")
    latency_ms: float | None = Field(None, ge=0, le=600_000, description="delay: added to every chunk (datagram)")
    jitter_ms: float | None = Field(None, ge=0, le=600_000, description="delay: uniform in +-jitter_ms, never "
                                                                        "reordering bytes")
    probability: float | None = Field(None, gt=0, le=1, description="loss: share of new TCP connections refused "
                                                                    "with an RST, or of UDP datagrams dropped")
    bytes_per_s: int | None = Field(None, ge=1, description="bandwidth: the rate each faulted direction is paced to")
    groups: tuple[tuple[Annotated[str, Field(pattern=GROUP_NAME)], ...], ...] | None = Field(
        None, min_length=2, description="partition: the etcd members, and targets that are their clients, in groups "
                                        "cut off from each other, both ways, e.g. [[leader], [others]] or [[leader, "
                                        "kvd], [others]]: member names (m0, m1, ...), `leader` (whoever leads when it "
                                        "starts), `others` (every member no group names), target names (a target's "
                                        "etcd-client links to the members outside its group are blackholed both "
                                        "ways; a target no group names is untouched)")
    duration_s: float = Field(5.0, gt=0, le=3600, description="How long the fault stays on the link")

    def transport(self) -> Transport | None:
        """What the link carries, when the params say (None: a load link's follows the load, known once planned)."""
        return Transport.TCP

    def transport_problem(self, transport: Transport) -> str | None:
        """Why this fault cannot act on a link carrying `transport`, else None."""
        tcp = transport is Transport.TCP
        if self.fault is NetFault.RESET and not tcp:
            return "fault reset closes TCP connections; a UDP link has none: use loss or blackhole"
        if self.fault is NetFault.PARTITION and self.direction is not Direction.BOTH:
            return "fault partition cuts both ways: direction must be both"
        if self.fault in (NetFault.RESET, NetFault.LOSS) and tcp and self.direction is not Direction.BOTH:
            return f"fault {self.fault} on TCP acts on whole connections, both ways: direction must be both"
        return None

    @model_validator(mode="after")
    def _fields_of_the_fault(self) -> _LinkFault:
        takes = FAULT_FIELDS[self.fault]
        for name in ("latency_ms", "jitter_ms", "probability", "bytes_per_s", "groups"):
            if getattr(self, name) is not None and name not in takes:
                owner = next(kind for kind, fields in FAULT_FIELDS.items() if name in fields)
                raise ValueError(f"{name}: fault {self.fault} does not take {name} (it is for fault {owner}); remove "
                                 "it or change fault")
        if self.fault is NetFault.DELAY and not (self.latency_ms or self.jitter_ms):
            raise ValueError("fault delay needs latency_ms (or jitter_ms) above 0")
        if self.fault is NetFault.LOSS and self.probability is None:
            raise ValueError("fault loss needs probability (0 < p <= 1)")
        if self.fault is NetFault.BANDWIDTH and self.bytes_per_s is None:
            raise ValueError("fault bandwidth needs bytes_per_s")
        if self.fault is NetFault.PARTITION:
            self._check_partition()
        transport = self.transport()
        problem = None if transport is None else self.transport_problem(transport)
        if problem is not None:
            raise ValueError(problem)
        return self

    def _check_partition(self) -> None:
        raise ValueError("fault partition cuts etcd members apart by process: use it on link etcd-peer")

    def spec(self) -> FaultSpec:
        return FaultSpec(self.fault.value, self.direction.value, latency_ms=self.latency_ms, jitter_ms=self.jitter_ms,
                         probability=self.probability, bytes_per_s=self.bytes_per_s)

    def partition_spec(self, sources: list[int]) -> FaultSpec:
        """The partition as one peer link takes it: cut the connections of these processes."""
        return FaultSpec(NetFault.PARTITION.value, Direction.BOTH.value, sources=tuple(sources))


class EtcdClientFault(_LinkFault):
    link: Literal["etcd-client"] = Field("etcd-client", description="The fault's target's connections to etcd")
    member: str | None = Field(None, description="Only its link to this member (m0, m1, ...), or `leader` (whoever "
                                                 "leads when the fault starts); default: to every member")


class EtcdPeerFault(_LinkFault):
    link: Literal["etcd-peer"] = Field("etcd-peer", description="Traffic into a member's peer port (no `target`)")
    member: str = Field(LEADER, description="The member (m0, m1, ...), or `leader`: whoever leads when the fault "
                                            "starts (a blackhole then mutes it: the others elect a new leader); "
                                            "a partition takes `groups` instead")

    def _check_partition(self) -> None:
        if "member" in self.model_fields_set:
            raise ValueError("fault partition acts on every member's peer link: give `groups`, not `member`")
        if self.groups is None:
            raise ValueError("fault partition needs groups, e.g. [[leader], [others]]")
        if any(not group for group in self.groups):
            raise ValueError("groups: each group needs at least one member or target")
        names = [name for group in self.groups for name in group]
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:
            raise ValueError(f"groups: {', '.join(twice)} named twice: a member or a target is in one group")


class LoadFault(_LinkFault):
    link: Literal["load"] = Field("load", description="The load's traffic to the fault's target: TCP, or UDP when the "
                                                      "load is the dns user over UDP")
    port: str | None = Field(None, description="The target's named port the load runs on (as the load's `port`)")

    def transport(self) -> Transport | None:
        return None  # the load's: checked when the run is planned (chaos.network.links.load_transport)


class UpstreamFault(_LinkFault):
    link: Literal["upstream"] = Field("upstream", description="The fault's target's traffic to an address it names")
    upstream: str = Field(pattern=ADDRESS, description="host:port exactly as the target's command, env or config "
                                                       "names it (rewritten to a proxy link at start)")
    protocol: Transport = Field(Transport.TCP, description="tcp or udp")

    def transport(self) -> Transport:
        return self.protocol


NetworkParams = Annotated[EtcdClientFault | EtcdPeerFault | LoadFault | UpstreamFault, *by_mode("link", "load")]
AnyLinkFault = EtcdClientFault | EtcdPeerFault | LoadFault | UpstreamFault
