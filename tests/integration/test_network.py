"""Network faults through chaosproxy on the local platform, end to end: the figures a run reports, a leader cut off
from its peers, a SIGKILLed run's proxy cleaned up, an upstream rewritten, and the bundled reproduction."""

from __future__ import annotations

import http.server
import json
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from chaos import state
from chaos.build import Binaries
from chaos.network.links import LinkKind, LinkPlan, LinkRequest
from chaos.observe.readiness import wait_until
from chaos.platform.local.platform import LocalPlatform
from chaos.runner import run_scenario
from chaos.scenario import load_scenario, parse_scenario, resolve
from chaos.targets import Readiness, RestartPolicy, TargetSpec
from chaos.timeline import Event, EventKind, Timeline
from chaos.verdict import Status

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
LOAD_DELAY = """
name: load-delay
targets: [{bundled: configd}]
load: {users: 5, spawn_rate: 50}
windows: {baseline_s: 2, observe_s: 1}
faults:
  - {injector: network, target: configd, params: {link: load, fault: delay, latency_ms: 50, direction: upstream,
                                                  duration_s: 3}}
oracles: [panics]
"""
LEADER_CUT = """
name: leader-cut
targets: [{bundled: kvd}]
etcd: {members: 3}
load: null
windows: {baseline_s: 0, observe_s: 0}
faults:
  - {injector: network, params: {link: etcd-peer, member: leader, fault: blackhole, duration_s: 2}}
oracles: [panics]
"""
PARTITION = """
name: leader-partitioned
targets: [{bundled: kvd}]
etcd: {members: 3}
load: null
windows: {baseline_s: 0, observe_s: 0}
faults:
  - {injector: network, params: {link: etcd-peer, fault: partition, groups: [[leader], [others]], duration_s: 3}}
oracles: [panics]
"""
#: "The leader and its clients vs the rest": kvd (under load, so its etcd-client links carry requests to every member)
#: stays with the leader, cut off from the others.
PARTITION_CLIENTS = """
name: leader-and-kvd-partitioned
targets: [{bundled: kvd}]
etcd: {members: 3}
load: {users: 4, spawn_rate: 40}
windows: {baseline_s: 1, observe_s: 0}
faults:
  - {injector: network, params: {link: etcd-peer, fault: partition, groups: [[leader, kvd], [others]], duration_s: 3}}
oracles: [panics]
"""
HOLDING = """
name: holds-a-proxy
targets: [{bundled: configd}]
load: {users: 2, spawn_rate: 10}
windows: {baseline_s: 1, observe_s: 300}
faults:
  - {injector: network, target: configd, params: {link: load, fault: delay, latency_ms: 5, duration_s: 300}}
"""

#: A service that asks a UDP upstream (argv[2]) every 20 ms (its own protocol: nothing the suite could time), and
#: answers HTTP on argv[1] for its readiness.
PINGER = """
import http.server, socket, sys, threading, time
port, upstream = int(sys.argv[1]), sys.argv[2]
host, _, uport = upstream.rpartition(":")
def ping():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(1.0)
    for _ in range(3000):  # a minute at most
        try:
            s.sendto(b"ping", (host, int(uport)))
            s.recv(64)
        except OSError:
            pass
        time.sleep(0.02)
threading.Thread(target=ping, daemon=True).start()
http.server.ThreadingHTTPServer(("127.0.0.1", port), http.server.SimpleHTTPRequestHandler).serve_forever()
"""
UPSTREAM_DELAY = """
name: upstream-delay
targets: [{{name: pinger, command: [python3, "{script}", "{{port}}", "{upstream}"], ready_path: /, restart: never}}]
load: null
windows: {{baseline_s: 1, observe_s: 0}}
faults:
  - {{injector: network, target: pinger, params: {{link: upstream, upstream: "{upstream}", protocol: udp, fault: delay,
                                                 latency_ms: 30, direction: upstream, duration_s: 1.5}}}}
oracles: [panics]
"""

#: A DNS service (dnspython) on UDP argv[1] answering A 127.0.0.1 for every name; TCP on the same port for readiness.
TINY_DNS = """
import socket, sys, threading, time
import dns.message, dns.rrset
port = int(sys.argv[1])
tcp = socket.create_server(("127.0.0.1", port))
threading.Thread(target=lambda: [tcp.accept()[0].close() for _ in range(100)], daemon=True).start()
udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
udp.bind(("127.0.0.1", port))
for _ in range(1_000_000):  # a minute or so at most
    wire, peer = udp.recvfrom(512)
    query = dns.message.from_wire(wire)
    reply = dns.message.make_response(query)
    reply.answer.append(dns.rrset.from_text(query.question[0].name, 30, "IN", "A", "127.0.0.1"))
    udp.sendto(reply.to_wire(), peer)
"""
DNS_LOAD_LOSS = """
name: dns-load-loss
targets: [{{name: dns, command: ["{python}", "{script}", "{{port}}"], ready_path: null, restart: never}}]
load: {{target: dns, user: dns, users: 4, spawn_rate: 40, rate: 100,
        options: {{dns: {{timeout_s: 0.2, queries: [{{name: ok.test}}]}}}}}}
windows: {{baseline_s: 1, observe_s: 0}}
faults:
  - {{injector: network, target: dns, params: {{link: load, fault: loss, probability: 0.5, direction: upstream,
                                              duration_s: 2}}}}
oracles: [panics]
"""


def gochaos(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "chaos.cli", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=180, env=env)


def events(report: dict[str, Any], kind: EventKind) -> list[dict[str, Any]]:
    return [e for e in report["events"] if e["kind"] == kind.value]


def test_a_delay_on_the_load_link_shows_that_latency_added_in_the_report(tmp_path: Path) -> None:
    (tmp_path / "delay.chaos.yaml").write_text(LOAD_DELAY)
    result = gochaos("run", "delay.chaos.yaml", "--report-dir", str(tmp_path / "r"), cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    (fault,) = report["faults"]
    figures = fault["details"]
    assert fault["landed"] and figures["measured_by"] == "the load's requests", fault
    assert abs(figures["observed_added_ms"] - 50) <= max(0.1 * 50, 2), fault["summary"]
    (link,) = events(report, EventKind.NETWORK_LINK)
    assert link["source"] == "load.configd" and link["details"]["link"] == "load"
    (applied,) = events(report, EventKind.NETWORK_FAULT_APPLIED)
    (removed,) = events(report, EventKind.NETWORK_FAULT_REMOVED)
    assert applied["details"]["fault"] == {"kind": "delay", "direction": "upstream", "latency_ms": 50.0}
    assert removed["details"]["observed_added_ms"] == figures["observed_added_ms"]
    assert [r["kind"] for r in removed["details"]["removed"]] == ["delay"]


def test_blackholing_the_leaders_peer_link_elects_another_leader(tmp_path: Path) -> None:
    timeline = Timeline()
    result = run_scenario(parse_scenario(LEADER_CUT, str(tmp_path / "s.chaos.yaml")), base_dir=tmp_path,
                          timeline=timeline)
    (fault,) = result.faults
    assert fault.outcome.landed, fault.outcome.summary
    (applied,) = timeline.events(EventKind.NETWORK_FAULT_APPLIED)
    old = applied.details["member"]
    assert applied.details["links"] == [f"etcd-peer.{old}"]
    (lost,) = timeline.events(EventKind.ETCD_LEADER_LOST)
    assert lost.details == {"operation": "network-blackhole-leader", "leader": old}
    (elected,) = timeline.events(EventKind.ETCD_LEADER, since_ns=applied.t_ns)
    assert elected.details["previous"] == old and elected.details["leader"] != old
    assert elected.t_ns < timeline.events(EventKind.NETWORK_FAULT_REMOVED)[0].t_ns
    assert fault.outcome.details["discarded_share"] >= 0.9 and fault.outcome.details["new_leader_after_ms"] < 2000


def _partitioned(tmp_path: Path, text: str) -> tuple[Mapping[str, Any], Event, Timeline]:
    """Run a partition scenario on a real 3-member etcd; what every partition must show: it landed, the old leader
    (the first group's first name) stepped down and the majority elected one of its own, both before it ended.
    Returns the fault's figures, its applied event and the timeline."""
    timeline = Timeline()
    result = run_scenario(parse_scenario(text, str(tmp_path / "s.chaos.yaml")), base_dir=tmp_path, timeline=timeline)
    (fault,) = result.faults
    assert fault.outcome.landed, fault.outcome.summary
    (applied,) = timeline.events(EventKind.NETWORK_FAULT_APPLIED)
    (old, *_), others = applied.details["groups"]
    (elected,) = timeline.events(EventKind.ETCD_LEADER, since_ns=applied.t_ns)
    assert elected.details["previous"] == old and elected.details["leader"] in others
    (stepped,) = timeline.events(EventKind.ETCD_LEADER_LOST, since_ns=applied.t_ns)
    assert stepped.details["leader"] == old and stepped.details["operation"] == "network-partition-step-down"
    assert max(elected.t_ns, stepped.t_ns) < timeline.events(EventKind.NETWORK_FAULT_REMOVED)[0].t_ns
    figures = fault.outcome.details
    # every member's peer link cut the connections from the other group: the old leader's both ways
    assert figures["connections_cut"] >= 4 and figures["bytes_discarded"] > 0, figures
    return figures, applied, timeline


def test_a_partition_leaves_the_leader_alone_and_the_others_elect_one_of_them(tmp_path: Path) -> None:
    """[[leader], [others]] over a real 3-member etcd: the proxy traces each peer connection to its member's process
    and cuts those crossing the groups; the old leader steps down, the majority elects a new leader among itself."""
    figures, applied, timeline = _partitioned(tmp_path, PARTITION)
    (old,), others = applied.details["groups"]
    assert sorted([old, *others]) == ["m0", "m1", "m2"] and len(applied.details["links"]) == 3
    (stepped,) = timeline.events(EventKind.ETCD_LEADER_LOST, since_ns=applied.t_ns)
    assert set(stepped.details) == {"leader", "operation", "term"}
    assert figures["new_leader"] in others and figures["old_leader_stepped_down_after_ms"] < 3000, figures


def test_a_partition_naming_a_target_blackholes_its_etcd_links_to_the_other_group(tmp_path: Path) -> None:
    """[[leader, kvd], [others]]: the members are cut apart as above, and kvd's etcd-client links to the others discard
    its requests while its link to the old leader is left open; revert takes off both kinds of fault."""
    figures, applied, timeline = _partitioned(tmp_path, PARTITION_CLIENTS)
    (old, kvd), others = applied.details["groups"]
    assert kvd == "kvd" and sorted([old, *others]) == ["m0", "m1", "m2"]
    assert applied.details["clients_cut"] == {"kvd": sorted(others)}
    cut = [f"etcd-client.kvd.{member}" for member in sorted(others)]
    kept = f"etcd-client.kvd.{old}"
    assert figures["clients_cut"] == cut and kept not in applied.details["links"] and len(applied.details["links"]) == 5
    for link in cut:  # kvd's requests to the other group went nowhere
        assert figures["client_links"][link]["bytes_discarded"] > 0, figures["client_links"]
    leader_link = figures["client_links"][kept]  # its requests to the old leader still crossed, none discarded
    assert leader_link["bytes_discarded"] == 0 and leader_link["counts"].get("bytes_upstream", 0) > 0, leader_link
    (removed,) = timeline.events(EventKind.NETWORK_FAULT_REMOVED)
    assert sorted(r["kind"] for r in removed.details["removed"]) == ["blackhole"] * 2 + ["partition"] * 3


def test_a_sigkilled_run_leaves_no_chaosproxy_after_cleanup(tmp_path: Path) -> None:
    (tmp_path / "holds.chaos.yaml").write_text(HOLDING)
    env = {**os.environ, "GOCHAOS_STATE_DIR": str(tmp_path / "state"), "TMPDIR": str(tmp_path),
           "PYTHONPATH": str(REPO)}
    with (tmp_path / "run.log").open("w") as out:
        run = subprocess.Popen([sys.executable, "-m", "chaos.cli", "run", "holds.chaos.yaml"], cwd=tmp_path, env=env,
                               stdout=out, stderr=subprocess.STDOUT)

    def proxies() -> list[dict[str, Any]]:
        try:
            doc = json.loads(next((tmp_path / "state").glob(f"{run.pid}.*.json")).read_text())
        except (StopIteration, OSError, ValueError):
            return []
        return [h for h in doc["holdings"] if h["kind"] == "process_group" and "(chaosproxy)" in h["what"]]

    try:
        assert wait_until(lambda: bool(proxies()), timeout_s=60,
                          abort=lambda: None if run.poll() is None else "the run exited"), \
            (tmp_path / "run.log").read_text()
        (held,) = proxies()
        pid = int(held["data"]["pid"])
        assert Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].endswith(b"chaosproxy")
    finally:
        run.kill()  # SIGKILL: no finally, no atexit
        run.wait(10)
    assert run.returncode == -signal.SIGKILL
    result = gochaos("cleanup", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{held['what']} (left by dead gochaos pid {run.pid}): " in result.stdout
    assert wait_until(lambda: not state.same_process(pid, held["data"]["start"]), timeout_s=5), \
        "chaosproxy outlived its run and the clean-up"


def test_an_upstream_named_in_the_command_is_reached_through_its_link(tmp_path: Path) -> None:
    """The target's command names an upstream's host:port; it starts with its link's address there, and its request
    crosses the link."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    upstream = f"127.0.0.1:{server.server_address[1]}"
    fetch = f"import urllib.request; urllib.request.urlopen('http://{upstream}/').read(); print('fetched {upstream}')"
    spec = TargetSpec(name="client", command=("sh", "-c", f'python3 -c "{fetch}" && exec python3 -m http.server '
                                                          "--bind 127.0.0.1 {port}"),
                      readiness=Readiness(http_path="/", timeout_s=10), restart=RestartPolicy.NEVER)
    try:
        with LocalPlatform(timeline=Timeline(), binaries=Binaries(), run_dir=tmp_path / "run") as platform:
            platform.route_links(LinkPlan.of([LinkRequest(LinkKind.UPSTREAM, "client", upstream=upstream)]))
            target = platform.start_target(spec)
            links = platform.network_links
            assert links is not None
            (link,) = links.routed(LinkKind.UPSTREAM, target="client")
            assert link.upstream == upstream and link.listen != upstream
            assert any(line.text == f"fetched {link.listen}" for line in target.logs()), target.logs()
            assert links.client_for([link.name]).stats(link.name).connections_accepted == 1
    finally:
        server.shutdown()
        server.server_close()


def test_a_delay_on_a_udp_upstream_is_measured_by_the_proxys_turnaround(tmp_path: Path) -> None:
    """The service's own protocol to its upstream: the added latency is what chaosproxy timed between each datagram
    from the service and the answer it delivered back."""
    echo = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    echo.bind(("127.0.0.1", 0))
    echo.settimeout(0.2)
    stop = threading.Event()

    def answer() -> None:
        for _ in range(1000):  # 200 s at most
            if stop.is_set():
                return
            try:
                data, sender = echo.recvfrom(64)
                echo.sendto(data, sender)
            except OSError:
                continue

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    (tmp_path / "pinger.py").write_text(PINGER)
    upstream = f"127.0.0.1:{echo.getsockname()[1]}"
    scenario = UPSTREAM_DELAY.format(script=tmp_path / "pinger.py", upstream=upstream)
    try:
        result = run_scenario(parse_scenario(scenario, str(tmp_path / "s.chaos.yaml")), base_dir=tmp_path)
    finally:
        stop.set()
        thread.join(2)
        echo.close()
    (fault,) = result.faults
    figures = fault.outcome.details
    assert fault.outcome.landed and figures["measured_by"] == "chaosproxy turnaround", fault.outcome.summary
    assert abs(figures["observed_added_ms"] - 30) <= 5, fault.outcome.summary
    assert figures["turnarounds_before"] >= 5 and figures["turnarounds_during"] >= 5, figures


def test_a_dns_load_over_udp_crosses_a_udp_load_link_and_loses_its_datagrams(tmp_path: Path) -> None:
    """The dns user over UDP against a real DNS service: its load link is UDP, and a loss on it drops that share of
    the queries, judged on the proxy's datagram counts and felt by the load as timeouts."""
    (tmp_path / "tiny_dns.py").write_text(TINY_DNS)
    timeline = Timeline()
    scenario = DNS_LOAD_LOSS.format(python=sys.executable, script=tmp_path / "tiny_dns.py")
    result = run_scenario(parse_scenario(scenario, str(tmp_path / "s.chaos.yaml")), base_dir=tmp_path,
                          timeline=timeline)
    (link,) = timeline.events(EventKind.NETWORK_LINK)
    assert link.source == "load.dns" and link.details["protocol"] == "udp", link
    (fault,) = result.faults
    figures = fault.outcome.details
    assert fault.outcome.landed and "datagrams dropped" in fault.outcome.summary, fault.outcome.summary
    assert 0.3 <= figures["observed_share"] <= 0.7 and figures["seen"] >= 40, figures
    (applied,) = timeline.events(EventKind.NETWORK_FAULT_APPLIED)
    (removed,) = timeline.events(EventKind.NETWORK_FAULT_REMOVED)
    before = timeline.window(applied.t_ns - 10**9, applied.t_ns)
    during = timeline.window(applied.t_ns, removed.t_ns)
    assert before.count >= 20 and before.error_rate < 0.05, before
    assert 0.25 <= during.error_rate <= 0.75, during  # the queries lost: timeouts


@pytest.mark.parametrize(("buggy", "status"), [(True, Status.FAIL), (False, Status.PASS)])
def test_the_leader_cut_off_scenario_fails_leaky_kvd_and_passes_the_fix(buggy: bool, status: Status) -> None:
    path = resolve("etcd-leader-cut-off")
    result = run_scenario(load_scenario(path), base_dir=path.parent, buggy=buggy, seed=1)
    table = "\n".join(f"{f.check}: {f.status.value}: {f.summary}" for f in result.verdict.findings)
    assert result.verdict.status is status, table
    checks = {f.check: f for f in result.verdict.findings}
    assert checks["fault:network#1"].status is Status.PASS, table
    if buggy:
        assert checks["recovery"].status is Status.FAIL and "never recovered" in checks["recovery"].summary, table
