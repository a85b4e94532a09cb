"""The network injector's params: one model per link, the fault's own fields, refused at load time with the field."""

from __future__ import annotations

from typing import Any

import pytest

from chaos.errors import ScenarioError
from chaos.explain import explain
from chaos.injectors import INJECTORS, create
from chaos.injectors.network import NetworkFault
from chaos.injectors.network_params import EtcdClientFault, EtcdPeerFault, LoadFault, UpstreamFault
from chaos.network.links import LinkKind, LinkRequest, Transport
from chaos.targets import TargetSpec


@pytest.mark.parametrize(("params", "target", "model"), [
    ({"fault": "delay", "latency_ms": 50}, "configd", LoadFault),  # link left out: load
    ({"link": "load", "port": "admin", "fault": "blackhole", "direction": "upstream"}, "configd", LoadFault),
    ({"link": "etcd-client", "fault": "delay", "jitter_ms": 5, "direction": "downstream"}, "kvd", EtcdClientFault),
    ({"link": "etcd-client", "member": "leader", "fault": "reset"}, "kvd", EtcdClientFault),
    ({"link": "etcd-peer", "fault": "blackhole"}, None, EtcdPeerFault),
    ({"link": "etcd-peer", "member": "m2", "fault": "bandwidth", "bytes_per_s": 1000}, None, EtcdPeerFault),
    ({"link": "upstream", "upstream": "127.0.0.1:9001", "fault": "loss", "probability": 0.3}, "api", UpstreamFault),
    ({"link": "upstream", "upstream": "dns.local:53", "protocol": "udp", "fault": "loss", "probability": 1,
      "direction": "upstream"}, "api", UpstreamFault),
])
def test_each_link_takes_its_own_fields(params: dict[str, Any], target: str | None, model: type[Any]) -> None:
    injector = create("network", params, target)
    assert isinstance(injector, NetworkFault) and type(injector.params) is model


@pytest.mark.parametrize(("params", "target", "message"), [
    ({"fault": "loss", "probability": 0.5, "latency_ms": 10}, "c",
     "latency_ms: fault loss does not take latency_ms (it is for fault delay); remove it or change fault"),
    ({"fault": "delay"}, "c", "fault delay needs latency_ms (or jitter_ms) above 0"),
    ({"fault": "delay", "latency_ms": 0}, "c", "fault delay needs latency_ms"),
    ({"fault": "loss"}, "c", "fault loss needs probability"),
    ({"fault": "bandwidth"}, "c", "fault bandwidth needs bytes_per_s"),
    ({"link": "etcd-client", "fault": "loss", "probability": 0.2, "direction": "upstream"}, "c",
     "fault loss on TCP acts on whole connections, both ways: direction must be both"),
    ({"link": "upstream", "upstream": "127.0.0.1:53", "protocol": "udp", "fault": "reset"}, "c",
     "fault reset closes TCP connections; a UDP link has none"),
    ({"link": "upstream", "upstream": "127.0.0.1", "fault": "blackhole"}, "c", "upstream: String should match"),
    ({"fault": "delay", "latency_ms": 10, "member": "m0"}, "c",
     "member: link load does not take member (it is for link etcd-client or etcd-peer)"),
    ({"link": "etcd-pear", "fault": "reset"}, "c", "link: 'etcd-pear' is not a network link; did you mean "
                                                   "'etcd-peer'?"),
    ({"fault": "slow"}, "c",
     "fault: Input should be 'delay', 'loss', 'blackhole', 'reset', 'bandwidth' or 'partition'"),
    ({"fault": "delay", "latency_ms": 700_000}, "c", "latency_ms: Input should be less than or equal to 600000"),
    ({"link": "etcd-peer", "fault": "blackhole"}, "kvd", "link etcd-peer is the etcd cluster's own traffic: remove "
                                                         "`target`"),
    ({"link": "etcd-client", "fault": "blackhole"}, None, "link etcd-client is a target's: give the fault a `target`"),
])
def test_what_cannot_work_is_refused_with_the_field(params: dict[str, Any], target: str | None, message: str) -> None:
    with pytest.raises(ScenarioError, match="injector network") as caught:
        create("network", params, target)
    assert message in str(caught.value)


def test_each_link_declares_what_the_plan_routes() -> None:
    def requests(params: dict[str, Any], target: str | None = "t") -> tuple[LinkRequest, ...]:
        injector = create("network", {"fault": "blackhole", **params}, target)
        assert isinstance(injector, NetworkFault)
        return injector.link_requests()

    assert requests({"link": "etcd-peer", "member": "m1"}, None) == (LinkRequest(LinkKind.ETCD_PEER),)
    assert requests({"link": "etcd-client"}) == (LinkRequest(LinkKind.ETCD_CLIENT, "t"),)
    assert requests({"link": "load", "port": "dns"}) == (LinkRequest(LinkKind.LOAD, "t", port="dns"),)
    assert requests({"link": "upstream", "upstream": "10.0.0.1:53", "protocol": "udp"}) == (
        LinkRequest(LinkKind.UPSTREAM, "t", upstream="10.0.0.1:53", protocol=Transport.UDP),)
    peer = create("network", {"link": "etcd-peer", "fault": "reset"}, None)
    assert isinstance(peer, NetworkFault) and peer.link_member() == "leader" and peer.target_name is None


def test_it_is_registered_and_explained_from_its_params() -> None:
    assert INJECTORS["network"] is NetworkFault
    text = "\n".join(explain("injectors", "network"))
    for field in ("link", "member", "port", "upstream", "protocol", "fault", "direction", "latency_ms", "jitter_ms",
                  "probability", "bytes_per_s", "duration_s"):
        assert f" {field} " in text, field
    for link in ("etcd-client", "etcd-peer", "load", "upstream"):
        assert link in text
    assert "max_error_rate=None" in text or "not judged" in text  # a network fault is disruptive by design


@pytest.mark.parametrize("name", ["m0", "m12", "leader", "others", "kvd", "api-2", "x", "a" * 41, "Kvd", "2kvd", "k_v",
                                  "a" * 42, "kvd.m0"])
def test_a_group_names_what_a_target_may_be_named_besides_members_leader_and_others(name: str) -> None:
    """The groups take a target's name exactly as TargetSpec.name does: one pattern, not a look-alike."""
    try:
        TargetSpec(name=name, command=("x",))
        as_target = True
    except ValueError:
        as_target = False
    params = {"link": "etcd-peer", "fault": "partition", "groups": [["m99"], [name]]}
    try:
        injector = create("network", params, None)
    except ScenarioError as e:
        assert not as_target and "groups.1.0: String should match pattern" in str(e), e
        return
    assert as_target or name in ("m0", "m12", "leader", "others"), name
    assert isinstance(injector.params, EtcdPeerFault) and injector.params.groups == (("m99",), (name,))


def test_the_groups_field_says_it_takes_targets() -> None:
    description = EtcdPeerFault.model_fields["groups"].description or ""
    assert "[[leader, kvd], [others]]" in description and "target names" in description
    assert "blackholed both ways" in description and "no group names is untouched" in description
