"""A partition of the etcd members and of targets that are their clients: groups resolved to members, the PIDs each
peer link cuts, the etcd-client links of each target blackholed, what the plan routes for it, and the proof."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from chaos.errors import ScenarioError
from chaos.injectors import create
from chaos.injectors.network import NetworkFault
from chaos.injectors.network_params import EtcdPeerFault
from chaos.network import partition
from chaos.network.links import LinkKind, LinkRequest
from chaos.network.proxy import LinkStats
from chaos.plan import build_plan
from chaos.scenario import Scenario

MEMBERS = ["m0", "m1", "m2"]
HERE = Path(".")


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
    ([["leader", "kvd"], ["others", "kvd"]], "m0", "target kvd is in two groups"),
    ([["leader", "api"], ["others"]], "m0", "'api' is neither an etcd member (m0, m1, m2), `leader`, `others` nor a "
                                            "target whose etcd-client links this run routes (kvd)"),
    ([["m0", "m1", "m2"], ["others"], ["kvd"]], "m0", "a group has no member or target"),
])
def test_groups_that_do_not_partition_the_members_are_refused(groups: list[list[str]], leader: str | None,
                                                              message: str) -> None:
    with pytest.raises(partition.GroupsError) as caught:
        partition.resolve_groups(groups, MEMBERS, leader, ["kvd"])
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
    ({"fault": "partition", "groups": [["m0"], ["Kvd"]]}, "groups.1.0: String should match pattern"),
    ({"fault": "partition", "groups": [["m0", "kvd"], ["kvd", "others"]]},
     "groups: kvd named twice: a member or a target is in one group"),
    ({"fault": "partition", "groups": [["leader", "kvd"], []]}, "each group needs at least one member or target"),
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


# -- targets in the groups: "the leader and its clients vs the rest" ----------------------------------------------
def test_a_group_may_name_targets_which_count_toward_it_but_are_no_members() -> None:
    groups = [["leader", "kvd"], ["others", "api"]]
    assert partition.resolve_groups(groups, MEMBERS, "m1", ["api", "kvd"]) == [["m1"], ["m0", "m2"]]
    assert partition.group_targets(groups) == [["kvd"], ["api"]]
    assert partition.targets_named(groups) == ["kvd", "api"]
    # a group of targets only: cut off from every member, the members all on the other side
    assert partition.resolve_groups([["others"], ["kvd"]], MEMBERS, "m1", ["kvd"]) == [MEMBERS, []]
    assert [name for name in ("m0", "m12", "leader", "others", "kvd", "m0x", "leaders")
            if partition.names_members(name)] == ["m0", "m12", "leader", "others"]


def test_a_target_is_cut_from_the_members_outside_its_group_and_keeps_its_own() -> None:
    members = [["m1"], ["m0", "m2"]]
    assert partition.cut_clients(members, [["kvd"], ["api"]]) == {"kvd": ["m0", "m2"], "api": ["m1"]}
    assert partition.cut_clients(members, [["kvd"], []]) == {"kvd": ["m0", "m2"]}  # api in no group: untouched
    assert partition.cut_clients([MEMBERS, []], [[], ["kvd"]]) == {"kvd": MEMBERS}
    assert partition.cut_clients(members, [[], []]) == {}
    assert partition.shown(members, [["kvd"], []]) == [["m1", "kvd"], ["m0", "m2"]]


def test_the_proof_shows_each_client_link_blackholed_and_kept() -> None:
    groups = [["m1", "kvd"], ["m0", "m2"]]
    peers = LinkStats(connections_cut=4, bytes_discarded_downstream=900, bytes_discarded_upstream=100)
    clients = {"etcd-client.kvd.m0": LinkStats(bytes_discarded_upstream=300, bytes_discarded_downstream=20),
               "etcd-client.kvd.m2": LinkStats(bytes_discarded_upstream=200)}
    kept = {"etcd-client.kvd.m1": LinkStats(bytes_upstream=700, bytes_downstream=400)}
    found = partition.proof(peers, groups, clients, kept)
    assert found.landed, found.summary
    assert found.summary == ("4 connection(s) between m1, kvd | m0, m2 cut, 1000 bytes discarded; 2 etcd-client "
                             "link(s) blackholed, 520 bytes discarded")
    assert found.figures["clients_cut"] == ["etcd-client.kvd.m0", "etcd-client.kvd.m2"]
    assert found.figures["client_bytes_discarded"] == 520 and found.figures["bytes_discarded"] == 1000
    links = found.figures["client_links"]
    assert links["etcd-client.kvd.m0"]["bytes_discarded"] == 320
    assert links["etcd-client.kvd.m2"]["bytes_discarded"] == 200
    assert links["etcd-client.kvd.m1"] == {"bytes_discarded": 0, "counts": {"bytes_upstream": 700,
                                                                           "bytes_downstream": 400}}
    # the peer links still decide: client bytes discarded do not make up for peer connections never traced
    untraced = partition.proof(LinkStats(), groups, clients, kept)
    assert not untraced.landed and "could not trace them" in untraced.summary and "520 bytes" in untraced.summary


def test_with_every_member_on_one_side_the_client_links_decide() -> None:
    groups = [["m0", "m1", "m2"], ["kvd"]]
    clients = {f"etcd-client.kvd.{m}": LinkStats(bytes_discarded_upstream=10) for m in MEMBERS}
    found = partition.proof(LinkStats(), groups, clients, peers=False)
    assert found.landed and found.summary == ("every member in one group (m0, m1, m2 | kvd); 3 etcd-client link(s) "
                                              "blackholed, 30 bytes discarded")
    idle = partition.proof(LinkStats(), groups, dict.fromkeys(clients, LinkStats(bytes_upstream=0)), peers=False)
    assert not idle.landed and "give the targets load" in idle.summary


def test_a_partition_naming_a_target_routes_its_etcd_client_links_from_the_start() -> None:
    injector = create("network", {"link": "etcd-peer", "fault": "partition",
                                  "groups": [["leader", "kvd"], ["others", "api"]]}, None)
    assert isinstance(injector, NetworkFault)
    assert injector.link_requests() == (LinkRequest(LinkKind.ETCD_PEER), LinkRequest(LinkKind.ETCD_CLIENT, "kvd"),
                                        LinkRequest(LinkKind.ETCD_CLIENT, "api"))
    members_only = create("network", {"link": "etcd-peer", "fault": "partition", "groups": [["m0"], ["others"]]},
                          None)
    assert isinstance(members_only, NetworkFault)
    assert members_only.link_requests() == (LinkRequest(LinkKind.ETCD_PEER),)


def _partitioned(groups: list[list[str]], targets: list[dict[str, Any]]) -> Scenario:
    return Scenario.model_validate({"name": "p", "targets": targets, "etcd": {"members": 3}, "load": None, "faults": [
        {"injector": "network", "params": {"link": "etcd-peer", "fault": "partition", "groups": groups}}]})


def test_the_plan_routes_the_targets_the_groups_name() -> None:
    plan = build_plan(_partitioned([["leader", "kvd"], ["others"]], [{"bundled": "kvd"}, {"bundled": "configd"}]),
                      HERE, platform="local", seed=1)
    assert plan.links.etcd_peer and plan.links.etcd_client("kvd") and not plan.links.etcd_client("configd")


@pytest.mark.parametrize(("groups", "message"), [
    ([["leader", "api"], ["others"]], "network on etcd: 'api' is not a target of this scenario (kvd, configd), so it "
                                      "has no etcd-client link"),
    ([["leader", "configd"], ["others"]], "target configd has no etcd (it takes no {etcd_endpoints}), so it has no "
                                          "etcd-client link"),
])
def test_a_group_naming_what_is_not_an_etcd_client_of_the_scenario_is_refused_at_plan_time(
        groups: list[list[str]], message: str) -> None:
    with pytest.raises(ScenarioError) as caught:
        build_plan(_partitioned(groups, [{"bundled": "kvd"}, {"bundled": "configd"}]), HERE, platform="local",
                   seed=1)
    assert message in str(caught.value)
