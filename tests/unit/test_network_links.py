"""Links decided at plan time: which ones a run routes, what the dry run says, and what is refused before anything
starts (a platform without chaosproxy, a target with no etcd, an upstream named nowhere, no load to fault)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from chaos.errors import ScenarioError, UsageError
from chaos.network.links import (
    LinkKind,
    LinkPlan,
    LinkRequest,
    Transport,
    etcd_client_link,
    load_link,
    occurrences,
    rewrite,
    upstream_link,
)
from chaos.plan import build_plan, describe
from chaos.scenario import Scenario, parse_scenario
from chaos.targets import TargetSpec

HERE = Path(".")
KVD = {"bundled": "kvd"}
API = {"name": "api", "command": ["/bin/api", "--listen={listen}", "--backend=http://127.0.0.1:9001/v1",
                                  "--metrics=127.0.0.1:90010"],
       "env": {"DNS": "127.0.0.1:5353"}}

DNS = {"name": "dns", "command": ["/bin/dns", "--listen={listen}"], "ready_path": None}
DNS_QUERIES = {"queries": [{"name": "ok.test"}]}
DNS_LOAD = {"target": "dns", "user": "dns", "options": {"dns": DNS_QUERIES}}


def scenario(targets: list[dict[str, Any]], faults: list[dict[str, Any]], **fields: Any) -> Scenario:
    return Scenario.model_validate({"name": "net", "targets": targets, "faults": faults, **fields})


def net(params: dict[str, Any], target: str | None = None, **fields: Any) -> dict[str, Any]:
    return {"injector": "network", "target": target, "params": params, **fields}


def test_the_plan_routes_what_the_faults_name_and_nothing_else() -> None:
    planned = scenario([KVD, {"bundled": "configd"}], [
        net({"link": "etcd-peer", "fault": "blackhole"}),
        net({"link": "etcd-client", "fault": "delay", "latency_ms": 5}, "kvd", at_s=1),
        net({"link": "etcd-client", "member": "leader", "fault": "reset"}, "kvd", at_s=2),
        net({"fault": "delay", "latency_ms": 20, "direction": "upstream"}, "configd", at_s=3),
    ], load={"target": "configd"})
    plan = build_plan(planned, HERE, platform="local", seed=1)
    assert plan.links.requests == (LinkRequest(LinkKind.ETCD_CLIENT, "kvd"), LinkRequest(LinkKind.ETCD_PEER),
                                   LinkRequest(LinkKind.LOAD, "configd"))  # deduplicated, in one order
    assert plan.links.etcd_peer and plan.links.etcd_client("kvd") and not plan.links.etcd_client("configd")
    (load,) = plan.loads
    assert load.routed and plan.links.load("configd", None)
    lines = describe(plan)
    network = lines.index(next(line for line in lines if line.startswith("network: chaosproxy")))
    assert lines[network + 1].startswith("  etcd-client: kvd's {etcd_endpoints} are links (etcd-client.kvd.m<i>")
    assert lines[network + 2].startswith("  etcd-peer: each member advertises a link as its peer URL "
                                         "(etcd-peer.m<i> -> its own peer port, for m0, m1, m2)")
    assert lines[network + 3] == "  load: the load's host is a link (load.configd -> configd, tcp)"
    assert any(line.startswith("load: 10 configd users on configd through link load.configd") for line in lines)


def test_a_run_without_network_faults_routes_nothing_and_says_nothing() -> None:
    plan = build_plan(scenario([{"bundled": "configd"}], []), HERE, platform="local", seed=1)
    assert not plan.links and not plan.loads[0].routed
    assert not any(line.startswith("network:") for line in describe(plan))


def test_an_upstream_is_found_where_the_target_names_it(tmp_path: Path) -> None:
    (tmp_path / "api.yaml").write_text("backend: 127.0.0.1:9001\nother: 127.0.0.1:90012\n")
    text = ("name: net\ntargets:\n  - {name: api, command: ['/bin/api', '--listen={listen}', "
            "'--backend=http://127.0.0.1:9001/v1'], env: {UP: '127.0.0.1:9001'}, config_file: api.yaml}\n"
            "faults:\n  - {injector: network, target: api, params: {link: upstream, upstream: '127.0.0.1:9001', "
            "fault: delay, latency_ms: 5}}\nload: null\n")
    plan = build_plan(parse_scenario(text, str(tmp_path / "s.chaos.yaml")), tmp_path, platform="local", seed=1)
    assert plan.links.upstreams("api") == (LinkRequest(LinkKind.UPSTREAM, "api", upstream="127.0.0.1:9001"),)
    assert ("  upstream: api's 127.0.0.1:9001 (tcp) in command[2], env.UP, config line 1 is rewritten to a link "
            "(upstream.api.127.0.0.1-9001.tcp -> 127.0.0.1:9001)") in describe(plan)


@pytest.mark.parametrize(("targets", "fault", "fields", "error", "message"), [
    ([{"bundled": "configd"}], net({"link": "etcd-client", "fault": "reset"}, "configd"), {"etcd": {"members": 3}},
     ScenarioError, "network on configd: target configd has no etcd (it takes no {etcd_endpoints}), so it has no "
                    "etcd-client link"),
    ([{"bundled": "configd"}], net({"link": "etcd-peer", "fault": "blackhole"}), {}, ScenarioError,
     "network on etcd: link etcd-peer needs the etcd cluster the suite starts, and this scenario has none"),
    ([KVD], net({"link": "etcd-peer", "member": "m3", "fault": "blackhole"}), {}, ScenarioError,
     "member 'm3' is not one of the etcd members (m0, m1, m2) or `leader`"),
    ([KVD], net({"link": "etcd-client", "fault": "reset"}, "kvd"),
     {"etcd": {"external": {"endpoints": ["http://127.0.0.1:2379"]}}}, ScenarioError,
     "the team's own etcd (`etcd.external`) is not routed through the proxy"),
    ([API], net({"link": "upstream", "upstream": "127.0.0.1:9002", "fault": "reset"}, "api"), {"load": None},
     ScenarioError,
     "network on api: upstream 127.0.0.1:9002 is named nowhere in target api's command, env; give the exact "
     "host:port the service dials there"),
    ([API, {"bundled": "configd"}], net({"fault": "blackhole"}, "api"), {"load": {"target": "configd"}},
     ScenarioError, "no load runs against target api, so there is no load link to fault"),
    ([{"bundled": "configd"}], net({"fault": "blackhole"}, "configd"), {"load": None}, ScenarioError,
     "no load runs against target configd"),
    ([{"bundled": "configd"}], net({"fault": "blackhole", "port": "admin"}, "configd"), {}, ScenarioError,
     "no load runs against target configd on port admin"),
    ([{"bundled": "configd"}], net({"fault": "loss", "probability": 0.5, "direction": "upstream"}, "configd"), {},
     ScenarioError, "network on configd: the load link carries tcp (configd load): fault loss on TCP acts on whole "
                    "connections, both ways: direction must be both"),
    ([DNS], net({"fault": "reset"}, "dns"), {"load": DNS_LOAD}, ScenarioError,
     "the load link carries udp (dns load): fault reset closes TCP connections; a UDP link has none"),
])
def test_what_the_run_could_not_route_is_refused_before_anything_starts(
        targets: list[dict[str, Any]], fault: dict[str, Any], fields: dict[str, Any], error: type[Exception],
        message: str) -> None:
    with pytest.raises(error) as caught:
        build_plan(scenario(targets, [fault], **fields), HERE, platform="local", seed=1)
    assert message in str(caught.value)


@pytest.mark.parametrize(("options", "transport"), [({}, Transport.UDP), ({"protocol": "udp"}, Transport.UDP),
                                                    ({"protocol": "tcp"}, Transport.TCP)])
def test_a_load_link_carries_what_the_load_speaks(options: dict[str, Any], transport: Transport) -> None:
    load = {**DNS_LOAD, "options": {"dns": {**DNS_QUERIES, **options}}}
    fault = net({"fault": "loss", "probability": 0.5, "direction": "upstream"}, "dns")
    if transport is Transport.TCP:  # loss on TCP refuses whole connections: both ways only
        with pytest.raises(ScenarioError, match="the load link carries tcp"):
            build_plan(scenario([DNS], [fault], load=load), HERE, platform="local", seed=1)
        fault = net({"fault": "loss", "probability": 0.5}, "dns")
    plan = build_plan(scenario([DNS], [fault], load=load), HERE, platform="local", seed=1)
    assert plan.links.requests == (LinkRequest(LinkKind.LOAD, "dns", protocol=transport),)
    assert plan.links.load_protocol("dns", None) is transport and plan.loads[0].routed
    assert f"  load: the load's host is a link (load.dns -> dns, {transport})" in describe(plan)


def test_kubernetes_routes_a_deployed_pods_links_and_says_where_the_proxy_runs() -> None:
    planned = scenario([KVD], [net({"link": "etcd-client", "fault": "delay", "latency_ms": 5}, "kvd"),
                               net({"fault": "loss", "probability": 0.5}, "kvd")],
                       etcd={"members": 3}, load={"target": "kvd"})
    plan = build_plan(planned, HERE, platform="kubernetes", seed=1)
    assert plan.links.requests == (LinkRequest(LinkKind.ETCD_CLIENT, "kvd"), LinkRequest(LinkKind.LOAD, "kvd"))
    assert any(line.startswith("network: chaosproxy in the cluster, started with its links: a native sidecar in the "
                               "pod of each target the suite deploys")
               for line in describe(plan))


@pytest.mark.parametrize(("targets", "fault", "load", "message"), [
    ([KVD], net({"link": "etcd-peer", "fault": "blackhole"}), None,
     r"faults\.0: network on etcd: link etcd-peer \(traffic between etcd members\) is routed on the local platform "
     r"only; on Kubernetes use leader_loss"),
    ([KVD], net({"fault": "loss", "probability": 0.5}, "kvd"), {**DNS_LOAD, "target": "kvd"},
     r"a UDP load link on Kubernetes would need a UDP NodePort.*give the dns load `protocol: tcp`"),
])
def test_kubernetes_refuses_the_links_it_cannot_route(targets: list[dict[str, Any]], fault: dict[str, Any],
                                                      load: dict[str, Any] | None, message: str) -> None:
    planned = scenario(targets, [fault], etcd={"members": 3}, **({"load": load} if load else {}))
    with pytest.raises(UsageError, match=message):
        build_plan(planned, HERE, platform="kubernetes", seed=1)


def test_a_refusal_names_the_file_and_the_faults_line(tmp_path: Path) -> None:
    text = ("name: net\ntargets: [{bundled: configd}]\nfaults:\n  - {injector: network, target: configd, "
            "params: {fault: reset}}\n  - {injector: network, target: configd, "
            "params: {link: etcd-client, fault: reset}}\n")
    path = tmp_path / "net.chaos.yaml"
    with pytest.raises(ScenarioError, match=rf"^{path}:5: faults\.1: network on configd: link etcd-client needs the "
                                            "etcd cluster the suite starts"):
        build_plan(parse_scenario(text, str(path)), tmp_path, platform="local", seed=1)


def test_link_names_are_what_the_proxy_accepts() -> None:
    assert etcd_client_link("kvd", "m0") == "etcd-client.kvd.m0"
    assert load_link("dns", "udp") == "load.dns.udp" and load_link("configd", None) == "load.configd"
    assert upstream_link("api", "[::1]:53", Transport.UDP) == "upstream.api.---1--53.udp"
    assert upstream_link("api", "db.local:5432", "tcp") == "upstream.api.db.local-5432.tcp"


@pytest.mark.parametrize(("text", "rewritten"), [
    ("--backend=http://127.0.0.1:9001/v1", "--backend=http://127.0.0.1:40000/v1"),
    ("127.0.0.1:9001,127.0.0.1:9002", "127.0.0.1:40000,127.0.0.1:9002"),
    ("127.0.0.1:90010", "127.0.0.1:90010"),  # another port
    ("10.127.0.0.1:9001", "10.127.0.0.1:9001"),  # the tail of another address
    ("host 127.0.0.1:9001\n", "host 127.0.0.1:40000\n"),
])
def test_an_upstream_is_rewritten_only_where_it_stands_alone(text: str, rewritten: str) -> None:
    assert rewrite(text, "127.0.0.1:9001", "127.0.0.1:40000") == rewritten


def test_occurrences_name_the_argv_word_the_env_and_the_config_line() -> None:
    spec = TargetSpec.model_validate({"name": "api", "command": API["command"], "env": API["env"]})
    assert occurrences(spec, "127.0.0.1:9001") == ["command[2]"]
    assert occurrences(spec, "127.0.0.1:5353") == ["env.DNS"]
    assert occurrences(spec, "127.0.0.1:1") == []


def test_a_link_plan_answers_per_target() -> None:
    plan = LinkPlan.of([LinkRequest(LinkKind.LOAD, "a", port="dns"), LinkRequest(LinkKind.LOAD, "a", port="dns"),
                        LinkRequest(LinkKind.UPSTREAM, "b", upstream="x:1", protocol=Transport.UDP)])
    assert len(plan.requests) == 2 and bool(plan) and not LinkPlan()
    assert plan.load("a", "dns") and not plan.load("a", None) and not plan.etcd_peer
    assert [r.upstream for r in plan.upstreams("b")] == ["x:1"] and plan.upstreams("a") == ()
