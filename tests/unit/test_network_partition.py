"""A partition of the etcd members: groups resolved to members, the PIDs each peer link cuts, and the proof."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from chaos.errors import ScenarioError
from chaos.injectors import create
from chaos.injectors.network import NetworkFault
from chaos.injectors.network_params import EtcdPeerFault
from chaos.network import partition
from chaos.network.proxy import LinkStats

MEMBERS = ["m0", "m1", "m2"]


def test_groups_name_members_the_leader_and_the_others() -> None:
    assert partition.resolve_groups([["leader"], ["others"]], MEMBERS, "m1") == [["m1"], ["m0", "m2"]]
    assert partition.resolve_groups([["m0", "leader"], ["m2"]], MEMBERS, "m1") == [["m0", "m1"], ["m2"]]
    five = [f"m{i}" for i in range(5)]
    assert partition.resolve_groups([["others"], ["m4", "m3"]], five, None) == [["m0", "m1", "m2"], ["m4", "m3"]]


@pytest.mark.parametrize(("groups", "leader", "message"), [
    ([["leader"], ["m1"]], "m1", "member m1 is in two groups (`leader` is m1)"),
    ([["m7"], ["others"]], "m0", "'m7' is not one of the etcd members (m0, m1, m2), `leader` or `others`"),
    ([["leader"], ["others"]], None, "no etcd member leads right now"),
    ([["m0", "m1", "m2"], ["others"]], "m0", "a group has no member"),
    ([["m0"], ["m1"]], "m0", "member(s) m2 in no group: add them, or `others` to a group"),
])
def test_groups_that_do_not_partition_the_members_are_refused(groups: list[list[str]], leader: str | None,
                                                              message: str) -> None:
    with pytest.raises(partition.GroupsError) as caught:
        partition.resolve_groups(groups, MEMBERS, leader)
    assert message in str(caught.value)


def test_each_peer_link_cuts_the_members_outside_its_group() -> None:
    pids = {"m0": 100, "m1": 101, "m2": 102}
    assert partition.cut_sources([["m1"], ["m0", "m2"]], pids) == {"m1": [100, 102], "m0": [101], "m2": [101]}
    assert partition.cut_sources([["m0"], ["m1"], ["m2"]], pids) == {"m0": [101, 102], "m1": [100, 102],
                                                                      "m2": [100, 101]}


def test_member_pids_come_from_members_that_are_processes_here() -> None:
    @dataclass
    class Local:
        name: str
        pid: int | None

    @dataclass
    class Remote:  # a pod: no process on this host
        name: str

    assert partition.member_pids([Local("m0", 7), Local("m1", None), Remote("m2")]) == {"m0": 7}


def test_the_proof_needs_connections_traced_and_bytes_discarded() -> None:
    groups = [["m1"], ["m0", "m2"]]
    found = partition.proof(LinkStats(connections_cut=4, bytes_discarded_downstream=900, bytes_discarded_upstream=100),
                            groups)
    assert found.landed and found.summary == "4 connection(s) between m1 | m0, m2 cut, 1000 bytes discarded"
    assert found.figures["groups"] == groups and found.figures["connections_cut"] == 4
    untraced = partition.proof(LinkStats(bytes_downstream=5000), groups)
    assert not untraced.landed and "could not trace them" in untraced.summary
    quiet = partition.proof(LinkStats(connections_cut=2), groups)
    assert not quiet.landed and "nothing crossed them" in quiet.summary


@pytest.mark.parametrize(("params", "message"), [
    ({"fault": "partition"}, "fault partition needs groups, e.g. [[leader], [others]]"),
    ({"fault": "partition", "groups": [["m0"], ["m0"]]}, "groups: m0 named twice"),
    ({"fault": "partition", "groups": [["m0"]]}, "groups: Tuple should have at least 2 items"),
    ({"fault": "partition", "groups": [["m0"], []]}, "each group needs at least one member"),
    ({"fault": "partition", "groups": [["m0"], ["x"]]}, "groups.1.0: String should match pattern"),
    ({"fault": "partition", "member": "m1", "groups": [["m0"], ["m1"]]}, "give `groups`, not `member`"),
    ({"fault": "partition", "groups": [["m0"], ["others"]], "direction": "upstream"},
     "fault partition cuts both ways: direction must be both"),
    ({"fault": "blackhole", "groups": [["m0"], ["others"]]}, "fault blackhole does not take groups"),
])
def test_a_partition_is_refused_at_load_time_when_it_cannot_work(params: dict[str, Any], message: str) -> None:
    with pytest.raises(ScenarioError) as caught:
        create("network", {"link": "etcd-peer", **params}, None)
    assert message in str(caught.value)


def test_a_partition_is_for_etcd_peer_and_acts_on_every_members_link() -> None:
    with pytest.raises(ScenarioError, match="fault partition cuts etcd members apart by process: use it on link "
                                            "etcd-peer"):
        create("network", {"link": "etcd-client", "fault": "partition", "groups": [["m0"], ["others"]]}, "kvd")
    injector = create("network", {"link": "etcd-peer", "fault": "partition", "groups": [["leader"], ["others"]]},
                      None)
    assert isinstance(injector, NetworkFault) and isinstance(injector.params, EtcdPeerFault)
    assert injector.link_member() is None  # every member's peer link, whoever leads
    body = injector.params.partition_spec([5, 3]).body()
    assert body == {"kind": "partition", "direction": "both", "sources": [5, 3]}
